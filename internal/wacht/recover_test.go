package wacht_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// lostCreate creates with in and wants the answer lost.
func lostCreate(t *testing.T, c *wacht.Client, in wacht.CreateExecutionContextInput) *wacht.LostCreateError {
	t.Helper()
	_, err := c.CreateExecutionContext(context.Background(), in)
	var lost *wacht.LostCreateError
	if !errors.As(err, &lost) || !errors.Is(err, wacht.ErrOutcomeUnknown) {
		t.Fatalf("create: %v, want a lost create", err)
	}
	return lost
}

// A lost create takes its own context: not a sibling this client created
// (same arguments, made just before), not one made before it was sent (an
// earlier run's, a minute ago), not one with other arguments.
func TestAdoptLostCreateTakesItsOwn(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	agent := srv.AddAgent("a", "").ID
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("lost"), AgentID: &agent, SystemInstructions: ptr("")}

	for range 250 { // the agent's many older contexts: only the front is read
		srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent, SystemInstructions: ptr(""), CreatedAt: time.Now().Add(-time.Hour)})
	}
	srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent, SystemInstructions: ptr(""), CreatedAt: time.Now().Add(-time.Minute)})
	sibling, err := c.CreateExecutionContext(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(localserver.Faults{LoseCreateResponses: 1})
	lost := lostCreate(t, c, in)
	srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent})                               // null instructions: differs
	srv.AddContext(localserver.ExecutionContext{Title: "other", AgentID: &agent, SystemInstructions: ptr("")}) // other title
	srv.ResetRequests()

	ec, err := c.AdoptLostCreate(context.Background(), lost)
	if err != nil {
		t.Fatal(err)
	}
	if ec == nil || ec.ID == sibling.ID || ec.Title != "lost" || ec.SystemInstructions == nil {
		t.Fatalf("adopted %+v, want the lost create's own context, not the sibling %s", ec, sibling.ID)
	}
	if lost.Since.After(ec.CreatedAt) || lost.Since.Before(sibling.CreatedAt) {
		t.Errorf("window starts at %s: want after the sibling's creation %s, not after the context's %s", lost.Since, sibling.CreatedAt, ec.CreatedAt)
	}
	if n := srv.Count(http.MethodGet, localserver.ContextsRoute, -1); n != 1 {
		t.Errorf("%d list requests, want 1", n)
	}
	// Claimed now: the same search again finds nothing.
	if again, err := c.AdoptLostCreate(context.Background(), lost); again != nil || err != nil {
		t.Errorf("second adoption: %v, %v; want none", again, err)
	}
}

// A context the client was told is tracked is never adopted.
func TestAdoptLostCreateSkipsClaimed(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{FailCreatesBefore: 1}})
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("x")}
	// Tracked for other addresses, as Terraform's reads report them.
	c.Claim(srv.AddContext(localserver.ExecutionContext{Title: "x"}).ID)
	lost := lostCreate(t, c, in) // 503 before the handler: nothing made
	c.Claim(srv.AddContext(localserver.ExecutionContext{Title: "x"}).ID)
	if ec, err := c.AdoptLostCreate(context.Background(), lost); ec != nil || err != nil {
		t.Errorf("adopted %v (%v): want nothing, every candidate is claimed", ec, err)
	}
	free := srv.AddContext(localserver.ExecutionContext{Title: "x"})
	if ec, err := c.AdoptLostCreate(context.Background(), lost); err != nil || ec == nil || ec.ID != free.ID {
		t.Errorf("adopted %v (%v), want the unclaimed %s", ec, err, free.ID)
	}
}

// Many identical creates at once, a third made and answered 502: each lost
// one adopts a distinct context, and every context made is taken by exactly
// one create.
func TestConcurrentLostCreatesShareOutTheirContexts(t *testing.T) {
	const n = 15
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{CreateErrorAfterRate: 1.0 / 3, Seed: 5}})
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("same")}
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ec, err := c.CreateExecutionContext(context.Background(), in)
			var lost *wacht.LostCreateError
			if errors.As(err, &lost) {
				ec, err = c.AdoptLostCreate(context.Background(), lost)
			}
			switch {
			case err != nil:
				t.Error(err)
			case ec == nil:
				t.Errorf("create %d: no context found, though a 502 comes after the handler ran", i)
			default:
				ids[i] = ec.ID
			}
		})
	}
	wg.Wait()
	if lost := srv.Count(http.MethodPost, localserver.ContextsRoute, http.StatusBadGateway); lost == 0 {
		t.Fatal("no create was answered 502: the test proved nothing")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("context %s taken twice", id)
		}
		seen[id] = true
	}
	if all := srv.Contexts(); len(all) != n {
		t.Errorf("%d contexts on the server, want %d", len(all), n)
	}
}

// A create whose caller gives up with the request in flight is a lost
// create, and its context is found on a budget of its own.
func TestCancelledCreateIsALostCreate(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{CreateAnswerDelay: time.Minute}})
	c := newClient(t, srv, wacht.Unlimited())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.CreateExecutionContext(ctx, wacht.CreateExecutionContextInput{Title: ptr("slow")})
	var lost *wacht.LostCreateError
	if !errors.As(err, &lost) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("create: %v, want a lost create caused by the deadline", err)
	}
	ec, err := c.AdoptLostCreate(context.Background(), lost)
	if err != nil || ec == nil || ec.Title != "slow" {
		t.Fatalf("adopted %v (%v), want the context made", ec, err)
	}
	// A create cancelled before it left is not.
	done, stop := context.WithCancel(context.Background())
	stop()
	_, err = c.CreateExecutionContext(done, wacht.CreateExecutionContextInput{})
	if !errors.Is(err, context.Canceled) || errors.As(err, &lost) {
		t.Errorf("create with a cancelled context: %v, want context.Canceled, no lost create", err)
	}
	if n := srv.Count(http.MethodPost, localserver.ContextsRoute, -1); n != 1 {
		t.Errorf("%d creates reached the server, want 1", n)
	}
}

// A search for a lost create waits for the identical creates in flight: the
// context it finds could be theirs.
func TestAdoptLostCreateWaitsForCreatesInFlight(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{FailCreatesBefore: 1}})
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("twins")}
	lost := lostCreate(t, c, in) // nothing made
	srv.SetFaults(localserver.Faults{CreateAnswerDelay: 500 * time.Millisecond})
	created := make(chan error, 1)
	go func() {
		_, err := c.CreateExecutionContext(context.Background(), in)
		created <- err
	}()
	for len(srv.Contexts()) == 0 { // made, its answer on the way
		time.Sleep(time.Millisecond)
	}
	ec, err := c.AdoptLostCreate(context.Background(), lost)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if ec != nil || err != nil {
		t.Errorf("adopted %v (%v): want nothing, the only context is the answered create's", ec, err)
	}
}

// Two identical lost creates, the earlier searching first: it takes the
// older context, its own, since the later create's window cannot reach it.
func TestLostCreatesSearchingOutOfOrderBothFindOne(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true, Faults: localserver.Faults{LoseCreateResponses: 1}})
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("pair")}
	first := lostCreate(t, c, in)
	// An answered create in between tells the client the server's time to
	// the microsecond: the second window starts after the first context.
	srv.SetFaults(localserver.Faults{})
	if _, err := c.CreateExecutionContext(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(localserver.Faults{LoseCreateResponses: 1})
	second := lostCreate(t, c, in)
	for i, lost := range []*wacht.LostCreateError{first, second} {
		if ec, err := c.AdoptLostCreate(context.Background(), lost); err != nil || ec == nil {
			t.Errorf("lost create %d: adopted %v (%v), want a context", i+1, ec, err)
		}
	}
}

// signalLogger closes waiting when the client logs msg.
type signalLogger struct {
	msg     string
	once    sync.Once
	waiting chan struct{}
}

func (l *signalLogger) Debug(_ context.Context, msg string, _ map[string]any) {
	if msg == l.msg {
		l.once.Do(func() { close(l.waiting) })
	}
}

// Two runs on one machine (two workspaces, each with its own client and so
// its own claims), creating identical contexts at once. Run A's create is
// sent first and held until run B's is carried out, then carried out itself
// and its connection dropped; B's answer comes only later. A's search must wait for
// B's answer rather than adopt B's context, the older: each run ends with
// its own context and none is left untracked.
func TestLostCreateWaitsForAnotherRunsIdenticalCreate(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	backend := srv.URL()
	aSent, bMade, releaseB, aSearched := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	var aLost atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, create := r.Header.Get("User-Agent")[:5], r.Method == http.MethodPost
		switch {
		case run == "run-a" && create:
			close(aSent)
			<-bMade
		case run == "run-b" && create:
			<-aSent // B's context is made inside A's window
		case run == "run-a" && aLost.Load():
			close(aSearched) // a search before B's answer: the failure under test
		}
		status, header, body := forward(t, r, backend)
		switch {
		case run == "run-a" && create:
			aLost.Store(true)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_ = conn.Close()
			return
		case run == "run-b" && create:
			close(bMade)
			<-releaseB
		}
		maps.Copy(w.Header(), header)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(proxy.Close)
	aLog := &signalLogger{msg: "waiting for identical creates of another process", waiting: make(chan struct{})}
	client := func(run string, log wacht.Logger) *wacht.Client {
		c, err := wacht.New(wacht.Config{BaseURL: proxy.URL, APIKey: srv.APIKey(), UserAgent: run, Limits: ptr(wacht.Unlimited()), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("run-a", aLog), client("run-b", nil)
	agent := srv.AddAgent("a", "").ID
	in := wacht.CreateExecutionContextInput{Title: ptr("same"), AgentID: &agent, ContextGroup: ptr("xrun")}

	var ecB *wacht.ExecutionContext
	var errB error
	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		ecB, errB = b.CreateExecutionContext(context.Background(), in)
	}()
	lost := lostCreate(t, a, in)
	var ecA *wacht.ExecutionContext
	var errA error
	aDone := make(chan struct{})
	go func() {
		defer close(aDone)
		ecA, errA = a.AdoptLostCreate(context.Background(), lost)
	}()
	select {
	case <-aLog.waiting:
	case <-aSearched:
		t.Error("run A searched while run B's identical create was unanswered")
	}
	close(releaseB)
	<-bDone
	<-aDone
	if errA != nil || errB != nil || ecA == nil || ecB == nil {
		t.Fatalf("run A adopted %v (%v), run B created %v (%v)", ecA, errA, ecB, errB)
	}
	if ecA.ID == ecB.ID {
		t.Errorf("both runs track %s", ecA.ID)
	}
	if all := srv.Contexts(); len(all) != 2 {
		t.Errorf("%d contexts on the server, want 2", len(all))
	}
}

// forward sends r to backend, returning its answer.
func forward(t *testing.T, r *http.Request, backend string) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), r.Body)
	if err != nil {
		t.Error(err)
		return http.StatusBadGateway, nil, nil
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return http.StatusBadGateway, nil, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
	}
	return resp.StatusCode, resp.Header, body
}

// Without a cache dir to write the turns' files to, creates take their turns
// within the process, and a lost create is still found.
func TestLostCreateWithoutACacheDir(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", notDir)
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("no cache")}
	made, err := c.CreateExecutionContext(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(localserver.Faults{LoseCreateResponses: 1})
	lost := lostCreate(t, c, in)
	ec, err := c.AdoptLostCreate(context.Background(), lost)
	if err != nil || ec == nil || ec.ID == made.ID {
		t.Errorf("adopted %v (%v), want the lost create's context, not %s", ec, err, made.ID)
	}
}
