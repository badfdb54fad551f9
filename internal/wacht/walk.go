package wacht

import (
	"context"
	"errors"
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

// ExecutionContexts walks every page of the list and yields each context
// exactly once, in the list's order, even when the list shifts under it.
//
// The list is ordered by last_activity_at, newest first, and has only offset
// paging, so other clients move items across offsets mid-walk: a delete
// before the walker's offset shifts unseen items back past it, and activity
// moves an unseen item to the front. Three things keep the walk whole:
//   - each page asks for one item more than it advances, so its first item
//     should be the previous page's last (the anchor). A page that neither
//     holds the anchor nor starts before it may have skipped items: the
//     walker steps back a page and reads again;
//   - ids already yielded are not yielded again;
//   - a walk of more than one page ends by reading from the front again for
//     items whose activity is newer than the newest at the start, which is
//     where anything that moved during the walk went.
//
// A static list of N contexts costs ⌈N/PageSize⌉ requests, plus one for the
// final read when there is more than one page.
func (c *Client) ExecutionContexts(ctx context.Context, in WalkInput) iter.Seq2[*ExecutionContext, error] {
	return func(yield func(*ExecutionContext, error) bool) {
		w := walker{client: c, in: in, seen: map[string]bool{}, yield: yield}
		if w.in.PageSize <= 0 {
			w.in.PageSize = DefaultPageSize
		}
		if err := w.run(ctx); err != nil && !w.stopped {
			yield(nil, err)
		}
	}
}

type walker struct {
	client  *Client
	in      WalkInput
	seen    map[string]bool
	yield   func(*ExecutionContext, error) bool
	limit   int  // the page size asked for
	stopped bool // the consumer broke out of the loop
}

// page reads one page of limit items. The contract names no largest limit:
// should the server refuse PageSize+1, the walk goes on with PageSize, its
// pages still overlapping by one item (the offset advances by len-1).
func (w *walker) page(ctx context.Context, offset int) (*ExecutionContextPage, error) {
	if w.limit == 0 {
		w.limit = w.in.PageSize + 1
	}
	for {
		page, err := w.client.ListExecutionContexts(ctx, ListExecutionContextsInput{
			AgentID: w.in.AgentID, Status: w.in.Status, ContextGroup: w.in.ContextGroup,
			Limit: w.limit, Offset: offset,
		})
		var apiErr *APIError
		if w.limit > w.in.PageSize && errors.As(err, &apiErr) &&
			(apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusUnprocessableEntity) {
			w.limit = w.in.PageSize
			continue
		}
		if err == nil {
			w.client.reads.saw(page.Data)
		}
		return page, err
	}
}

// emit yields the contexts of page not yielded before, only those active
// after newerThan unless it is zero; false means the consumer stopped.
func (w *walker) emit(page []ExecutionContext, newerThan time.Time) bool {
	for i := range page {
		ec := &page[i]
		if w.seen[ec.ID] || (!newerThan.IsZero() && !ec.LastActivityAt.After(newerThan)) || !w.in.matches(ec) {
			continue
		}
		w.seen[ec.ID] = true
		if !w.yield(ec, nil) {
			w.stopped = true
			return false
		}
	}
	return true
}

func (w *walker) run(ctx context.Context) error {
	var (
		offset int
		anchor *ExecutionContext
		newest time.Time
		pages  int
	)
	for {
		page, err := w.page(ctx, offset)
		if err != nil {
			return err
		}
		pages++
		if anchor != nil && offset > 0 && !connects(page.Data, anchor) {
			offset = max(0, offset-w.in.PageSize)
			continue
		}
		if pages == 1 && len(page.Data) > 0 {
			newest = page.Data[0].LastActivityAt
		}
		if !w.emit(page.Data, time.Time{}) {
			return nil
		}
		if !page.HasMore || len(page.Data) == 0 {
			break
		}
		last := page.Data[len(page.Data)-1]
		anchor = &last
		// The next page starts at the anchor; never stand still.
		offset += max(len(page.Data)-1, 1)
	}
	if pages == 1 {
		return nil
	}
	return w.catchUp(ctx, newest)
}

// connects reports whether a page leaves no gap after the anchor: it holds
// the anchor itself, or starts with an item newer than the anchor, that is,
// before the anchor's place. A page that starts with an older item, or one
// as old but not the anchor (contexts often share a timestamp), may have
// skipped what the list shifted past it.
func connects(page []ExecutionContext, anchor *ExecutionContext) bool {
	if len(page) == 0 {
		return false
	}
	if page[0].LastActivityAt.After(anchor.LastActivityAt) {
		return true
	}
	for _, ec := range page {
		if ec.ID == anchor.ID {
			return true
		}
	}
	return false
}

// catchUp reads from the front for contexts active since the walk began.
func (w *walker) catchUp(ctx context.Context, newest time.Time) error {
	for offset := 0; ; {
		page, err := w.page(ctx, offset)
		if err != nil {
			return err
		}
		if !w.emit(page.Data, newest) {
			return nil
		}
		n := len(page.Data)
		if !page.HasMore || n == 0 || !page.Data[n-1].LastActivityAt.After(newest) {
			return nil
		}
		offset += n
	}
}
