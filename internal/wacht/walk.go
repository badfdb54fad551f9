package wacht

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"
)

// DefaultPageSize is how many new contexts each page of a walk brings.
const DefaultPageSize = 100

// WalkInput scopes a walk over every matching context. The walk checks each
// listed context against the filters itself, so a server that ignores one
// never widens what the caller gets.
type WalkInput struct {
	AgentID string
	Status  Status
	// ContextGroup, when not nil, matches the group exactly: "" is the
	// empty group, not "any group".
	ContextGroup *string
	// PageSize defaults to DefaultPageSize.
	PageSize int
}

// matches reports whether ec passes every filter of in.
func (in WalkInput) matches(ec *ExecutionContext) bool {
	return (in.AgentID == "" || equalPtr(ec.AgentID, &in.AgentID)) &&
		(in.Status == "" || ec.Status == in.Status) &&
		(in.ContextGroup == nil || equalPtr(ec.ContextGroup, in.ContextGroup))
}

// ExecutionContexts walks every page of the contexts in scope and yields each
// exactly once, in the list's order, even when the list shifts under it (see
// walk). A static list of N contexts costs ⌈N/PageSize⌉ requests, plus one for
// the final read when there is more than one page.
func (c *Client) ExecutionContexts(ctx context.Context, in WalkInput) iter.Seq2[*ExecutionContext, error] {
	read := func(ctx context.Context, limit, offset int) ([]ExecutionContext, bool, error) {
		page, err := c.ListExecutionContexts(ctx, ListExecutionContextsInput{
			AgentID: in.AgentID, Status: in.Status, ContextGroup: in.ContextGroup,
			Limit: limit, Offset: offset,
		})
		if err != nil {
			return nil, false, err
		}
		c.reads.saw(page.Data)
		return page.Data, page.HasMore, nil
	}
	return walk(ctx, in.PageSize, read, in.matches)
}

// listed is what a walk needs of a listed item: its id, and the time the
// list is ordered by, newest first (zero for a list the contract gives no
// order).
type listed interface {
	listID() string
	listOrder() time.Time
}

func (ec *ExecutionContext) listID() string       { return ec.ID }
func (ec *ExecutionContext) listOrder() time.Time { return ec.LastActivityAt }

// pageReader reads the page of at most limit items at offset.
type pageReader[T any] func(ctx context.Context, limit, offset int) (items []T, hasMore bool, err error)

// walk reads every page of an offset-paged list and yields each item that
// keep accepts exactly once, in the list's order, even when the list shifts
// under it.
//
// Offset pages shift when other clients change the list mid-walk: a delete
// before the walker's offset shifts unseen items back past it, and an item
// that moves to the front (new activity, a new item) pushes seen ones on.
// Three things keep the walk whole:
//   - each page asks for one item more than it advances, so its first item
//     should be the previous page's last (the anchor). A page that neither
//     holds the anchor nor starts before it may have skipped items: the
//     walker steps back a page and reads again;
//   - ids already yielded are not yielded again;
//   - on an ordered list, a walk of more than one page ends by reading from
//     the front again for items ordered after the newest at the start,
//     which is where anything that moved during the walk went.
func walk[T any, P interface {
	*T
	listed
}](ctx context.Context, pageSize int, read pageReader[T], keep func(P) bool,
) iter.Seq2[P, error] {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	return func(yield func(P, error) bool) {
		w := walker[T, P]{read: read, keep: keep, pageSize: pageSize, seen: map[string]bool{}, onPages: map[string]bool{}, furthest: -1, yield: yield}
		if err := w.run(ctx); err != nil && !w.stopped {
			yield(nil, err)
		}
	}
}

type walker[T any, P interface {
	*T
	listed
}] struct {
	read     pageReader[T]
	keep     func(P) bool
	pageSize int
	seen     map[string]bool // ids yielded
	onPages  map[string]bool // ids on any page read
	yield    func(P, error) bool
	limit    int  // the page size asked for
	stale    int  // pages in a row that brought no unseen item
	furthest int  // the furthest offset emitted from, -1 before the first
	stopped  bool // the consumer broke out of the loop
}

// stalePages is how many pages in a row may bring nothing unseen. One such
// page happens when as many items as a page holds are added at the front
// while the walk reads a page; several in a row mean a server not paging.
const stalePages = 5

// page reads one page of limit items. The contract names no largest limit:
// should the server refuse pageSize+1, the walk goes on with pageSize, its
// pages still overlapping by one item (the offset advances by len-1).
func (w *walker[T, P]) page(ctx context.Context, offset int) ([]T, bool, error) {
	if w.limit == 0 {
		w.limit = w.pageSize + 1
	}
	for {
		items, hasMore, err := w.read(ctx, w.limit, offset)
		var apiErr *APIError
		if w.limit > w.pageSize && errors.As(err, &apiErr) &&
			(apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusUnprocessableEntity) {
			w.limit = w.pageSize
			continue
		}
		return items, hasMore, err
	}
}

// emit yields the items of page not yielded before, only those ordered after
// newerThan unless it is zero; false means the consumer stopped. A page
// that brings no unseen item, stalePages times in a row, is an error: the
// server is not paging (it ignores offset), and the walk would never end.
func (w *walker[T, P]) emit(page []T, newerThan time.Time, offset int) (bool, error) {
	fresh := false
	for i := range page {
		item := P(&page[i])
		if !w.onPages[item.listID()] {
			w.onPages[item.listID()] = true
			fresh = true
		}
		if w.seen[item.listID()] || (!newerThan.IsZero() && !item.listOrder().After(newerThan)) || !w.keep(item) {
			continue
		}
		w.seen[item.listID()] = true
		if !w.yield(item, nil) {
			w.stopped = true
			return false, nil
		}
	}
	switch {
	case offset <= w.furthest: // read again after a step back: no sign either way
	case fresh || len(page) == 0:
		w.furthest, w.stale = offset, 0
	default:
		w.furthest, w.stale = offset, w.stale+1
	}
	if w.stale >= stalePages {
		return false, fmt.Errorf("listing at offset %d: %d pages in a row brought nothing new; the server seems to ignore offset, so the list cannot be walked", offset, stalePages)
	}
	return true, nil
}

// retreat is the step backs from one offset: how many, since the walk had
// listed how many ids.
type retreat struct{ listed, times int }

func (w *walker[T, P]) run(ctx context.Context) error {
	var (
		offset int
		anchor P
		newest time.Time
		pages  int
		// retreats counts the step backs from each offset since the walk
		// last listed anything new.
		retreats = map[int]retreat{}
	)
	for {
		items, hasMore, err := w.page(ctx, offset)
		if err != nil {
			return err
		}
		pages++
		if anchor != nil && offset > 0 && !connects(items, anchor) {
			// A page that fails to line up at one offset again and again,
			// with nothing new listed in between, is a server whose offset
			// means something else (a page number, say): stepping back
			// would go on for ever.
			r := retreats[offset]
			if len(w.onPages) > r.listed {
				r = retreat{listed: len(w.onPages)}
			}
			r.times++
			retreats[offset] = r
			if r.times > stalePages {
				return fmt.Errorf("listing at offset %d: the page never lines up with the one before it, %d steps back listed nothing new; the server does not seem to page by offset, so the list cannot be walked", offset, stalePages)
			}
			offset = max(0, offset-w.pageSize)
			continue
		}
		if pages == 1 && len(items) > 0 {
			newest = P(&items[0]).listOrder()
		}
		if ok, err := w.emit(items, time.Time{}, offset); !ok {
			return err
		}
		if !hasMore || len(items) == 0 {
			break
		}
		anchor = P(&items[len(items)-1])
		// The next page starts at the anchor, or, when items before it
		// share its time, at the first of them: the order of a tie is the
		// server's to change from one request to the next, so the next
		// page reads the whole tie again. Never stand still.
		step := len(items) - 1
		if g := tieStart[T, P](items); g > 0 {
			step = g
		}
		offset += max(step, 1)
	}
	if pages == 1 || newest.IsZero() {
		return nil
	}
	return w.catchUp(ctx, newest)
}

// tieStart is the index of the first item of page that shares the last
// one's time, or 0 when there is none before it, or the whole page shares it
// (a tie longer than a page, which no offset can walk for sure), or the list
// has no order.
func tieStart[T any, P interface {
	*T
	listed
}](page []T) int {
	last := P(&page[len(page)-1]).listOrder()
	for i := range page {
		if P(&page[i]).listOrder().Equal(last) {
			if i == 0 || last.IsZero() {
				return 0
			}
			return i
		}
	}
	return 0
}

// connects reports whether a page leaves no gap after the anchor: it holds
// the anchor itself, or starts with an item newer than the anchor, that is,
// before the anchor's place. A page that starts with an older item, or one
// as old but not the anchor (contexts often share a timestamp), may have
// skipped what the list shifted past it.
func connects[T any, P interface {
	*T
	listed
}](page []T, anchor P) bool {
	if len(page) == 0 {
		return false
	}
	if P(&page[0]).listOrder().After(anchor.listOrder()) {
		return true
	}
	for i := range page {
		if P(&page[i]).listID() == anchor.listID() {
			return true
		}
	}
	return false
}

// catchUp reads from the front for items ordered after newest, the newest
// when the walk began, in passes until one brings nothing new: an item that
// moved to the front once may move there again, from ahead of the pass to
// behind it.
func (w *walker[T, P]) catchUp(ctx context.Context, newest time.Time) error {
	for {
		yielded := len(w.seen)
		if err := w.catchUpPass(ctx, newest); err != nil || w.stopped || len(w.seen) == yielded {
			return err
		}
	}
}

func (w *walker[T, P]) catchUpPass(ctx context.Context, newest time.Time) error {
	// A pass reads again what the walk has listed, moved to the front:
	// only a page it has read itself is stale.
	w.onPages, w.stale, w.furthest = map[string]bool{}, 0, -1
	for offset := 0; ; {
		items, hasMore, err := w.page(ctx, offset)
		if err != nil {
			return err
		}
		if ok, err := w.emit(items, newest, offset); !ok {
			return err
		}
		n := len(items)
		if !hasMore || n == 0 || !P(&items[n-1]).listOrder().After(newest) {
			return nil
		}
		offset += n
	}
}
