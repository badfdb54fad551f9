package wacht_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// refresh reads ids the way Terraform refreshes: parallelism workers, each
// taking the next id when its read returns.
func refresh(t *testing.T, c *wacht.Client, ids []string, agentID string, parallelism int) (map[string]*wacht.ExecutionContext, map[string]error) {
	t.Helper()
	var mu sync.Mutex
	got, errs := map[string]*wacht.ExecutionContext{}, map[string]error{}
	next := make(chan string)
	var wg sync.WaitGroup
	for range parallelism {
		wg.Go(func() {
			for id := range next {
				ec, err := c.ReadExecutionContext(context.Background(), id, agentID)
				mu.Lock()
				if err != nil {
					errs[id] = err
				} else {
					got[id] = ec
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return got, errs
}

func seedContexts(srv *localserver.Server, n int, agentID *string) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = srv.AddContext(localserver.ExecutionContext{Title: "ctx", AgentID: agentID}).ID
	}
	return ids
}

func TestRefreshOfManyContextsCostsPagesNotGets(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	ids := seedContexts(srv, 500, nil)
	c := newClient(t, srv, wacht.Unlimited())
	got, errs := refresh(t, c, ids, "", 10)
	if len(errs) > 0 || len(got) != 500 {
		t.Fatalf("%d read, %d failed", len(got), len(errs))
	}
	for _, id := range ids {
		if want, _ := srv.Context(id); got[id].ID != id || !got[id].LastActivityAt.Equal(want.LastActivityAt) {
			t.Fatalf("context %s read as %+v", id, got[id])
		}
	}
	lists := srv.Count(http.MethodGet, localserver.ContextsRoute, 200)
	gets := srv.Count(http.MethodGet, localserver.ContextRoute, -1)
	t.Logf("500 contexts refreshed with %d list and %d get requests", lists, gets)
	// About 6 (5 pages and the walk's final read); a loaded machine may split
	// the first burst of reads, and the few that come alone are GETs.
	if lists+gets > 20 {
		t.Errorf("%d list and %d get requests for 500 contexts, want about %d", lists, gets, 500/100+1)
	}
}

func TestRefreshOfAFewContextsSendsGetsOnly(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	ids := seedContexts(srv, 300, nil)[:3]
	c := newClient(t, srv, wacht.Unlimited())
	if _, errs := refresh(t, c, ids, "", 10); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := srv.Count(http.MethodGet, localserver.ContextsRoute, -1); n != 0 {
		t.Errorf("%d list requests to read 3 contexts, want none", n)
	}
	if n := srv.Count(http.MethodGet, localserver.ContextRoute, 200); n != 3 {
		t.Errorf("%d GETs, want 3", n)
	}
}

func TestRefreshConfirmsMissingContextsWithAGet(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	agent := srv.AddAgent("a", "").ID
	ids := seedContexts(srv, 250, &agent)
	gone := ids[7]
	srv.RemoveContext(gone)
	c := newClient(t, srv, wacht.Unlimited())
	got, errs := refresh(t, c, ids, agent, 10)
	if len(got) != 249 || len(errs) != 1 || !errors.Is(errs[gone], wacht.ErrNotFound) {
		t.Fatalf("%d read, errors %v; want 249 and ErrNotFound for %s", len(got), errs, gone)
	}
	if n := srv.Count(http.MethodGet, localserver.ContextRoute, 404); n != 1 {
		t.Errorf("%d GETs answered 404, want the one confirming %s", n, gone)
	}
}

func TestRefreshWhileContextsChange(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	ids := seedContexts(srv, 400, nil)
	c := newClient(t, srv, wacht.Unlimited())
	other := newClient(t, srv, wacht.Unlimited())
	deleted := map[string]bool{}
	var wg sync.WaitGroup
	wg.Go(func() { // another client deletes every tenth context and works on every seventh
		for i, id := range ids {
			switch {
			case i%10 == 0:
				if err := other.DeleteExecutionContext(context.Background(), id); err != nil {
					t.Error(err)
				}
				deleted[id] = true
			case i%7 == 0:
				_ = srv.SetStatus(id, "completed")
			}
		}
	})
	got, errs := refresh(t, c, ids, "", 10)
	wg.Wait()
	for _, id := range ids {
		if deleted[id] {
			continue // read before or after its delete: either answer is right
		}
		if errs[id] != nil || got[id] == nil {
			t.Errorf("context %s, never deleted, read as %v", id, errs[id])
		}
	}
	for id, err := range errs {
		if !deleted[id] || !errors.Is(err, wacht.ErrNotFound) {
			t.Errorf("context %s: %v", id, err)
		}
	}
}

func TestRefreshFallsBackToGetsWhenTheWalkFails(t *testing.T) {
	backend, err := localserver.New(localserver.Options{DisableLimits: true})
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	var mu sync.Mutex
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == localserver.ContextsRoute && r.Method == http.MethodGet {
			mu.Lock()
			lists++
			mu.Unlock()
			http.Error(w, `{"errors":[{"message":"bad gateway","code":502}]}`, http.StatusBadGateway)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	ids := seedContexts(backend, 50, nil)
	unlimited := wacht.Unlimited()
	c, err := wacht.New(wacht.Config{BaseURL: front.URL, APIKey: backend.APIKey(), MaxRetries: 1, Limits: &unlimited})
	if err != nil {
		t.Fatal(err)
	}
	got, errs := refresh(t, c, ids, "", 10)
	if len(errs) > 0 || len(got) != 50 {
		t.Fatalf("%d read, errors %v", len(got), errs)
	}
	if lists == 0 {
		t.Error("no walk was tried")
	}
}

func TestWritesDropTheWalk(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	ids := seedContexts(srv, 120, nil)
	c := newClient(t, srv, wacht.Unlimited())
	if _, errs := refresh(t, c, ids, "", 10); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := c.UpdateExecutionContext(context.Background(), ids[5], wacht.UpdateExecutionContextInput{Title: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	ec, err := c.ReadExecutionContext(context.Background(), ids[5], "")
	if err != nil || ec.Title != "renamed" {
		t.Errorf("read after an update: %v, %+v", err, ec)
	}
}

type markerKey struct{}

// requestLog records, for each request the client logs, its path and the
// marker its context carries.
type requestLog struct {
	mu      sync.Mutex
	markers map[string][]any // path → the markers of its requests
}

func (l *requestLog) Debug(ctx context.Context, msg string, fields map[string]any) {
	if msg != "Wacht API request" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	path, _ := fields["path"].(string)
	l.markers[path] = append(l.markers[path], ctx.Value(markerKey{}))
}

// A batch walk, which outlives the read that started it, runs on the
// context Config.Detach makes of that read's: its requests log with it.
func TestBatchWalkRunsOnTheDetachedContext(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	ids := seedContexts(srv, 250, nil)
	log := &requestLog{markers: map[string][]any{}}
	detached := 0
	var mu sync.Mutex
	limits := wacht.Unlimited()
	c, err := wacht.New(wacht.Config{
		BaseURL: srv.URL(), APIKey: srv.APIKey(), Limits: &limits, Logger: log,
		Detach: func(ctx context.Context) context.Context {
			mu.Lock()
			detached++
			mu.Unlock()
			return context.WithValue(context.WithoutCancel(ctx), markerKey{}, "detached")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := refresh(t, c, ids, "", 10); len(errs) > 0 {
		t.Fatalf("%d reads failed", len(errs))
	}
	pages := log.markers["/ai/execution-contexts"]
	if detached == 0 || len(pages) == 0 {
		t.Fatalf("%d walks detached, %d pages logged (by path: %v): no batch walk to check", detached, len(pages), log.markers)
	}
	for _, marker := range pages {
		if marker != "detached" {
			t.Errorf("a page request logged with marker %v, want the detached context's", marker)
		}
	}
}
