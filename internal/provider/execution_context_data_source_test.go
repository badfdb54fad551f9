package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func contextDataBlock(id string) string {
	return fmt.Sprintf("data \"wacht_execution_context\" \"one\" {\n  id = %q\n}\n", id)
}

func TestAccExecutionContextDataSource(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	instructions, group := "Be brief.", "support"
	done := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	ec := srv.AddContext(localserver.ExecutionContext{
		Title: "Ticket 4711", SystemInstructions: &instructions, ContextGroup: &group, AgentID: &srv.agentID,
		Status: localserver.StatusCompleted, CompletedAt: &done,
	})
	bare := srv.AddContext(localserver.ExecutionContext{})
	stamp := func(t time.Time) knownvalue.Check { return knownvalue.StringExact(t.Format(time.RFC3339Nano)) }
	const addr = "data.wacht_execution_context.one"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config: srv.withBlocks(contextDataBlock(ec.ID)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("title"), knownvalue.StringExact("Ticket 4711")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("system_instructions"), knownvalue.StringExact(instructions)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("context_group"), knownvalue.StringExact(group)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("agent_id"), knownvalue.StringExact(srv.agentID)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("completed")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("deployment_id"), knownvalue.StringExact(srv.DeploymentID())),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("created_at"), stamp(ec.CreatedAt)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("updated_at"), stamp(ec.UpdatedAt)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("last_activity_at"), stamp(ec.LastActivityAt)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("completed_at"), stamp(done)),
				},
			},
			{
				// Null fields stay null, and title is "" rather than null.
				Config: srv.withBlocks(contextDataBlock(bare.ID)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("title"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("system_instructions"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("context_group"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("agent_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("idle")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("completed_at"), knownvalue.Null()),
				},
			},
		},
	})
}

func TestAccExecutionContextDataSourceErrors(t *testing.T) {
	preCheck(t) // before the subtests, whose requests it counts
	srv := startServer(t, localserver.Options{})
	gone := srv.AddContext(localserver.ExecutionContext{Title: "deleted"})
	srv.RemoveContext(gone.ID)
	cases := []struct {
		name, id, want string
	}{
		{"not a number", "ctx_123", `(?s)Invalid Wacht id.*id.*decimal integer`},
		{"a path", "../agents/1", `(?s)Invalid Wacht id`},
		{"deleted", gone.ID, `(?s)Execution context not found.*no execution context with id ` + gone.ID + ` exists`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps:                    []resource.TestStep{{Config: srv.withBlocks(contextDataBlock(tc.id)), ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
	// Only the well-formed id was asked for.
	if n, all := srv.Count(http.MethodGet, itemRoute, 404), srv.Count(http.MethodGet, itemRoute, -1); n < 1 || n != all {
		t.Errorf("%d GETs, %d of them 404, want only 404s for the deleted context", all, n)
	}
}
