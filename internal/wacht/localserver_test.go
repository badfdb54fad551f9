package wacht_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// These tests run the client against the project's local Wacht server on
// loopback: the same behaviour the httptest unit tests pin down, end to end.

func newClient(t testing.TB, srv *localserver.Server, limits wacht.Limits) *wacht.Client {
	t.Helper()
	c, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: srv.APIKey(), MaxRetries: 5, Limits: &limits})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestClientLifecycleAgainstLocalServer(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{})
	agent := srv.AddAgent("support-bot", "answers tickets")
	c := newClient(t, srv, wacht.DocumentedLimits())
	ctx := context.Background()

	ec, err := c.CreateExecutionContext(ctx, wacht.CreateExecutionContextInput{Title: ptr("triage"), AgentID: &agent.ID})
	if err != nil {
		t.Fatal(err)
	}
	if ec.Status != wacht.StatusIdle || ec.Title != "triage" || *ec.AgentID != agent.ID || ec.SystemInstructions != nil {
		t.Errorf("created %+v", ec)
	}
	got, err := c.GetExecutionContext(ctx, ec.ID)
	if err != nil || got.ID != ec.ID {
		t.Fatalf("get: %v, %+v", err, got)
	}
	upd, err := c.UpdateExecutionContext(ctx, ec.ID, wacht.UpdateExecutionContextInput{ContextGroup: ptr("eu")})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Title != "triage" || *upd.ContextGroup != "eu" || !upd.UpdatedAt.After(ec.UpdatedAt) {
		t.Errorf("updated %+v", upd)
	}

	if err := srv.SetStatus(ec.ID, "running"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteExecutionContext(ctx, ec.ID); !errors.Is(err, wacht.ErrConflict) {
		t.Fatalf("delete of a running context: %v, want ErrConflict", err)
	}
	if err := c.CancelExecutionContext(ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetExecutionContext(ctx, ec.ID); got.Status != wacht.StatusFailed {
		t.Errorf("status after cancel = %s, want failed", got.Status)
	}
	if err := c.DeleteExecutionContext(ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExecutionContext(ctx, ec.ID); !errors.Is(err, wacht.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if err := c.DeleteExecutionContext(ctx, ec.ID); !errors.Is(err, wacht.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}

	agents, err := c.ListAgents(ctx, wacht.ListAgentsInput{Search: "SUPPORT"})
	if err != nil || len(agents.Data) != 1 || agents.Data[0].ID != agent.ID {
		t.Errorf("agents: %v, %+v", err, agents)
	}
	if a, err := c.GetAgent(ctx, agent.ID); err != nil || a.Name != "support-bot" {
		t.Errorf("agent: %v, %+v", err, a)
	}
}

func TestClientErrorsAgainstLocalServer(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{ReadOnlyAPIKey: "sk_test_ro"})
	ec := srv.AddContext(localserver.ExecutionContext{Title: "x"})
	ctx := context.Background()

	bad, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GetExecutionContext(ctx, ec.ID)
	var apiErr *wacht.APIError
	if !errors.Is(err, wacht.ErrUnauthorized) || !errors.As(err, &apiErr) || apiErr.Message == "" {
		t.Errorf("wrong key: %v, want ErrUnauthorized with the server's text", err)
	}

	ro, _ := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: "sk_test_ro"})
	if err := ro.DeleteExecutionContext(ctx, ec.ID); !errors.Is(err, wacht.ErrForbidden) {
		t.Errorf("read-only delete: %v, want ErrForbidden", err)
	}
	if _, ok := srv.Context(ec.ID); !ok {
		t.Error("a forbidden delete removed the context")
	}
}

func TestClientRetriesThe429sOfTheLocalServer(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{
		Limits: &localserver.Limits{Read: localserver.Rate{PerMinute: 120, Burst: 1}},
	})
	ec := srv.AddContext(localserver.ExecutionContext{Title: "x"})
	c := newClient(t, srv, wacht.Unlimited()) // retry only
	for range 2 {
		if _, err := c.GetExecutionContext(context.Background(), ec.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Count(http.MethodGet, "/ai/execution-contexts/{id}", 429); n != 1 {
		t.Errorf("%d 429s served, want 1: the second get was refused once, then retried", n)
	}
}

func TestCreateIsNotRepeatedWhenItsAnswerIsLost(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{Faults: localserver.Faults{LoseCreateResponses: 1}})
	c := newClient(t, srv, wacht.Unlimited())
	_, err := c.CreateExecutionContext(context.Background(), wacht.CreateExecutionContextInput{Title: ptr("once")})
	if !errors.Is(err, wacht.ErrOutcomeUnknown) {
		t.Errorf("err = %v, want ErrOutcomeUnknown", err)
	}
	if n := len(srv.Contexts()); n != 1 {
		t.Errorf("%d contexts on the server, want exactly the 1 created", n)
	}
}

func TestWalkWhileAnotherClientDeletes(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	agent := srv.AddAgent("busy", "")
	other := srv.AddAgent("other", "")
	var ids []string
	for i := range 600 {
		owner := &agent.ID
		if i%5 == 0 {
			owner = &other.ID
		}
		ec := srv.AddContext(localserver.ExecutionContext{Title: fmt.Sprint(i), AgentID: owner})
		if *owner == agent.ID {
			ids = append(ids, ec.ID)
		}
	}
	c := newClient(t, srv, wacht.Unlimited())
	deleter := newClient(t, srv, wacht.Unlimited())

	// The deleter removes every third context of the agent, newest first,
	// while the walk runs.
	var wg sync.WaitGroup
	deleted := map[string]bool{}
	var mu sync.Mutex
	wg.Go(func() {
		for i := 0; i < len(ids); i += 3 {
			if err := deleter.DeleteExecutionContext(context.Background(), ids[len(ids)-1-i]); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			deleted[ids[len(ids)-1-i]] = true
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
		}
	})
	seen := map[string]int{}
	for ec, err := range c.ExecutionContexts(context.Background(), wacht.WalkInput{AgentID: agent.ID}) {
		if err != nil {
			t.Fatal(err)
		}
		if *ec.AgentID != agent.ID {
			t.Fatalf("context %s of another agent yielded", ec.ID)
		}
		seen[ec.ID]++
	}
	wg.Wait()
	for _, id := range ids {
		switch {
		case seen[id] > 1:
			t.Errorf("context %s yielded %d times", id, seen[id])
		case seen[id] == 0 && !deleted[id]:
			t.Errorf("context %s, never deleted, was missed", id)
		}
	}
}
