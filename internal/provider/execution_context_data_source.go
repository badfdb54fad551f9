package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

var _ datasource.DataSourceWithConfigure = (*executionContextDataSource)(nil)

type executionContextDataSource struct {
	clientDataSource
}

func newExecutionContextDataSource() datasource.DataSource { return &executionContextDataSource{} }

func (d *executionContextDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_execution_context"
}

func (d *executionContextDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := contextAttributes()
	attrs["id"] = schema.StringAttribute{
		Required:            true,
		MarkdownDescription: contextFieldDescriptions["id"] + " The context to read.",
		Validators:          []validator.String{idValidator()},
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one execution context by its id. A context that does not exist is an error.",
		Attributes:          attrs,
	}
}

func (d *executionContextDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg contextFields
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := cfg.ID.ValueString()
	ec, err := d.client.GetExecutionContext(ctx, id)
	if errors.Is(err, wacht.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Execution context not found",
			fmt.Sprintf("id: no execution context with id %s exists in this deployment: it was deleted, or never existed.", id))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "reading", resourceName, id, err)
		return
	}
	state := newContextFields(ec)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
