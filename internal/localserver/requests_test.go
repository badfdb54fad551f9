package localserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestRequestCounters(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	c.do(http.MethodGet, "/ai/execution-contexts/"+ctx.ID, "")
	c.do(http.MethodGet, "/ai/execution-contexts/1", "")
	c.do(http.MethodPost, "/ai/execution-contexts/"+ctx.ID+"/execute", `{"execution_type":{"cancel":{}}}`)
	c.do(http.MethodGet, "/ai/agents", "")
	c.do(http.MethodGet, "/nowhere", "")
	c.key = "wrong"
	c.do(http.MethodDelete, "/ai/execution-contexts/"+ctx.ID, "")

	want := map[localserver.RouteStatus]int{
		{Method: "POST", Route: localserver.ContextsRoute, Status: 200}:  1,
		{Method: "GET", Route: localserver.ContextRoute, Status: 200}:    1,
		{Method: "GET", Route: localserver.ContextRoute, Status: 404}:    1,
		{Method: "POST", Route: localserver.ExecuteRoute, Status: 200}:   1,
		{Method: "GET", Route: localserver.AgentsRoute, Status: 200}:     1,
		{Method: "GET", Route: "", Status: 404}:                          1,
		{Method: "DELETE", Route: localserver.ContextRoute, Status: 401}: 1,
	}
	got := srv.Requests()
	if len(got) != len(want) {
		t.Errorf("Requests() = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("Requests()[%+v] = %d, want %d", k, got[k], n)
		}
	}
	got[localserver.RouteStatus{Method: "X"}] = 1 // a copy: no effect on the server
	if srv.Count("X", "", -1) != 0 {
		t.Error("Requests() is not a copy")
	}

	if n := srv.Count(http.MethodGet, localserver.ContextRoute, -1); n != 2 {
		t.Errorf("GET any status = %d, want 2", n)
	}
	if n := srv.Count(http.MethodPatch, localserver.ContextRoute, -1); n != 0 {
		t.Errorf("PATCH count = %d, want 0", n)
	}
	srv.ResetRequests()
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d counters after reset", n)
	}
}

func TestLatency(t *testing.T) {
	srv, c := start(t, localserver.Options{DisableLimits: true, Latency: 150 * time.Millisecond})
	began := time.Now()
	c.create(`{}`)
	if took := time.Since(began); took < 150*time.Millisecond {
		t.Errorf("request took %v, want at least the latency", took)
	}

	// A client that gives up during the delay gets nothing done.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req := c.request(http.MethodPost, "/ai/execution-contexts", `{}`).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	if _, err := c.trySend(req); err == nil {
		t.Fatal("request outlived its context")
	}
	waitFor(t, func() bool { return srv.Count(http.MethodPost, localserver.ContextsRoute, 0) == 1 })
	if n := len(srv.Contexts()); n != 1 {
		t.Errorf("%d contexts, want only the first", n)
	}

	srv.SetLatency(0)
	if srv.Latency() != 0 {
		t.Errorf("Latency() = %v after SetLatency(0)", srv.Latency())
	}
}

// waitFor polls cond for up to two seconds: the server notices a client
// leaving asynchronously.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
	}
}
