// Command noop-provider is the floor of the benchmarks in bench_test.go: a
// terraform-plugin-framework provider whose one resource, noop_thing,
// reaches nothing, built and started as Terraform starts any provider. A
// plan of many of them is the cost of Terraform, the framework and the
// protocol alone. With NOOP_DELETES=<per minute>/<burst>, its deletes wait on
// a token bucket of that rate, and do nothing else.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/time/rate"
)

func main() {
	var deletes *rate.Limiter
	if spec := os.Getenv("NOOP_DELETES"); spec != "" {
		var perMinute float64
		var burst int
		if _, err := fmt.Sscanf(spec, "%g/%d", &perMinute, &burst); err != nil {
			log.Fatalf("NOOP_DELETES=%q: want <per minute>/<burst>: %v", spec, err)
		}
		deletes = rate.NewLimiter(rate.Limit(perMinute/60), burst)
	}
	err := providerserver.Serve(context.Background(), func() provider.Provider { return noopProvider{deletes: deletes} },
		providerserver.ServeOpts{Address: "registry.terraform.io/hashicorp/noop"})
	if err != nil {
		log.Fatal(err)
	}
}

type noopProvider struct {
	deletes *rate.Limiter
}

func (noopProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "noop"
}

func (noopProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p noopProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return noopResource(p) }}
}

func (noopProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

type noopResource struct {
	deletes *rate.Limiter
}

type noopModel struct {
	ID types.String `tfsdk:"id"`
}

func (noopResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_thing"
}

func (noopResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
	}}
}

func (noopResource) Create(ctx context.Context, _ resource.CreateRequest, resp *resource.CreateResponse) {
	resp.Diagnostics.Append(resp.State.Set(ctx, noopModel{ID: types.StringValue("noop")})...)
}

// Read keeps the state as it is: the framework starts from the prior state.
func (noopResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (noopResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (r noopResource) Delete(ctx context.Context, _ resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.deletes == nil {
		return
	}
	if err := r.deletes.Wait(ctx); err != nil {
		resp.Diagnostics.AddError("Deleting a noop_thing", err.Error())
	}
}
