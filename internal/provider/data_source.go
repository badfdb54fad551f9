package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// clientDataSource gives the data sources that embed it the provider's client.
type clientDataSource struct {
	client *wacht.Client
}

func (d *clientDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// contextAttributes is the read-only schema of every contextFields
// attribute, for the data sources that output contexts.
func contextAttributes() map[string]schema.Attribute {
	attrs := make(map[string]schema.Attribute, len(contextFieldDescriptions))
	for name, desc := range contextFieldDescriptions {
		attrs[name] = schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	return attrs
}
