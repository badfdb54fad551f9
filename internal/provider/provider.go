// Package provider is the Terraform glue over the Wacht API client: schemas,
// plans and diagnostics. It knows nothing of HTTP; internal/wacht does.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	envAPIKey  = "WACHT_API_KEY"
	envBaseURL = "WACHT_API_URL"
	// envRateBudget = "process" paces each provider process alone, at fixed
	// limits, as before budgets were shared: for comparisons and as a way out.
	envRateBudget = "WACHT_RATE_BUDGET"

	defaultMaxRetries     = 5
	defaultRequestTimeout = 60 * time.Second
)

var _ provider.Provider = (*wachtProvider)(nil)

type wachtProvider struct {
	version string
}

// New returns the provider factory providerserver wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &wachtProvider{version: version} }
}

type providerModel struct {
	APIKey         types.String `tfsdk:"api_key"`
	BaseURL        types.String `tfsdk:"base_url"`
	MaxRetries     types.Int64  `tfsdk:"max_retries"`
	RequestTimeout types.String `tfsdk:"request_timeout"`
	RateLimits     types.Object `tfsdk:"rate_limits"`
	BatchReads     types.Bool   `tfsdk:"batch_reads"`
}

type rateLimitsModel struct {
	Read   types.Object `tfsdk:"read"`
	Create types.Object `tfsdk:"create"`
	Update types.Object `tfsdk:"update"`
	Delete types.Object `tfsdk:"delete"`
}

type rateModel struct {
	PerMinute types.Float64 `tfsdk:"per_minute"`
	Burst     types.Int64   `tfsdk:"burst"`
}

func (p *wachtProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "wacht"
	resp.Version = p.version
}

func (p *wachtProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	documented := wacht.DocumentedLimits()
	rate := func(op string, def wacht.Rate) schema.SingleNestedAttribute {
		return schema.SingleNestedAttribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("Client-side limit for %s requests. Defaults to the documented %g per minute, burst %d.",
				op, def.PerMinute, def.Burst),
			Attributes: map[string]schema.Attribute{
				"per_minute": schema.Float64Attribute{
					Required:            true,
					MarkdownDescription: "Sustained requests per minute. `0` switches client-side limiting off for this operation (429 answers are still retried).",
					Validators:          []validator.Float64{float64validator.AtLeast(0)},
				},
				"burst": schema.Int64Attribute{
					Required:            true,
					MarkdownDescription: "Requests that may go at once before the sustained rate applies.",
					Validators:          []validator.Int64{int64validator.AtLeast(1)},
				},
			},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages execution contexts of Wacht AI agents.",
		Attributes: map[string]schema.Attribute{
			"api_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Wacht API key. Falls back to the `" + envAPIKey + "` environment variable.",
			},
			"base_url": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Base URL of the Wacht API. Falls back to the `" + envBaseURL + "` environment variable, then `" +
					wacht.DefaultBaseURL + "`. Plain `http://` is accepted only for loopback hosts such as the local server.",
				Validators: []validator.String{baseURLValidator()},
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many times a request is retried after a server or network error when "+
					"repeating it is safe (never for a create). 429 answers (rate limit exceeded) do not count: they are waited "+
					"out, as the API asks, for as long as the operation's timeout allows. Defaults to %d.", defaultMaxRetries),
				Validators: []validator.Int64{int64validator.Between(0, 50)},
			},
			"request_timeout": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: fmt.Sprintf("Time limit for one HTTP request, as a duration such as `30s`. Defaults to `%s`.", defaultRequestTimeout),
				Validators:          []validator.String{durationValidator()},
			},
			"batch_reads": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "When many contexts are refreshed at once, read them from list pages (100 contexts a " +
					"request) instead of one request each, so a plan of hundreds of contexts stays within the read limit. A " +
					"context missing from a page is still confirmed with its own request before it leaves the state. Defaults to `true`.",
			},
			"rate_limits": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Client-side rate limits, so that a plan or destroy of many contexts stays under the API's " +
					"limits instead of bouncing off 429 answers. The API limits per key: every run on this machine with the same " +
					"API key and base URL draws on one budget, kept in the user cache directory, and a 429 answer lowers the rate " +
					"the provider allows itself until it climbs back, never above these limits. The defaults are the documented " +
					"limits; raise them only as far as your Wacht plan allows. Limits above the plan's do not fail a run, but " +
					"cost 429 answers and gain no speed.",
				Attributes: map[string]schema.Attribute{
					"read":   rate("list and get", documented.Read),
					"create": rate("create", documented.Create),
					"update": rate("update and cancel", documented.Update),
					"delete": rate("delete", documented.Delete),
				},
			},
		},
	}
}

func (p *wachtProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if unknown := unknownAttributes(cfg); len(unknown) > 0 {
		if req.ClientCapabilities.DeferralAllowed {
			resp.Deferred = &provider.Deferred{Reason: provider.DeferredReasonProviderConfigUnknown}
			return
		}
		for _, name := range unknown {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				fmt.Sprintf("The Wacht provider cannot be configured while %s is unknown. Set it to a value known at plan time, "+
					"or apply the resources it depends on first with -target.", name))
		}
		return
	}

	apiKey := stringOr(cfg.APIKey, os.Getenv(envAPIKey))
	if apiKey == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_key"), "Missing Wacht API key",
			"Set api_key in the provider block or the "+envAPIKey+" environment variable. "+
				"For the local server, use the key it prints when it starts.")
	}
	baseURL := stringOr(cfg.BaseURL, os.Getenv(envBaseURL))
	if _, err := wacht.ParseBaseURL(baseURL); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("base_url"), "Invalid Wacht base URL",
			fmt.Sprintf("%s (from %s).", err, sourceOf(cfg.BaseURL, envBaseURL)))
	}
	timeout := defaultRequestTimeout
	if !cfg.RequestTimeout.IsNull() {
		timeout, _ = time.ParseDuration(cfg.RequestTimeout.ValueString()) // checked by its validator
	}
	maxRetries := int64(defaultMaxRetries)
	if !cfg.MaxRetries.IsNull() {
		maxRetries = cfg.MaxRetries.ValueInt64()
	}
	limits := p.limits(ctx, cfg.RateLimits, resp)
	budget := os.Getenv(envRateBudget)
	if budget != "" && budget != "machine" && budget != "process" {
		resp.Diagnostics.AddError("Invalid "+envRateBudget,
			fmt.Sprintf("%s is %q; use \"machine\" (the default: one rate budget per API key on this machine) or \"process\" (each run paces only itself).", envRateBudget, budget))
	}
	if resp.Diagnostics.HasError() {
		return
	}

	client, err := wacht.New(wacht.Config{
		BaseURL:          baseURL,
		APIKey:           apiKey,
		UserAgent:        fmt.Sprintf("terraform-provider-wacht/%s Terraform/%s", p.version, req.TerraformVersion),
		MaxRetries:       int(maxRetries),
		RequestTimeout:   timeout,
		Limits:           &limits,
		PerProcessBudget: budget == "process",
		Logger:           tflogLogger{},
		Detach:           outliveRPC,
		// Batching is on unless switched off.
		DisableReadBatching: !cfg.BatchReads.IsNull() && !cfg.BatchReads.ValueBool(),
	})
	if err != nil {
		resp.Diagnostics.AddError("Unable to configure the Wacht client", err.Error())
		return
	}
	resp.ResourceData = client
	resp.DataSourceData = client
	resp.ListResourceData = client
	resp.ActionData = client
}

// unknownAttributes names the settings whose values are not known yet, as
// when they come from a resource that is still to be created.
func unknownAttributes(cfg providerModel) []string {
	var out []string
	for name, v := range map[string]attr.Value{
		"api_key": cfg.APIKey, "base_url": cfg.BaseURL, "max_retries": cfg.MaxRetries,
		"request_timeout": cfg.RequestTimeout, "rate_limits": cfg.RateLimits, "batch_reads": cfg.BatchReads,
	} {
		if v.IsUnknown() {
			out = append(out, name)
		}
	}
	return out
}

// limits merges the configured rates over the documented ones.
func (p *wachtProvider) limits(ctx context.Context, obj types.Object, resp *provider.ConfigureResponse) wacht.Limits {
	limits := wacht.DocumentedLimits()
	if obj.IsNull() {
		return limits
	}
	var m rateLimitsModel
	resp.Diagnostics.Append(obj.As(ctx, &m, objectAsOptions)...)
	for _, op := range []struct {
		value types.Object
		rate  *wacht.Rate
	}{{m.Read, &limits.Read}, {m.Create, &limits.Create}, {m.Update, &limits.Update}, {m.Delete, &limits.Delete}} {
		if op.value.IsNull() || op.value.IsUnknown() {
			continue
		}
		var r rateModel
		resp.Diagnostics.Append(op.value.As(ctx, &r, objectAsOptions)...)
		*op.rate = wacht.Rate{PerMinute: r.PerMinute.ValueFloat64(), Burst: int(r.Burst.ValueInt64())}
	}
	return limits
}

func stringOr(v types.String, fallback string) string {
	if v.IsNull() {
		return fallback
	}
	return v.ValueString()
}

func sourceOf(v types.String, env string) string {
	if v.IsNull() {
		return "the " + env + " environment variable"
	}
	return "the provider block"
}

func (p *wachtProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newExecutionContextResource,
	}
}

func (p *wachtProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newExecutionContextsDataSource,
		newExecutionContextDataSource,
		newAgentDataSource,
	}
}

func (p *wachtProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{
		newExecutionContextListResource,
	}
}

func (p *wachtProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{
		newExecutionContextPurgeAction,
	}
}

// tflogLogger routes the client's request lines to Terraform's log. The
// client never hands it the API key.
type tflogLogger struct{}

func (tflogLogger) Debug(ctx context.Context, msg string, fields map[string]any) {
	tflog.Debug(ctx, msg, fields)
}
