package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// Import by identity through the CLI, which needs Terraform 1.12 and skips
// on older ones: an import block with an identity adopts a context made
// outside Terraform without changing it, the state keeps the identity, and
// that identity imports the context again.
func TestAccImportByIdentity(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	group := "support"
	ec := srv.AddContext(localserver.ExecutionContext{Title: "Made outside Terraform", ContextGroup: &group, AgentID: &srv.agentID})
	config := srv.contextConfig(`title = "Made outside Terraform"`, `context_group = "support"`, fmt.Sprintf("agent_id = %q", srv.agentID))
	importBlock := fmt.Sprintf("import {\n  to       = %s\n  identity = { id = %q }\n}\n", ctxAddr, ec.ID)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
		CheckDestroy:             srv.destroyed,
		Steps: []resource.TestStep{
			{
				Config: config + importBlock,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctxAddr, plancheck.ResourceActionNoop)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(ctxAddr, map[string]knownvalue.Check{"id": knownvalue.StringExact(ec.ID)}),
					statecheck.ExpectKnownValue(ctxAddr, tfjsonpath.New("id"), knownvalue.StringExact(ec.ID)),
					statecheck.ExpectKnownValue(ctxAddr, tfjsonpath.New("deployment_id"), knownvalue.StringExact(srv.DeploymentID())),
				},
				Check: srv.onServer(&ec.ID, func(now localserver.ExecutionContext) error {
					if !now.UpdatedAt.Equal(ec.UpdatedAt) {
						return fmt.Errorf("the import changed the context: updated_at %s, was %s", now.UpdatedAt, ec.UpdatedAt)
					}
					return nil
				}),
			},
			{
				// The import block comes from the identity in the state.
				Config:          config,
				ResourceName:    ctxAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithResourceIdentity,
			},
		},
	})
}
