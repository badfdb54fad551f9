package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	// maxNearMatches bounds the names listed when no agent has the exact name.
	maxNearMatches = 10
)

var (
	_ datasource.DataSourceWithConfigure        = (*agentDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*agentDataSource)(nil)
)

type agentDataSource struct {
	clientDataSource
}

func newAgentDataSource() datasource.DataSource { return &agentDataSource{} }

type agentModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Description  types.String `tfsdk:"description"`
	DeploymentID types.String `tfsdk:"deployment_id"`
	CreatedAt    types.String `tfsdk:"created_at"`
	UpdatedAt    types.String `tfsdk:"updated_at"`
}

func newAgentModel(a *wacht.Agent) agentModel {
	return agentModel{
		ID:           types.StringValue(a.ID),
		Name:         types.StringValue(a.Name),
		Description:  types.StringPointerValue(a.Description),
		DeploymentID: types.StringValue(a.DeploymentID),
		CreatedAt:    timestamp(a.CreatedAt),
		UpdatedAt:    timestamp(a.UpdatedAt),
	}
}

func (d *agentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_agent"
}

func (d *agentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds one agent of the deployment, by id or by exact name, typically to get the `agent_id` " +
			"of execution contexts. Exactly one of `id` and `name` must be set.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Id of the agent, a decimal integer.",
				Validators:          []validator.String{idValidator()},
			},
			"name": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Exact name of the agent (case-sensitive). Names are not unique: when no agent or " +
					"more than one has this name, reading fails and says which agents come close or which ids share it.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"description":   computed("Description of the agent, or null."),
			"deployment_id": computed("Id of the Wacht deployment the agent belongs to."),
			"created_at":    computed("When the agent was created (RFC 3339)."),
			"updated_at":    computed("When the agent was last changed (RFC 3339)."),
		},
	}
}

func (d *agentDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *agentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg agentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var agent *wacht.Agent
	if cfg.ID.IsNull() {
		agent = d.byName(ctx, cfg.Name.ValueString(), &resp.Diagnostics)
	} else {
		agent = d.byID(ctx, cfg.ID.ValueString(), &resp.Diagnostics)
	}
	if agent == nil {
		return
	}
	state := newAgentModel(agent)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (d *agentDataSource) byID(ctx context.Context, id string, diags *diag.Diagnostics) *wacht.Agent {
	agent, err := d.client.GetAgent(ctx, id)
	switch {
	case errors.Is(err, wacht.ErrNotFound):
		diags.AddAttributeError(path.Root("id"), "Agent not found", fmt.Sprintf("id: no agent %s exists in this deployment.", id))
	case err != nil:
		addAPIError(diags, "reading", "agent", id, err)
	}
	return agent
}

// byName finds the one agent named exactly name among those the API's
// substring search returns.
func (d *agentDataSource) byName(ctx context.Context, name string, diags *diag.Diagnostics) *wacht.Agent {
	exact, near, err := d.search(ctx, name)
	if err != nil {
		addAPIError(diags, "searching", "agents named", fmt.Sprintf("%q", name), err)
		return nil
	}
	switch len(exact) {
	case 1:
		return &exact[0]
	case 0:
		diags.AddAttributeError(path.Root("name"), "Agent not found",
			fmt.Sprintf("name: no agent named %q exists in this deployment. %s", name, nearMatches(name, near)))
	default:
		ids := make([]string, len(exact))
		for i, a := range exact {
			ids[i] = a.ID
		}
		slices.SortFunc(ids, shortlex)
		diags.AddAttributeError(path.Root("name"), "Agent name is ambiguous",
			fmt.Sprintf("name: %d agents are named %q, with ids %s. Names are not unique: set id instead to pick one.",
				len(exact), name, strings.Join(ids, ", ")))
	}
	return nil
}

// search splits the agents whose name contains name into those named
// exactly so and the rest.
func (d *agentDataSource) search(ctx context.Context, name string) (exact, near []wacht.Agent, err error) {
	for a, err := range d.client.Agents(ctx, name) {
		if err != nil {
			return nil, nil, err
		}
		if a.Name == name {
			exact = append(exact, *a)
		} else {
			near = append(near, *a)
		}
	}
	return exact, near, nil
}

// nearMatches names up to maxNearMatches agents whose name contains name, to
// point out a typo or a case mismatch. Shortest names come first: they add
// the least to name, so they are the likeliest meant.
func nearMatches(name string, near []wacht.Agent) string {
	if len(near) == 0 {
		return fmt.Sprintf("No agent's name contains %q either.", name)
	}
	names := make([]string, len(near))
	for i, a := range near {
		names[i] = a.Name
	}
	slices.SortFunc(names, shortlex)
	quoted := make([]string, 0, maxNearMatches)
	for _, n := range names[:min(len(names), maxNearMatches)] {
		quoted = append(quoted, fmt.Sprintf("%q", n))
	}
	text := "Agents whose names contain it: " + strings.Join(quoted, ", ")
	if more := len(names) - maxNearMatches; more > 0 {
		text += fmt.Sprintf(" and %d more", more)
	}
	return text + "."
}
