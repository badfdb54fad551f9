package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The list resource's and the action's examples, run with the commands their
// comments give, through the CLI (Terraform 1.14+; older CLIs skip them).

const (
	listExample   = "list-resources/wacht_execution_context/list-resource.tfquery.hcl"
	actionExample = "actions/wacht_execution_context_purge/action.tf"
)

// needsTerraform114 skips a test of list resources or actions on older CLIs.
func needsTerraform114(t *testing.T) {
	t.Helper()
	if !cliAtLeast(t, 1, 14) {
		t.Skip("list resources and actions need Terraform 1.14+: skipped below 1.14")
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `terraform query` lists the agent's completed contexts, each with its id as
// identity and its title as display name, and -generate-config-out writes
// the config that adopts them without a change.
func TestAccListResourceExample(t *testing.T) {
	preCheck(t)
	needsTerraform114(t)
	srv := startServer(t, localserver.Options{})
	exampleEnv(t, srv)
	var completed []string
	for i, status := range []string{localserver.StatusCompleted, localserver.StatusIdle, localserver.StatusCompleted} {
		c := srv.AddContext(localserver.ExecutionContext{Title: "Ticket " + string(rune('A'+i)), AgentID: &srv.agentID})
		if err := srv.SetStatus(c.ID, status); err != nil {
			t.Fatal(err)
		}
		if status == localserver.StatusCompleted {
			completed = append(completed, c.ID)
		}
	}
	other := srv.AddContext(localserver.ExecutionContext{Title: "Other agent's", AgentID: new(srv.AddAgent("billing-bot", "").ID)})
	if err := srv.SetStatus(other.ID, localserver.StatusCompleted); err != nil {
		t.Fatal(err)
	}

	c := newCLI(t, "")
	writeFile(t, filepath.Join(c.dir, filepath.Base(listExample)), []byte(readExample(t, listExample)))
	agentVar := "agent_id=" + srv.agentID
	var found []string
	for _, line := range strings.Split(c.must("query", "-no-color", "-json", "-var", agentVar), "\n") {
		var msg struct {
			Type  string `json:"type"`
			Found struct {
				Address     string            `json:"address"`
				DisplayName string            `json:"display_name"`
				Identity    map[string]string `json:"identity"`
			} `json:"list_resource_found"`
		}
		if json.Unmarshal([]byte(line), &msg) != nil || msg.Type != "list_resource_found" {
			continue
		}
		ec, ok := srv.Context(msg.Found.Identity["id"])
		if !ok || msg.Found.DisplayName != ec.Title {
			t.Errorf("result %+v: want a context's id and its title", msg.Found)
		}
		found = append(found, msg.Found.Identity["id"])
	}
	if !sameSet(found, completed) {
		t.Fatalf("query found %v, want the agent's completed contexts %v", found, completed)
	}

	c.must("query", "-no-color", "-var", agentVar, "-generate-config-out=contexts.tf")
	// The plan reads no variable of the query file's.
	if err := os.Remove(filepath.Join(c.dir, filepath.Base(listExample))); err != nil {
		t.Fatal(err)
	}
	imported, err := c.savedPlan().imports()
	if err != nil || !sameSet(imported, completed) {
		t.Fatalf("the generated config imports %v (%v), want %v unchanged", imported, err, completed)
	}
}

// `terraform apply -invoke` runs the purge alone: it deletes the agent's
// contexts unused for 30 days, and creates nothing.
func TestAccPurgeActionExample(t *testing.T) {
	preCheck(t)
	needsTerraform114(t)
	srv := startServer(t, localserver.Options{})
	exampleEnv(t, srv)
	old := time.Now().Add(-31 * 24 * time.Hour)
	stale := srv.AddContext(localserver.ExecutionContext{Title: "Stale", AgentID: &srv.agentID, LastActivityAt: old})
	fresh := srv.AddContext(localserver.ExecutionContext{Title: "Fresh", AgentID: &srv.agentID})
	othersStale := srv.AddContext(localserver.ExecutionContext{Title: "Other agent's", AgentID: new(srv.AddAgent("billing-bot", "").ID), LastActivityAt: old})

	c := newCLI(t, readExample(t, actionExample))
	c.must("apply", "-input=false", "-no-color", "-auto-approve", "-var", "agent_id="+srv.agentID,
		"-invoke=action.wacht_execution_context_purge.stale")
	if got, want := srv.remaining(), without([]string{stale.ID, fresh.ID, othersStale.ID}, stale.ID); !slices.Equal(got, want) {
		t.Errorf("after the purge the server holds %v, want %v", got, want)
	}
	if ids := c.state().managedIDs(); len(ids) != 0 {
		t.Errorf("the invoke put %v in the state, want nothing", ids)
	}
}
