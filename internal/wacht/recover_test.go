package wacht_test

import (
	"context"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

func TestFindCreatedExecutionContexts(t *testing.T) {
	srv := localserver.StartTest(t, localserver.Options{DisableLimits: true})
	agent := srv.AddAgent("a", "").ID
	c := newClient(t, srv, wacht.Unlimited())
	in := wacht.CreateExecutionContextInput{Title: ptr("lost"), AgentID: &agent, SystemInstructions: ptr("")}

	for range 250 { // the agent's many older contexts: only the front is read
		srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent, SystemInstructions: ptr("")})
	}
	time.Sleep(2 * time.Millisecond)
	old := srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent, SystemInstructions: ptr("")})
	since := old.CreatedAt.Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent})                               // null instructions: differs
	srv.AddContext(localserver.ExecutionContext{Title: "other", AgentID: &agent, SystemInstructions: ptr("")}) // other title
	want := srv.AddContext(localserver.ExecutionContext{Title: "lost", AgentID: &agent, SystemInstructions: ptr("")})
	srv.ResetRequests()
	if err := srv.SetStatus(old.ID, "completed"); err != nil { // active now, created before: not ours
		t.Fatal(err)
	}

	found, err := c.FindCreatedExecutionContexts(context.Background(), in, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != want.ID {
		t.Fatalf("found %d contexts, want exactly %s", len(found), want.ID)
	}
	if n := srv.Count("GET", localserver.ContextsRoute, -1); n != 1 {
		t.Errorf("%d list requests, want 1", n)
	}
}
