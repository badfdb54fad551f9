package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

var (
	_ list.ListResourceWithConfigure     = (*executionContextListResource)(nil)
	_ provider.ProviderWithListResources = (*wachtProvider)(nil)
)

// executionContextListResource lists an agent's contexts for `terraform
// query` (Terraform 1.14+). The framework pairs it with the resource by their
// type name.
type executionContextListResource struct {
	client *wacht.Client
}

func newExecutionContextListResource() list.ListResource { return &executionContextListResource{} }

func (r *executionContextListResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = executionContextType(req.ProviderTypeName)
}

func (r *executionContextListResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *executionContextListResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the execution contexts of one agent for `terraform query` (Terraform 1.14+), every " +
			"page of them, each exactly once even while contexts change during the listing. Each result carries the " +
			"context's identity (its id), its title as display name and, with `include_resource = true`, all its " +
			"attributes; `terraform query -generate-config-out` turns the results into `import` blocks.",
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
		},
	}
}

// List streams the contexts as the walker yields them, page by page, and
// stops reading pages once Terraform has the results it asked for.
func (r *executionContextListResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var scope contextScope
	if diags := req.Config.Get(ctx, &scope); diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	noTimeouts, diags := nullTimeouts(ctx, req)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	agentID := scope.AgentID.ValueString()
	stream.Results = func(push func(list.ListResult) bool) {
		var listed int64
		for ec, err := range scope.walk(ctx, r.client) {
			if err != nil {
				var diags diag.Diagnostics
				listingError(&diags, agentID, err)
				push(list.ListResult{Diagnostics: diags})
				return
			}
			if !push(r.result(ctx, req, ec, noTimeouts)) {
				return
			}
			if listed++; listed == req.Limit {
				return
			}
		}
		if listed == 0 {
			var diags diag.Diagnostics
			if unknownAgent(ctx, r.client, agentID, noContexts, &diags) {
				push(list.ListResult{Diagnostics: diags})
			}
		}
	}
}

// nullTimeouts is a listed context's timeouts block: absent, as after an
// import, but of the type the resource's schema gives the block, which the
// framework checks.
func nullTimeouts(ctx context.Context, req list.ListRequest) (timeouts.Value, diag.Diagnostics) {
	typ, diags := req.ResourceSchema.TypeAtPath(ctx, path.Root("timeouts"))
	block, ok := typ.(timeouts.Type)
	if !ok {
		diags.AddError("Unexpected timeouts type", fmt.Sprintf("Expected timeouts.Type, got %T. Please report this issue to the provider developers.", typ))
	}
	return timeouts.Value{Object: types.ObjectNull(block.AttrTypes)}, diags
}

func (r *executionContextListResource) result(ctx context.Context, req list.ListRequest, ec *wacht.ExecutionContext, noTimeouts timeouts.Value) list.ListResult {
	result := req.NewListResult(ctx)
	result.DisplayName = ec.Title
	if result.DisplayName == "" {
		result.DisplayName = "untitled context " + ec.ID
	}
	setIdentity(ctx, result.Identity, types.StringValue(ec.ID), &result.Diagnostics)
	if req.IncludeResource {
		// The resource as an import would read it.
		m := executionContextResourceModel{contextFields: newContextFields(ec), Timeouts: noTimeouts}
		m.defaultSettings()
		result.Diagnostics.Append(result.Resource.Set(ctx, &m)...)
	}
	return result
}
