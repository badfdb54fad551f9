package wacht

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// Tests of a batch walk's life over a whole refresh, on a clock that moves
// only when the refresh can go no further without it: when every read in
// flight waits on the batcher (in the window or on a walk's page) or on the
// clock itself. A walk's pages then come only once the refresh has caught up
// with them, however fast the refresh is, and each page past the read
// burst costs its minutes on the clock: the walk is slower than the refresh.

// drivenClock is a Clock whose sleepers wake only when advance is called.
type drivenClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
}

type sleeper struct {
	until time.Time
	read  bool // the sleep of a read's own request, not of a walk
	wake  chan struct{}
}

// readKey marks the context of a read, as against the walk's.
type readKey struct{}

func (c *drivenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *drivenClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if !t.After(c.now) {
		c.mu.Unlock()
		return ctx.Err()
	}
	s := &sleeper{until: t, read: ctx.Value(readKey{}) != nil, wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.sleepers = slices.DeleteFunc(c.sleepers, func(o *sleeper) bool { return o == s })
		c.mu.Unlock()
		return ctx.Err()
	}
}

// readsAsleep counts the sleeping reads; someone reports whether anyone sleeps.
func (c *drivenClock) readsAsleep() (reads int, someone bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sleepers {
		if s.read {
			reads++
		}
	}
	return reads, len(c.sleepers) > 0
}

// advance moves the time to the earliest wake-up and wakes who is due.
func (c *drivenClock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sleepers) == 0 {
		return
	}
	c.now = slices.MinFunc(c.sleepers, func(a, b *sleeper) int { return a.until.Compare(b.until) }).until
	c.sleepers = slices.DeleteFunc(c.sleepers, func(s *sleeper) bool {
		if s.until.After(c.now) {
			return false
		}
		close(s.wake)
		return true
	})
}

// parked counts the reads waiting on the batcher, in the window or on walks.
func (b *readBatcher) parked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.pending)
	for w := range b.running {
		for _, reads := range w.waiting {
			n += len(reads)
		}
	}
	return n
}

// walking reports whether a walk is still running.
func (b *readBatcher) walking() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running) > 0
}

// listRequest is one page request the server saw: its agent_id and offset.
type listRequest struct{ agent, offset string }

// rig is a client of the local server at a read limit, on a drivenClock.
type rig struct {
	t      testing.TB
	srv    *localserver.Server
	client *Client
	clock  *drivenClock

	mu    sync.Mutex
	lists []listRequest
	gets  int
	// beforeList runs before the n-th list request (1-based) is served.
	beforeList func(n int)
}

// slowReads is a read limit of 10 a minute, burst 2: a page every 6 s past
// the first.
var slowReads = Limits{Read: Rate{PerMinute: 10, Burst: 2}}

func newRig(t testing.TB, limits Limits) *rig {
	t.Helper()
	srv, err := localserver.New(localserver.Options{DisableLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, clock: &drivenClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			r.mu.Lock()
			if req.URL.Path == localserver.ContextsRoute {
				r.lists = append(r.lists, listRequest{req.URL.Query().Get("agent_id"), req.URL.Query().Get("offset")})
				if hook, n := r.beforeList, len(r.lists); hook != nil {
					r.mu.Unlock()
					hook(n)
					r.mu.Lock()
				}
			} else {
				r.gets++
			}
			r.mu.Unlock()
		}
		srv.ServeHTTP(w, req)
	}))
	t.Cleanup(front.Close)
	r.client, err = New(Config{
		BaseURL: front.URL, APIKey: srv.APIKey(), Limits: &limits, Clock: r.clock,
		// The walk's requests are no read's: their sleeps do not count as one.
		Detach: func(context.Context) context.Context { return context.Background() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refresh reads ids in a random order, printed, with parallelism workers,
// each read naming the agent given by agentOf, and moves the clock whenever
// every read in flight waits. It returns once every walk is over too.
func (r *rig) refresh(ids []string, agentOf func(id string) string, parallelism int) (map[string]*ExecutionContext, map[string]error) {
	seed := rand.Uint64()
	r.t.Logf("read order seed %d", seed)
	order := slices.Clone(ids)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	var finished atomic.Int64
	var mu sync.Mutex
	got, errs := map[string]*ExecutionContext{}, map[string]error{}
	next := make(chan string, len(order))
	for _, id := range order {
		next <- id
	}
	close(next)
	// The refresh can go no further when as many reads wait as can be in
	// flight: every worker's, or every one left.
	blocked := func() bool {
		asleep, anyone := r.clock.readsAsleep()
		return anyone && r.client.reads.parked()+asleep == min(parallelism, len(order)-int(finished.Load()))
	}
	// The driver. Should reads wait where the batcher does not see them (on
	// a walk it dropped), it would never find the refresh blocked: after 5 s
	// of real time with no read ended it moves the clock anyway, from then
	// on whenever anyone sleeps, and the test fails.
	stop := make(chan struct{})
	driven := make(chan struct{})
	forced := 0
	go func() {
		defer close(driven)
		ended, since := finished.Load(), time.Now()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := finished.Load(); n != ended {
				ended, since = n, time.Now()
			}
			if blocked() {
				r.clock.advance()
			} else if _, anyone := r.clock.readsAsleep(); anyone && (forced > 0 || time.Since(since) > 5*time.Second) {
				forced++ // and from now on, to end the failed test soon
				r.clock.advance()
			}
			runtime.Gosched()
		}
	}()
	var wg sync.WaitGroup
	ctx := context.WithValue(context.Background(), readKey{}, true)
	for range parallelism {
		wg.Go(func() {
			for id := range next {
				ec, err := r.client.ReadExecutionContext(ctx, id, agentOf(id))
				mu.Lock()
				if err != nil {
					errs[id] = err
				} else {
					got[id] = ec
				}
				mu.Unlock()
				finished.Add(1)
			}
		})
	}
	wg.Wait()
	for r.client.reads.walking() {
		runtime.Gosched()
	}
	close(stop)
	<-driven
	if forced > 0 {
		r.t.Errorf("the clock was moved %d times while reads waited where the batcher did not hold them", forced)
	}
	return got, errs
}

// requests returns the page requests and GETs served so far.
func (r *rig) requests() ([]listRequest, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lists), r.gets
}

// checkReads asserts that every id not in gone was read as the server has it
// now, and that every one in gone was read (before it went) or is ErrNotFound.
func (r *rig) checkReads(ids []string, got map[string]*ExecutionContext, errs map[string]error, gone map[string]bool) {
	r.t.Helper()
	for _, id := range ids {
		ec, err := got[id], errs[id]
		switch {
		case gone[id] && (ec != nil || errors.Is(err, ErrNotFound)):
		case err != nil:
			r.t.Errorf("context %s: %v", id, err)
		case ec == nil || ec.ID != id:
			r.t.Errorf("context %s read as %+v", id, ec)
		}
	}
}

// frontPages counts the requests for the first page of each scope: a walk's
// first and, after more than one page, its final read from the front.
func frontPages(lists []listRequest) map[string]int {
	n := map[string]int{}
	for _, l := range lists {
		if l.offset == "" {
			n[l.agent]++
		}
	}
	return n
}

// addContexts adds n contexts a millisecond apart: ties in the list's order
// (contexts added in one microsecond) cost a walk a page more, which would
// blur the counts of requests these tests assert.
func addContexts(srv *localserver.Server, n int, agentID *string) []string {
	ids := make([]string, n)
	start := time.Now().Add(-time.Hour)
	for i := range ids {
		at := start.Add(time.Duration(i) * time.Millisecond)
		ids[i] = srv.AddContext(localserver.ExecutionContext{Title: "ctx", AgentID: agentID, LastActivityAt: at}).ID
	}
	return ids
}

func noAgent(string) string { return "" }

// A walk of 2,000 contexts at 10 requests a minute takes two minutes, far
// longer than the reads between its pages: it serves the whole refresh, and
// every read whose page is not yet fetched waits for it.
func TestWalkSlowerThanTheRefreshServesItWhole(t *testing.T) {
	r := newRig(t, slowReads)
	ids := addContexts(r.srv, 2000, nil)
	start := r.clock.Now()
	got, errs := r.refresh(ids, noAgent, 10)
	r.checkReads(ids, got, errs, nil)
	lists, gets := r.requests()
	took := r.clock.Now().Sub(start)
	t.Logf("%d page requests, %d GETs, %s on the clock", len(lists), gets, took)
	if want := 2000/DefaultPageSize + 1; len(lists) != want || gets != 0 {
		t.Errorf("%d page requests and %d GETs, want %d pages (one walk and its final read) and no GET", len(lists), gets, want)
	}
	if took < time.Minute {
		t.Errorf("the walk took %s on the clock: not slower than the refresh", took)
	}
	if front := frontPages(lists)[""]; front != 2 {
		t.Errorf("the first page was read %d times, want 2 (the walk's start and its final read)", front)
	}
}

// Contexts deleted and moved to the front while the walk is under way shift
// its pages: it still serves the refresh alone, confirming with a GET only
// what it did not see.
func TestWalkWhosePagesShiftServesTheRefresh(t *testing.T) {
	r := newRig(t, slowReads)
	agent := r.srv.AddAgent("a", "").ID
	other := r.srv.AddAgent("b", "").ID
	ids := addContexts(r.srv, 1000, &agent)
	addContexts(r.srv, 500, &other)
	rng := rand.New(rand.NewPCG(1, 2))
	gone, moved := map[string]bool{}, 0
	r.beforeList = func(n int) {
		if n%2 == 0 || n > 7 {
			return
		}
		for i := range 10 {
			id := ids[rng.IntN(len(ids))]
			if gone[id] {
				continue
			}
			if i%2 == 0 {
				gone[id] = r.srv.RemoveContext(id)
			} else if err := r.srv.SetStatus(id, "completed"); err != nil { // moves it to the front
				t.Error(err)
			} else {
				moved++
			}
		}
	}
	got, errs := r.refresh(ids, func(string) string { return agent }, 10)
	r.checkReads(ids, got, errs, gone)
	lists, gets := r.requests()
	t.Logf("%d deleted, %d moved to the front; %d page requests, %d GETs", len(gone), moved, len(lists), gets)
	if len(gone) < 10 || moved < 10 {
		t.Fatalf("%d deleted and %d moved: the pages hardly shifted", len(gone), moved)
	}
	if gets > len(gone) {
		t.Errorf("%d GETs, want at most one for each of the %d contexts deleted during the walk", gets, len(gone))
	}
	for _, l := range lists {
		if l.agent != agent {
			t.Errorf("a page of scope %q was read; only agent %s's contexts are in the state", l.agent, agent)
		}
	}
	// The walk, its catch-up, and the catch-up's pass that finds nothing
	// more: a walk started again would read it more.
	if front := frontPages(lists)[agent]; front > 3 {
		t.Errorf("the first page was read %d times: the walk was started again", front)
	}
}

// Reads of two agents' contexts, mixed in one refresh, are served by one walk
// of each agent: neither the other agents' contexts nor GETs are read.
func TestRefreshOfTwoAgentsWalksEachOnce(t *testing.T) {
	r := newRig(t, slowReads)
	a, b, c := r.srv.AddAgent("a", "").ID, r.srv.AddAgent("b", "").ID, r.srv.AddAgent("c", "").ID
	owner := map[string]string{}
	var ids []string
	for agent, n := range map[string]int{a: 800, b: 650} {
		for _, id := range addContexts(r.srv, n, &agent) {
			owner[id] = agent
			ids = append(ids, id)
		}
	}
	addContexts(r.srv, 1500, &c)
	got, errs := r.refresh(ids, func(id string) string { return owner[id] }, 10)
	r.checkReads(ids, got, errs, nil)
	lists, gets := r.requests()
	t.Logf("%d page requests, %d GETs", len(lists), gets)
	if want := (800/100 + 1) + (650/100 + 1 + 1); len(lists) != want || gets != 0 {
		t.Errorf("%d page requests and %d GETs, want %d (a walk of each agent) and no GET", len(lists), gets, want)
	}
	if front := frontPages(lists); front[a] != 2 || front[b] != 2 || len(front) != 2 {
		t.Errorf("first pages read, by agent: %v; want 2 for each of %s and %s, none for others", front, a, b)
	}
}

// The bulk-removal example lists an agent's contexts, then imports each:
// the imports' reads, which know no agent, are answered by the listing.
func TestReadsAfterAListingOfTheirContextsCostNothing(t *testing.T) {
	r := newRig(t, slowReads)
	agent := r.srv.AddAgent("a", "").ID
	ids := addContexts(r.srv, 250, &agent)
	addContexts(r.srv, 300, nil)
	listed := make(chan int)
	go func() {
		n := 0
		for _, err := range r.client.ExecutionContexts(context.Background(), WalkInput{AgentID: agent}) {
			if err != nil {
				t.Error(err)
			}
			n++
		}
		listed <- n
	}()
	n := 0
	for wait := true; wait; {
		select {
		case n = <-listed:
			wait = false
		default:
			r.clock.advance() // the listing's pages, past the limiter's burst
			runtime.Gosched()
		}
	}
	lists, _ := r.requests()
	if n != len(ids) {
		t.Fatalf("the listing yielded %d contexts, want %d", n, len(ids))
	}
	got, errs := r.refresh(ids, noAgent, 10)
	r.checkReads(ids, got, errs, nil)
	after, gets := r.requests()
	if len(after) != len(lists) || gets != 0 {
		t.Errorf("%d page requests and %d GETs after the listing, want none", len(after)-len(lists), gets)
	}
}

// Eight reads in a scope of 5,000, fewer than Terraform's slots, at the
// documented read limit: the walk learns from one probe GET that the refresh
// brings no more reads, and stops, the rest of its reads going to GETs.
func TestAFewReadsInABigScopeCostTheirGets(t *testing.T) {
	r := newRig(t, DocumentedLimits())
	ids := addContexts(r.srv, 5000, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	few := make([]string, 8)
	for i := range few {
		few[i] = ids[rng.IntN(len(ids))]
	}
	got, errs := r.refresh(slices.Compact(slices.Sorted(slices.Values(few))), noAgent, 10)
	r.checkReads(slices.Compact(slices.Sorted(slices.Values(few))), got, errs, nil)
	lists, gets := r.requests()
	t.Logf("%d page requests, %d GETs", len(lists), gets)
	// The probe's answer takes Terraform's time to come, which the pages of
	// the read burst do not give it: those are read first.
	if len(lists) > 21 || gets > 8 {
		t.Errorf("%d page requests and %d GETs for 8 reads, want at most the read burst's 20 pages and a second of the sustained rate, and their GETs", len(lists), gets)
	}
}
