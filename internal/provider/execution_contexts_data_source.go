package provider

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

var _ datasource.DataSourceWithConfigure = (*executionContextsDataSource)(nil)

type executionContextsDataSource struct {
	clientDataSource
}

func newExecutionContextsDataSource() datasource.DataSource { return &executionContextsDataSource{} }

type executionContextsModel struct {
	contextScope
	TitlePrefix types.String    `tfsdk:"title_prefix"`
	IDs         []string        `tfsdk:"ids"`
	Contexts    []contextFields `tfsdk:"contexts"`
}

func (d *executionContextsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_execution_contexts"
}

// orderNote documents the output order, which callers may rely on.
const orderNote = " Sorted by `created_at`, oldest first, then by id. Unlike the API's own order (latest activity first), " +
	"this order does not change while contexts run, so indexes into the list stay put between plans."

func (d *executionContextsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the execution contexts of one agent, every page of them, each exactly once even while " +
			"contexts change during the listing. Together with `import` blocks it adopts an agent's contexts for bulk " +
			"removal with `terraform destroy` (see the bulk-removal example).",
		Attributes: map[string]schema.Attribute{
			"agent_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Id of the agent whose contexts to list. An agent that does not exist is an error.",
				Validators:          []validator.String{idValidator()},
			},
			"status": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only contexts in this status: one of " + quotedStatuses() + ".",
				Validators:          []validator.String{stringvalidator.OneOf(statusNames()...)},
			},
			"context_group": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: groupFilterDescription,
			},
			"title_prefix": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only contexts whose title starts with this text (case-sensitive). The API cannot " +
					"filter by title, so this filter is applied after listing.",
			},
			"ids": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Ids of the matching contexts." + orderNote,
			},
			"contexts": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching contexts, in the order of `ids`.",
				NestedObject:        schema.NestedAttributeObject{Attributes: contextAttributes()},
			},
		},
	}
}

func (d *executionContextsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m executionContextsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	agentID := m.AgentID.ValueString()
	var found []*wacht.ExecutionContext
	for ec, err := range m.walk(ctx, d.client) {
		if err != nil {
			listingError(&resp.Diagnostics, agentID, err)
			return
		}
		if strings.HasPrefix(ec.Title, m.TitlePrefix.ValueString()) {
			found = append(found, ec)
		}
	}
	if len(found) == 0 && unknownAgent(ctx, d.client, agentID, noContexts, &resp.Diagnostics) {
		return
	}
	slices.SortFunc(found, func(a, b *wacht.ExecutionContext) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), shortlex(a.ID, b.ID))
	})
	m.IDs = make([]string, 0, len(found))
	m.Contexts = make([]contextFields, 0, len(found))
	for _, ec := range found {
		m.IDs = append(m.IDs, ec.ID)
		m.Contexts = append(m.Contexts, newContextFields(ec))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// shortlex orders strings by length, then bytewise: numeric order for
// canonical decimal ids.
func shortlex(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

func statusNames() []string {
	var names []string
	for _, s := range wacht.Statuses() {
		names = append(names, string(s))
	}
	return names
}

func quotedStatuses() string {
	return "`" + strings.Join(statusNames(), "`, `") + "`"
}
