// Package provider is the Terraform glue over the Wacht API client: schemas,
// plans and diagnostics. It knows nothing of HTTP; internal/wacht does.
package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
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
	DeploymentID   types.String `tfsdk:"deployment_id"`
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
					Required: true,
					MarkdownDescription: "Requests that may go at once before the sustained rate applies: at least 1, " +
						"unless `per_minute` is `0`.",
					Validators: []validator.Int64{int64validator.AtLeast(0)},
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
				MarkdownDescription: "Wacht API key. Falls back to the `" + envAPIKey + "` environment variable when left out or empty.",
			},
			"base_url": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Base URL of the Wacht API. Left out or empty, it falls back to the `" + envBaseURL + "` environment variable, then `" +
					wacht.DefaultBaseURL + "`. Plain `http://` is accepted only for loopback hosts such as the local server. " +
					"A wrong base URL answers 404 to everything, just as the API does for a context that is gone, so the " +
					"provider takes a 404 as \"gone\" only after the API's own list route has answered from this base URL. " +
					"Otherwise reads, deletes and imports fail, naming the URL tried, and the state keeps every context.",
				Validators: []validator.String{baseURLValidator()},
			},
			"deployment_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The id of the only deployment this configuration may touch, like the AWS provider's " +
					"`allowed_account_ids`. When set, any context or agent the API returns from another deployment is an " +
					"error, and so is any change made with an API key of another deployment, refused before it is sent. " +
					"A key whose deployment holds no context and no agent shows no deployment: it is taken to be of this " +
					"one, and a context it creates elsewhere is caught on the create's answer (kept in the state, " +
					"tainted). Left out, the provider still never takes a 404 for a context recorded under another deployment than " +
					"the key's as proof that it is gone.",
				Validators: []validator.String{idValidator()},
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
	if unknown := unknownAttributes(req.Config.Raw); len(unknown) > 0 {
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
	if strings.TrimSpace(apiKey) == "" {
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
		DeploymentID:     cfg.DeploymentID.ValueString(),
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
// when they come from a resource that is still to be created, read off the
// configuration itself, in the order the schema's documentation lists them.
func unknownAttributes(config tftypes.Value) []string {
	var attrs map[string]tftypes.Value
	if config.As(&attrs) != nil {
		return nil
	}
	var out []string
	for name, v := range attrs {
		if !v.IsFullyKnown() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
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
		name  string
		value types.Object
		rate  *wacht.Rate
	}{{"read", m.Read, &limits.Read}, {"create", m.Create, &limits.Create}, {"update", m.Update, &limits.Update}, {"delete", m.Delete, &limits.Delete}} {
		if op.value.IsNull() || op.value.IsUnknown() {
			continue
		}
		var r rateModel
		resp.Diagnostics.Append(op.value.As(ctx, &r, objectAsOptions)...)
		*op.rate = wacht.Rate{PerMinute: r.PerMinute.ValueFloat64(), Burst: int(r.Burst.ValueInt64())}
		if op.rate.PerMinute > 0 && op.rate.Burst < 1 {
			resp.Diagnostics.AddAttributeError(path.Root("rate_limits").AtName(op.name).AtName("burst"), "Invalid rate limit",
				fmt.Sprintf("rate_limits.%s.burst: %d is too small: a limit of %g per minute needs a burst of at least 1 "+
					"(per_minute = 0 switches the limit off, and then the burst may be 0).", op.name, op.rate.Burst, op.rate.PerMinute))
		}
	}
	return limits
}

// stringOr is a setting's value, or fallback (its environment variable)
// when it is left out or empty: `api_key = ""` must not hide WACHT_API_KEY,
// nor `base_url = ""` send the key to the default URL.
func stringOr(v types.String, fallback string) string {
	if strings.TrimSpace(v.ValueString()) == "" {
		return fallback
	}
	return v.ValueString()
}

func sourceOf(v types.String, env string) string {
	if strings.TrimSpace(v.ValueString()) == "" {
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
