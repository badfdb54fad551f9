package wacht

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Reads of many contexts at once, as in a Terraform refresh, are served from
// list pages: the list route returns 100 full contexts a request where GET
// returns one, and the read limit is 100 requests a minute.
//
// The design, and why:
//   - Terraform refreshes up to -parallelism resources at once, so reads come
//     in bursts. The first read of a burst waits a short window for company.
//     Fewer than minBatch reads (a plan of one or a few contexts) are sent as
//     plain GETs, exactly as before: no walk is paid for a single context.
//   - Otherwise a walk starts for each scope the reads name (an agent, or
//     the whole deployment for reads that name none) and streams: each read
//     is answered as soon as the page holding its context arrives, which
//     frees Terraform's slot for the next read, which the pages read so far
//     may already answer. A read whose page is not yet fetched waits for it,
//     however long the rate limit makes the walk: past the read burst a page
//     comes every 0.6 s, still a hundred contexts for the price of one GET.
//   - One walk serves the whole refresh of its scope: it is never dropped
//     while it runs, so it is never restarted from the first page.
//   - Every context a walk through the client yields answers reads, whatever
//     read it: a batch walk of another scope, or the data source's, list
//     resource's or action's walk of the same run (the bulk-removal example
//     lists an agent's contexts, then imports them: the imports' reads are
//     answered by the listing). What was seen answers reads until no read
//     has been in flight, nor a page come, for `idle` while no walk runs (the
//     refresh is over), and at once no more after any write through the
//     client.
//   - A context missing from a walk is never reported gone on the walk's
//     word: pages shift while contexts change, so the read falls back to a
//     GET, whose 404 alone removes it. A walk that fails, or stops because
//     its pages answer too few reads to be cheaper than GETs, hands its
//     waiting reads to GETs too, and stays done for the rest of the refresh:
//     its scope is not walked again.
type readBatcher struct {
	client   *Client
	window   time.Duration
	minBatch int
	idle     time.Duration

	mu      sync.Mutex
	pending []*batchedRead               // reads waiting in the open window
	walks   map[string]*sharedWalk       // the refresh's, by scope
	running map[*sharedWalk]bool         // under way, dropped by a write or not
	seen    map[string]*ExecutionContext // by every walk of this refresh
	reading int                          // reads in flight, their GETs included
	lastUse time.Time                    // when the last read ended or page came
}

// batchedRead is one waiting read; answer receives its context, or nil to
// say "send your own GET".
type batchedRead struct {
	id, agentID string
	answer      chan *ExecutionContext
}

// sharedWalk is a batch walk of one scope ("" is the whole deployment).
type sharedWalk struct {
	scope   string
	waiting map[string][]*batchedRead
	hits    int // reads of its scope answered, by its pages or what was seen
	done    bool
}

func newReadBatcher(c *Client) *readBatcher {
	return &readBatcher{
		client:   c,
		window:   15 * time.Millisecond,
		minBatch: 5,
		idle:     2 * time.Second,
		walks:    map[string]*sharedWalk{},
		running:  map[*sharedWalk]bool{},
		seen:     map[string]*ExecutionContext{},
	}
}

// ReadExecutionContext reads one context as part of a refresh of many: it
// may be answered from a list walk shared with the reads around it. agentID
// is the owner the caller believes the context has ("" if none or unknown);
// it only scopes the walk. The result is what GetExecutionContext gives:
// ErrNotFound only after a GET said so.
func (c *Client) ReadExecutionContext(ctx context.Context, id, agentID string) (*ExecutionContext, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if c.reads == nil {
		return c.GetExecutionContext(ctx, id)
	}
	if agentID != "" && ValidateID(agentID) != nil {
		agentID = ""
	}
	read := &batchedRead{id: id, agentID: agentID, answer: make(chan *ExecutionContext, 1)}
	defer c.reads.end()
	if ec := c.reads.join(ctx, read); ec != nil {
		return ec, nil
	}
	select {
	case ec := <-read.answer:
		if ec != nil {
			return ec, nil
		}
	case <-ctx.Done():
		c.reads.leave(read)
		return nil, ctx.Err()
	}
	return c.GetExecutionContext(ctx, id)
}

// join answers read at once from what the refresh's walks have seen, or
// queues it on a walk of its scope in progress or in the open window.
func (b *readBatcher) join(ctx context.Context, read *batchedRead) *ExecutionContext {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading++
	if b.reading == 1 && b.client.clock.Now().Sub(b.lastUse) > b.idle && len(b.running) == 0 {
		// The refresh is over. One refresh may read several scopes, one
		// waiting while another's pages come, and GET what its walks did not
		// see, at the rate limit: it lasts while reads of any scope are in
		// flight or keep coming.
		clear(b.walks)
		clear(b.seen)
	}
	var walks []*sharedWalk // those whose scope holds the context
	for _, scope := range []string{"", read.agentID} {
		if w := b.walks[scope]; w != nil && !slices.Contains(walks, w) {
			walks = append(walks, w)
		}
	}
	if ec, ok := b.seen[read.id]; ok {
		for _, w := range walks {
			w.hits++
		}
		copied := *ec
		return &copied
	}
	for _, w := range walks {
		if !w.done {
			w.waiting[read.id] = append(w.waiting[read.id], read)
			return nil
		}
	}
	if len(walks) > 0 {
		read.answer <- nil // this refresh's walks are over and never saw it: GET
		return nil
	}
	b.pending = append(b.pending, read)
	if len(b.pending) == 1 {
		go b.closeWindow(b.client.detach(ctx))
	}
	return nil
}

// end marks the end of a read, answered or failed.
func (b *readBatcher) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading--
	b.lastUse = b.client.clock.Now()
}

// leave takes back a read whose caller stopped waiting, so that it no
// longer counts as one the walk is answering.
func (b *readBatcher) leave(read *batchedRead) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for w := range b.running {
		reads := w.waiting[read.id]
		if i := slices.Index(reads, read); i >= 0 {
			if reads = slices.Delete(reads, i, i+1); len(reads) == 0 {
				delete(w.waiting, read.id)
			} else {
				w.waiting[read.id] = reads
			}
		}
	}
}

// saw keeps the contexts of a page any walk read, to answer reads, and
// answers the reads waiting for them on the batch walks under way.
func (b *readBatcher) saw(page []ExecutionContext) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastUse = b.client.clock.Now()
	for i := range page {
		ec := &page[i]
		b.seen[ec.ID] = ec
		for w := range b.running {
			for _, r := range w.waiting[ec.ID] {
				copied := *ec
				r.answer <- &copied
				w.hits++
			}
			delete(w.waiting, ec.ID)
		}
	}
}

// closeWindow waits out the window, then sends the reads gathered in it to
// GETs, or to new walks when they are enough to pay for one.
func (b *readBatcher) closeWindow(ctx context.Context) {
	_ = b.client.clock.SleepUntil(ctx, b.client.clock.Now().Add(b.window))
	b.mu.Lock()
	reads := b.pending
	b.pending = nil
	if len(reads) < b.minBatch {
		b.mu.Unlock()
		for _, r := range reads {
			r.answer <- nil
		}
		return
	}
	// One walk per agent the reads name, and one of the whole deployment
	// for those that name none: each reads only what the state holds.
	byScope := map[string][]*batchedRead{}
	for _, r := range reads {
		byScope[r.agentID] = append(byScope[r.agentID], r)
	}
	for scope, group := range byScope {
		w := &sharedWalk{scope: scope, waiting: map[string][]*batchedRead{}}
		for _, r := range group {
			w.waiting[r.id] = append(w.waiting[r.id], r)
		}
		b.walks[scope] = w
		b.running[w] = true
		go b.walk(ctx, w)
	}
	b.mu.Unlock()
}

// walk reads the scope's pages, whose contexts saw hands to the reads
// waiting for them. It is judged over the whole refresh: it gives up once its
// pages have cost more requests than the reads of its scope answered, from
// its pages or from what was seen, and being answered (those waiting on it),
// plus two. A big deployment with few managed contexts is then no slower to
// refresh than with GETs, while a refresh of many, whose reads keep coming
// as the pages answer them, keeps its walk to the last page.
func (b *readBatcher) walk(ctx context.Context, w *sharedWalk) {
	walked := 0
	for _, err := range b.client.ExecutionContexts(ctx, WalkInput{AgentID: w.scope}) {
		if err != nil {
			break
		}
		walked++
		b.mu.Lock()
		wasteful := walked%DefaultPageSize == 0 && walked/DefaultPageSize > w.hits+len(w.waiting)+2
		b.mu.Unlock()
		if wasteful {
			break
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w.done = true
	delete(b.running, w)
	b.lastUse = b.client.clock.Now()
	for _, reads := range w.waiting {
		for _, r := range reads {
			r.answer <- nil
		}
	}
	w.waiting = nil
}

// forget drops every walk and what they saw: a write through this client
// may have changed any context. Reads already waiting on a walk are still
// answered by it; they began before the write.
func (b *readBatcher) forget() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.walks)
	clear(b.seen)
}
