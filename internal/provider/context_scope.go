package provider

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// contextScope picks an agent's contexts; the data source, the list
// resource and the purge action share it.
type contextScope struct {
	AgentID      types.String `tfsdk:"agent_id"`
	Status       types.String `tfsdk:"status"`
	ContextGroup types.String `tfsdk:"context_group"`
}

// walk lists every context of the scope. The server filters, and the walk
// checks every context it yields against the same filters again.
// context_group = "" is the empty group, exactly, as the API matches it.
func (s contextScope) walk(ctx context.Context, client *wacht.Client) iter.Seq2[*wacht.ExecutionContext, error] {
	return client.ExecutionContexts(ctx, wacht.WalkInput{
		AgentID:      s.AgentID.ValueString(),
		Status:       wacht.Status(s.Status.ValueString()),
		ContextGroup: s.ContextGroup.ValueStringPointer(),
		PageSize:     wacht.DefaultPageSize,
	})
}

// groupFilterDescription documents context_group wherever a scope has it.
const groupFilterDescription = "Only contexts of this group, matched exactly. `\"\"` is the empty group: it matches " +
	"only contexts whose group was set to `\"\"`, not every group; left out, every group matches."

// listingError reports a failed walk, naming the agent.
func listingError(diags *diag.Diagnostics, agentID string, err error) {
	addAPIError(diags, "listing", "execution contexts of agent", agentID, err)
}

// unknownAgent reports on agent_id an agent that does not exist, and
// whether it did: only a 404 from the API itself counts. consequence says
// what that meant for the call, e.g. "so it has no contexts".
func unknownAgent(ctx context.Context, client *wacht.Client, agentID, consequence string, diags *diag.Diagnostics) bool {
	if _, err := client.GetAgent(ctx, agentID); !errors.Is(err, wacht.ErrNotFound) {
		return false
	}
	diags.AddAttributeError(path.Root("agent_id"), "Unknown agent",
		fmt.Sprintf("agent_id: no agent %s exists in this deployment, %s. Use the id of an existing agent, for example "+
			"from the wacht_agent data source.", agentID, consequence))
	return true
}

// noContexts is what an unknown agent means for a listing: it tells a typo
// in agent_id from an agent without contexts, which the API lists alike.
const noContexts = "so it has no contexts"
