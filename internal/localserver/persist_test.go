package localserver_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestPersistenceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	opts := localserver.Options{APIKey: "sk_test_demo", DisableLimits: true, StatePath: path}

	first, c := start(t, opts)
	agent := first.AddAgent("support-bot", "answers")
	kept := c.create(`{"title":"kept","agent_id":"` + agent.ID + `"}`)
	wantStatus(t, c.do(http.MethodPatch, "/ai/execution-contexts/"+kept.ID, `{"context_group":"g","status":"running"}`), http.StatusOK)
	gone := c.create(`{"title":"gone"}`)
	wantStatus(t, c.do(http.MethodDelete, "/ai/execution-contexts/"+gone.ID, ""), http.StatusOK)

	// Saved after each mutation, before any Close.
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state file not written: %v", err)
	}
	wantContexts, wantAgents := first.Contexts(), first.Agents()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second, c2 := start(t, opts)
	if !sameJSON(t, second.Contexts(), wantContexts) || len(wantContexts) != 1 {
		t.Errorf("contexts after restart = %+v, want %+v", second.Contexts(), wantContexts)
	}
	if !sameJSON(t, second.Agents(), wantAgents) {
		t.Errorf("agents after restart = %+v, want %+v", second.Agents(), wantAgents)
	}
	wantError(t, c2.do(http.MethodDelete, "/ai/execution-contexts/"+kept.ID, ""), http.StatusConflict, "context in use")
	// Ids keep increasing across restarts.
	if next := c2.create(`{}`); idNumber(t, next.ID) <= idNumber(t, gone.ID) {
		t.Errorf("id after restart %s, not above %s", next.ID, gone.ID)
	}
}

func TestCorruptStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localserver.New(localserver.Options{StatePath: path}); err == nil {
		t.Error("New accepted a corrupt state file")
	}
}
