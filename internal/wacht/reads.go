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
	joined  int // reads of its scope that came while it ran
	done    bool

	// A probe: one waiting read sent to its GET, to learn whether the
	// refresh has more reads than Terraform's slots, which wait on the walk.
	probe       *batchedRead
	probeJoined int       // joined when it was sent
	probeEnded  time.Time // when its read ended; zero before
	judgeFrom   int       // pages before which the walk is not judged again
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
	defer c.reads.end(read)
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
	for _, w := range walks {
		w.joined++
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
func (b *readBatcher) end(read *batchedRead) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading--
	b.lastUse = b.client.clock.Now()
	for w := range b.running {
		if w.probe == read {
			w.probeEnded = b.lastUse
		}
	}
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
// waiting for them, until the last page or until wasteful says its pages do
// not pay.
func (b *readBatcher) walk(ctx context.Context, w *sharedWalk) {
	walked := 0
	for _, err := range b.client.ExecutionContexts(ctx, WalkInput{AgentID: w.scope}) {
		if err != nil {
			break
		}
		walked++
		if walked%DefaultPageSize != 0 {
			continue
		}
		b.mu.Lock()
		wasteful := b.wasteful(w, walked/DefaultPageSize)
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

// wasteful judges a walk after its pages-th page. Callers hold mu.
//
// Terraform waits for each read before it sends the next of that slot, so
// while a walk's pages are still to come, the reads waiting on it are at
// most -parallelism whatever the size of the refresh: a refresh of 10,000
// contexts and one of ten in a big deployment look alike. So when its pages
// outnumber the reads answered and waiting (plus two), the walk sends one
// waiting read to its GET: if the refresh brings another read once that one
// is answered, it is bigger than its slots, and the walk goes on, judged
// again when its pages have grown fourfold; if none comes, the refresh has
// no more reads for it, and it stops. A refresh of a few contexts in a big
// scope then costs their GETs plus the pages of the read burst, one that
// pays a probe GET or two (at 13 and 52 pages). A refresh of more contexts than its slots in a
// scope of over a hundred times as many is the case this cannot tell from a
// big one: batch_reads = false is for it.
func (b *readBatcher) wasteful(w *sharedWalk, pages int) bool {
	if pages <= w.hits+len(w.waiting)+2 || pages < w.judgeFrom {
		return false
	}
	now := b.client.clock.Now()
	switch {
	case w.probe == nil:
		for id, reads := range w.waiting {
			w.probe, w.probeJoined, w.probeEnded = reads[0], w.joined, time.Time{}
			if w.waiting[id] = reads[1:]; len(reads) == 1 {
				delete(w.waiting, id)
			}
			w.probe.answer <- nil
			return false
		}
		return true // nobody waits: nothing left to answer
	case w.probeEnded.IsZero() || now.Sub(w.probeEnded) < b.idle/2:
		return false // give Terraform time to send the slot's next read
	case w.joined > w.probeJoined:
		w.probe, w.judgeFrom = nil, 4*pages
		return false
	}
	return true
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
