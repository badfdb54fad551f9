package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	ctxAddr   = "wacht_execution_context.test"
	itemRoute = "/ai/execution-contexts/{id}"
)

// contextConfig is one wacht_execution_context named "test" with the given
// body lines.
func (s testServer) contextConfig(body ...string) string {
	return s.providerBlock() + "resource \"wacht_execution_context\" \"test\" {\n  " + strings.Join(body, "\n  ") + "\n}\n"
}

// stateID reads the resource's id from the state into *id.
func stateID(id *string) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		rs, ok := st.RootModule().Resources[ctxAddr]
		if !ok {
			return fmt.Errorf("%s not in state", ctxAddr)
		}
		*id = rs.Primary.ID
		return nil
	}
}

// onServer checks the context as the server holds it.
func (s testServer) onServer(id *string, check func(localserver.ExecutionContext) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ec, ok := s.Context(*id)
		if !ok {
			return fmt.Errorf("context %s is not on the server", *id)
		}
		return check(ec)
	}
}

// destroyed checks that the server no longer holds any context.
func (s testServer) destroyed(*terraform.State) error {
	if n := len(s.Contexts()); n != 0 {
		return fmt.Errorf("%d contexts left on the server after destroy", n)
	}
	return nil
}

func (s testServer) setStatus(t *testing.T, id *string, status string) {
	t.Helper()
	if err := s.SetStatus(*id, status); err != nil {
		t.Fatal(err)
	}
}

func TestAccExecutionContextLifecycle(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	other := srv.AddAgent("billing-bot", "").ID
	var id, firstID string
	srv.test(t, []resource.TestStep{
		{
			Config: srv.contextConfig(`title = "Support triage"`, `system_instructions = "Be brief."`,
				`context_group = "support"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			Check: resource.ComposeAggregateTestCheckFunc(
				stateID(&id), stateID(&firstID),
				resource.TestCheckResourceAttr(ctxAddr, "title", "Support triage"),
				resource.TestCheckResourceAttr(ctxAddr, "system_instructions", "Be brief."),
				resource.TestCheckResourceAttr(ctxAddr, "context_group", "support"),
				resource.TestCheckResourceAttr(ctxAddr, "agent_id", srv.agentID),
				resource.TestCheckResourceAttr(ctxAddr, "status", "idle"),
				resource.TestCheckResourceAttr(ctxAddr, "cancel_on_destroy", "false"),
				resource.TestCheckResourceAttr(ctxAddr, "deployment_id", srv.DeploymentID()),
				resource.TestCheckResourceAttrSet(ctxAddr, "created_at"),
				resource.TestCheckNoResourceAttr(ctxAddr, "completed_at"),
				srv.onServer(&id, func(ec localserver.ExecutionContext) error {
					if ec.Title != "Support triage" || *ec.SystemInstructions != "Be brief." || *ec.AgentID != srv.agentID {
						return fmt.Errorf("server holds %+v", ec)
					}
					return nil
				}),
			),
		},
		{
			// Changing a field updates in place with a PATCH of that field.
			PreConfig: srv.ResetRequests,
			Config: srv.contextConfig(`title = "Support triage (EU)"`, `system_instructions = ""`,
				`context_group = "support"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionUpdate)},
			},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttrPtr(ctxAddr, "id", &firstID),
				resource.TestCheckResourceAttr(ctxAddr, "title", "Support triage (EU)"),
				resource.TestCheckResourceAttr(ctxAddr, "system_instructions", ""),
				srv.onServer(&id, func(ec localserver.ExecutionContext) error {
					if ec.Title != "Support triage (EU)" || ec.SystemInstructions == nil || *ec.SystemInstructions != "" {
						return fmt.Errorf("server holds %+v", ec)
					}
					if n := srv.Count(http.MethodPatch, itemRoute, 200); n != 1 {
						return fmt.Errorf("%d PATCH requests, want 1", n)
					}
					return nil
				}),
			),
		},
		{
			// Left out, arguments keep what the server holds: no plan.
			Config:             srv.contextConfig(fmt.Sprintf("agent_id = %q", srv.agentID)),
			PlanOnly:           true,
			ExpectNonEmptyPlan: false,
		},
		{
			// Another agent: the API cannot move a context, so it is replaced.
			Config: srv.contextConfig(`title = "Support triage (EU)"`, fmt.Sprintf("agent_id = %q", other)),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionDestroyBeforeCreate)},
			},
			Check: resource.ComposeAggregateTestCheckFunc(
				stateID(&id),
				resource.TestCheckResourceAttr(ctxAddr, "agent_id", other),
				func(*terraform.State) error {
					if _, ok := srv.Context(firstID); ok || id == firstID {
						return fmt.Errorf("the replaced context %s is still on the server", firstID)
					}
					return nil
				},
			),
		},
		{
			// Turning on cancel_on_destroy touches nothing on the server.
			PreConfig: srv.ResetRequests,
			Config:    srv.contextConfig(`title = "Support triage (EU)"`, fmt.Sprintf("agent_id = %q", other), "cancel_on_destroy = true"),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(ctxAddr, "cancel_on_destroy", "true"),
				func(*terraform.State) error {
					if n := srv.Count(http.MethodPatch, itemRoute, -1); n != 0 {
						return fmt.Errorf("%d PATCH requests, want none", n)
					}
					return nil
				},
			),
		},
		{
			ResourceName:            ctxAddr,
			ImportState:             true,
			ImportStateVerify:       true,
			ImportStateVerifyIgnore: []string{"cancel_on_destroy", "updated_at", "last_activity_at"},
		},
	})
}

func TestAccExecutionContextImportBlockAndBareResource(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	group := "imported"
	instructions := "Made by hand."
	ec := srv.AddContext(localserver.ExecutionContext{Title: "Hand-made", SystemInstructions: &instructions, ContextGroup: &group, AgentID: &srv.agentID})
	srv.test(t, []resource.TestStep{
		{
			// A bare block adopts the context without rewriting it.
			PreConfig: srv.ResetRequests,
			Config:    srv.contextConfig() + fmt.Sprintf("import {\n  to = %s\n  id = %q\n}\n", ctxAddr, ec.ID),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionNoop)},
			},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(ctxAddr, "id", ec.ID),
				resource.TestCheckResourceAttr(ctxAddr, "title", "Hand-made"),
				resource.TestCheckResourceAttr(ctxAddr, "system_instructions", instructions),
				resource.TestCheckResourceAttr(ctxAddr, "context_group", group),
				resource.TestCheckResourceAttr(ctxAddr, "agent_id", srv.agentID),
				func(*terraform.State) error {
					if n := srv.Count(http.MethodPatch, itemRoute, -1); n != 0 {
						return fmt.Errorf("%d PATCH requests, want none", n)
					}
					return nil
				},
			),
		},
		{Config: srv.contextConfig(), PlanOnly: true},
	})
}

func TestAccExecutionContextImportRefusesBadIDs(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	for _, id := range []string{"ctx_123", "../agents/1", "%2F", "-5", "1 2"} {
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { preCheck(t) },
			ProtoV6ProviderFactories: protoV6,
			Steps: []resource.TestStep{{
				Config:        srv.contextConfig(),
				ResourceName:  ctxAddr,
				ImportState:   true,
				ImportStateId: id,
				ExpectError:   regexp.MustCompile(`(?s)Invalid import id.*decimal integer`),
			}},
		})
	}
	if n := srv.Count(http.MethodGet, itemRoute, -1); n != 0 {
		t.Errorf("%d GET requests reached the server for bad ids", n)
	}
}

func TestAccExecutionContextDeletedOutOfBand(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	var id string
	cfg := srv.contextConfig(`title = "gone soon"`)
	srv.test(t, []resource.TestStep{
		{Config: cfg, Check: stateID(&id)},
		{
			PreConfig: func() {
				if !srv.RemoveContext(id) {
					t.Fatal("context not on the server")
				}
			},
			Config: cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionCreate)},
			},
			Check: func(st *terraform.State) error {
				var newID string
				if err := stateID(&newID)(st); err != nil {
					return err
				}
				if newID == id {
					return fmt.Errorf("id unchanged after re-create")
				}
				return nil
			},
		},
	})
}

func TestAccExecutionContextInUseBlocksDestroy(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	var id string
	cfg := srv.contextConfig(`title = "busy"`, fmt.Sprintf("agent_id = %q", srv.agentID), "timeouts {\n    delete = \"2s\"\n  }")
	srv.test(t, []resource.TestStep{
		{Config: cfg, Check: stateID(&id)},
		{
			PreConfig: func() { srv.setStatus(t, &id, "running") },
			Config:    cfg,
			Destroy:   true,
			ExpectError: regexp.MustCompile(`(?s)Execution context in use.*Cannot delete execution context \d+.*409.*"running".*` +
				`agent \d+.*Waited \d+s.*cancel_on_destroy = true.*stays in the Terraform state`),
		},
		{
			// Still in state: the next plan is empty and the server has it.
			PreConfig: func() {
				if _, ok := srv.Context(id); !ok {
					t.Fatal("the context was deleted")
				}
				srv.setStatus(t, &id, "idle")
			},
			Config:   cfg,
			PlanOnly: true,
		},
	})
}

func TestAccExecutionContextFreedDuringTheWait(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	var id string
	cfg := srv.contextConfig(`title = "finishing"`)
	srv.test(t, []resource.TestStep{
		{Config: cfg, Check: stateID(&id)},
		{
			PreConfig: func() {
				srv.setStatus(t, &id, "running")
				go srv.completeAfterConflict(t, id)
			},
			Config:  cfg,
			Destroy: true,
		},
	})
	if n := srv.Count(http.MethodDelete, itemRoute, 409); n < 1 {
		t.Errorf("%d DELETE 409s, want the destroy to have waited", n)
	}
}

// completeAfterConflict finishes the run once a delete has been refused, as
// an agent finishing its work would. It gives up after ten seconds.
func (s testServer) completeAfterConflict(t *testing.T, id string) {
	deadline := time.Now().Add(10 * time.Second)
	for s.Count(http.MethodDelete, itemRoute, 409) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.SetStatus(id, "completed"); err != nil {
		t.Error(err)
	}
}

func TestAccExecutionContextWaitingForInputFailsAtOnce(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	var id string
	cfg := srv.contextConfig(`title = "asking"`) // the default delete timeout: minutes
	var started time.Time
	srv.test(t, []resource.TestStep{
		{Config: cfg, Check: stateID(&id)},
		{
			PreConfig: func() {
				srv.setStatus(t, &id, "waiting_for_input")
				srv.ResetRequests()
				started = time.Now()
			},
			Config:      cfg,
			Destroy:     true,
			ExpectError: regexp.MustCompile(`(?s)"waiting_for_input".*waiting for input from a person.*answer the pending input request`),
		},
		{
			PreConfig: func() {
				if n := srv.Count(http.MethodDelete, itemRoute, 409); n != 1 {
					t.Errorf("%d DELETE attempts, want exactly 1: nothing is waited for", n)
				}
				if d := time.Since(started); d > time.Minute {
					t.Errorf("destroy took %v", d)
				}
				srv.setStatus(t, &id, "idle")
			},
			Config:   cfg,
			PlanOnly: true,
		},
	})
}

func TestAccExecutionContextCancelOnDestroy(t *testing.T) {
	preCheck(t) // before the subtests, whose outcome it checks
	for _, status := range []string{"running", "waiting_for_input"} {
		t.Run(status, func(t *testing.T) {
			srv := startServer(t, localserver.Options{})
			var id string
			cfg := srv.contextConfig(`title = "cancel me"`, "cancel_on_destroy = true")
			srv.test(t, []resource.TestStep{
				{Config: cfg, Check: stateID(&id)},
				{PreConfig: func() { srv.setStatus(t, &id, status) }, Config: cfg, Destroy: true},
			})
			if n := srv.Count(http.MethodPost, "/ai/execution-contexts/{id}/execute", 200); n != 1 {
				t.Errorf("%d cancel requests, want 1", n)
			}
		})
	}
}

func TestAccExecutionContextBadInputs(t *testing.T) {
	preCheck(t) // before the subtests, whose outcome it checks
	srv := startServer(t, localserver.Options{})
	cases := []struct {
		name, body, want string
	}{
		{"non-numeric agent", `agent_id = "support-bot"`, `(?s)Invalid Wacht id.*agent_id.*decimal integer`},
		{"path in agent", `agent_id = "../agents/1"`, `(?s)Invalid Wacht id.*agent_id`},
		{"unknown agent", `agent_id = "123456789"`, `(?s)Unknown agent.*agent_id.*no agent 123456789 exists`},
		{"bad timeout", "timeouts {\n    delete = \"forever\"\n  }", `(?s)Invalid Attribute Value Time Duration.*delete = "forever"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps:                    []resource.TestStep{{Config: srv.contextConfig(tc.body), ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts created from bad input", n)
	}
}

func TestAccExecutionContextForbiddenWrites(t *testing.T) {
	srv := startServer(t, localserver.Options{ReadOnlyAPIKey: "sk_test_read_only"})
	var id string
	cfg := srv.contextConfig(`title = "protected by role"`)
	readOnly := strings.Replace(cfg, srv.APIKey(), "sk_test_read_only", 1)
	srv.test(t, []resource.TestStep{
		{Config: cfg, Check: stateID(&id)},
		{
			Config:      strings.Replace(readOnly, "protected by role", "renamed", 1),
			ExpectError: regexp.MustCompile(`(?s)Error updating execution context \d+.*HTTP 403.*lacks the permission for updating\s+execution\s+context\s+\d+`),
		},
		{
			Config:      readOnly,
			Destroy:     true,
			ExpectError: regexp.MustCompile(`(?s)Error deleting execution context \d+.*HTTP 403.*lacks the permission for deleting\s+execution\s+context\s+\d+`),
		},
		{Config: cfg, PlanOnly: true},
	})
}

// A refused cancel fails the destroy with the API's word, and stops there:
// no delete is tried on a context the key cannot free.
func TestDeleteWhenTheCancelIsRefused(t *testing.T) {
	backend, err := localserver.New(localserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A key whose role may delete contexts but not run them.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/execute") {
			http.Error(w, "Permission denied for this resource", http.StatusForbidden)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	ec := backend.AddContext(localserver.ExecutionContext{Title: "held", Status: "running"})
	client, err := wacht.New(wacht.Config{BaseURL: front.URL, APIKey: backend.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	deletion{client: client, id: ec.ID, cancelOnDestroy: true, timeout: time.Minute}.run(context.Background(), &diags)
	if !diags.HasError() || diags[0].Summary() != "Error cancelling the run of execution context "+ec.ID ||
		!strings.Contains(diags[0].Detail(), "HTTP 403") {
		t.Fatalf("diagnostics %v, want the refused cancel named", diags)
	}
	if _, ok := backend.Context(ec.ID); !ok {
		t.Error("the context is gone")
	}
}

// A context gone between the refresh and the delete is no failure: the
// resource's delete is run directly, as Terraform would after a refresh.
func TestDeleteOfAContextAlreadyGone(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	ec := srv.AddContext(localserver.ExecutionContext{Title: "ghost"})
	srv.RemoveContext(ec.ID)
	client, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: srv.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	deletion{client: client, id: ec.ID, timeout: time.Minute}.run(context.Background(), &diags)
	if diags.HasError() {
		t.Fatalf("delete of a gone context failed: %v", diags)
	}
	if n := srv.Count(http.MethodDelete, itemRoute, 404); n != 1 {
		t.Errorf("%d DELETE 404s, want 1", n)
	}
}

// The warnings a plan prints are only on the CLI's output, so these run
// the CLI directly.
func TestAccPlanWarnsAboutContextsInUse(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	other := srv.AddAgent("billing-bot", "").ID
	resources := func(agentOfB string) string {
		return srv.providerBlock() +
			"resource \"wacht_execution_context\" \"a\" {\n  title = \"a\"\n  timeouts {\n    delete = \"90s\"\n  }\n}\n" +
			fmt.Sprintf("resource \"wacht_execution_context\" \"b\" {\n  title = \"b\"\n  agent_id = %q\n  cancel_on_destroy = true\n}\n", agentOfB) +
			"resource \"wacht_execution_context\" \"c\" {\n  title = \"c\"\n}\n" +
			"resource \"wacht_execution_context\" \"d\" {\n  title = \"d\"\n}\n"
	}
	c := newCLI(t, resources(srv.agentID))
	c.must("apply", "-auto-approve", "-no-color")
	ids := map[string]string{}
	for _, ec := range srv.Contexts() {
		ids[ec.Title] = ec.ID
	}
	for title, status := range map[string]string{"a": "running", "b": "running", "c": "waiting_for_input"} {
		srv.setStatus(t, ptr(ids[title]), status)
	}

	warnings := c.planWarnings("-destroy")
	for _, want := range []string{
		`destroy execution context ` + ids["a"] + `, which is in use \(status "running"\)\. Apply will wait up to 1m30s \(timeouts.delete\)`,
		`destroy execution context ` + ids["b"] + `, which is in use \(status "running"\)\. Apply will cancel its run, since cancel_on_destroy is true`,
		`destroy execution context ` + ids["c"] + `, which is in use \(status "waiting_for_input"\)\. Apply will fail at once`,
	} {
		if !slices.ContainsFunc(warnings, regexp.MustCompile(want).MatchString) {
			t.Errorf("destroy plan lacks %s; warnings: %q", want, warnings)
		}
	}
	if len(warnings) != 3 {
		t.Errorf("%d warnings, want one for each of the 3 contexts in use (none for the idle one): %q", len(warnings), warnings)
	}

	// Replacing b (another agent) warns for b alone.
	c.write(resources(other))
	if warnings := c.planWarnings(); len(warnings) != 1 || !strings.Contains(warnings[0], "replace execution context "+ids["b"]) {
		t.Errorf("replace plan warns %q, want one warning for %s", warnings, ids["b"])
	}

	// Nothing in use is touched: no warning.
	c.write(resources(srv.agentID))
	if warnings := c.planWarnings(); len(warnings) != 0 {
		t.Errorf("a plan that removes nothing warns %q", warnings)
	}
	for _, title := range []string{"a", "b", "c"} {
		srv.setStatus(t, ptr(ids[title]), "idle")
	}
	c.must("destroy", "-auto-approve", "-no-color")
}

func ptr[T any](v T) *T { return &v }

func TestAccDeletionProtection(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	other := srv.AddAgent("billing-bot", "").ID
	var id string
	protected := srv.contextConfig(`title = "keep me"`, fmt.Sprintf("agent_id = %q", srv.agentID), "deletion_protection = true")
	srv.test(t, []resource.TestStep{
		{Config: protected, Check: resource.ComposeAggregateTestCheckFunc(stateID(&id), resource.TestCheckResourceAttr(ctxAddr, "deletion_protection", "true"))},
		{
			Config:      protected,
			Destroy:     true,
			ExpectError: regexp.MustCompile(`(?s)Execution context is protected from deletion.*destroy execution\s+context \d+.*deletion_protection = false`),
		},
		{
			Config:      srv.contextConfig(`title = "keep me"`, fmt.Sprintf("agent_id = %q", other), "deletion_protection = true"),
			ExpectError: regexp.MustCompile(`(?s)protected from deletion.*replace execution\s+context`),
		},
		{
			// Lifting the protection touches nothing on the server.
			PreConfig: func() {
				if _, ok := srv.Context(id); !ok {
					t.Fatal("the protected context is gone")
				}
				srv.ResetRequests()
			},
			Config: srv.contextConfig(`title = "keep me"`, fmt.Sprintf("agent_id = %q", srv.agentID), "deletion_protection = false"),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionUpdate)},
			},
			Check: func(*terraform.State) error {
				for rs, n := range srv.Requests() {
					if rs.Method != http.MethodGet && n > 0 {
						return fmt.Errorf("%d %s %s requests while lifting the protection", n, rs.Method, rs.Route)
					}
				}
				return nil
			},
		},
	})
}
