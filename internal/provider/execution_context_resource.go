package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	resourceName         = "execution context"
	defaultCreateTimeout = 5 * time.Minute
	defaultDeleteTimeout = 5 * time.Minute
)

// The wait for a running context to free up polls with growing pauses: quick
// for short runs, gentle on the delete rate limit for long ones.
var (
	deletePollFirst = time.Second
	deletePollMax   = 15 * time.Second
)

var (
	_ resource.ResourceWithConfigure      = (*executionContextResource)(nil)
	_ resource.ResourceWithImportState    = (*executionContextResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*executionContextResource)(nil)
	_ resource.ResourceWithIdentity       = (*executionContextResource)(nil)
	_ resource.ResourceWithValidateConfig = (*executionContextResource)(nil)
)

type executionContextResource struct {
	client *wacht.Client
}

func newExecutionContextResource() resource.Resource { return &executionContextResource{} }

type executionContextResourceModel struct {
	contextFields
	CancelOnDestroy    types.Bool     `tfsdk:"cancel_on_destroy"`
	DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// defaultSettings fills the Terraform-only settings an import leaves null.
func (m *executionContextResourceModel) defaultSettings() {
	if m.CancelOnDestroy.IsNull() {
		m.CancelOnDestroy = types.BoolValue(false)
	}
	if m.DeletionProtection.IsNull() {
		m.DeletionProtection = types.BoolValue(false)
	}
}

func (r *executionContextResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = executionContextType(req.ProviderTypeName)
}

// executionContextType is the type name the resource and the list resource
// share: the framework pairs them by it.
func executionContextType(providerTypeName string) string {
	return providerTypeName + "_execution_context"
}

// keepsServerValue is the note on every argument the API cannot clear.
const keepsServerValue = " Left out of the configuration, the attribute keeps the value the server holds and plans no " +
	"change: the API can never clear a field back to null. Set it to `\"\"` to empty it."

func (r *executionContextResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := contextFieldDescriptions
	serverKept := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{
			Optional:            true,
			Computed:            true,
			MarkdownDescription: desc + keepsServerValue,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		}
	}
	stable := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: desc,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		}
	}
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	agentID := schema.StringAttribute{
		Optional: true,
		Computed: true,
		MarkdownDescription: d["agent_id"] + " Changing it replaces the context (the API cannot move a context to another " +
			"agent). Left out of the configuration, it keeps the agent the server holds and plans no change; it cannot " +
			"be emptied, since an agent id is never `\"\"`.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
		Validators:    []validator.String{idValidator()},
	}

	resp.Schema = schema.Schema{
		MarkdownDescription: "An execution context of a Wacht AI agent: the conversation state an agent run works in.\n\n" +
			"Deleting a context that is in use (`running` or `waiting_for_input`) is refused by the API. Destroy waits for a " +
			"`running` context to free up, up to the delete timeout; it fails at once for `waiting_for_input`, which waits on a " +
			"person; with `cancel_on_destroy = true` it cancels the run first. A context that cannot be deleted stays in the state.\n\n" +
			fmt.Sprintf("A create is never sent twice. When its answer is lost (no answer, or a 5xx after the context may have "+
				"been made), the provider adopts the context it made, if any: one with the planned arguments, created after the "+
				"request was sent by the server's clock, that no other address tracks. A create interrupted (the first Ctrl-C) or "+
				"timed out (`timeouts.create`) with its request in flight does the same for up to %s more, and records a context "+
				"it finds in the state with an error (Terraform marks it tainted).", lostCreateSearch),
		Attributes: map[string]schema.Attribute{
			"id":                  stable(d["id"]),
			"title":               serverKept(d["title"]),
			"system_instructions": serverKept(d["system_instructions"]),
			"context_group":       serverKept(d["context_group"]),
			"agent_id":            agentID,
			"cancel_on_destroy": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, destroying a context that is in use cancels its run first (the API then marks " +
					"it `failed`), then deletes it. Defaults to `false`: a running context is waited for, one waiting for input fails the destroy.",
			},
			"deletion_protection": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, the context is never deleted, whatever planned it: `terraform destroy`, a " +
					"`removed` block, a smaller `count` or `for_each`, a change of `agent_id`, `-replace` or `taint`. A plan " +
					"that destroys or replaces it fails where Terraform shows the provider the removal (destroy, `removed`, " +
					"`count`, `for_each`, `agent_id`); `-replace` and `taint` plan a replacement the provider does not see, " +
					"so their apply fails before anything is deleted, and the context stays in the state. Set it to `false` " +
					"and apply (nothing is sent to the API) before removing the resource. Defaults to `false`.",
			},
			"status":           computed(d["status"]),
			"deployment_id":    stable(d["deployment_id"]),
			"created_at":       stable(d["created_at"]),
			"updated_at":       computed(d["updated_at"]),
			"last_activity_at": computed(d["last_activity_at"]),
			"completed_at":     computed(d["completed_at"]),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

// executionContextIdentity is the resource identity (Terraform 1.12+): the
// context id alone names a context.
type executionContextIdentity struct {
	ID types.String `tfsdk:"id"`
}

func (r *executionContextResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				RequiredForImport: true,
				Description:       "The context's id, a decimal integer.",
			},
		},
	}
}

// setIdentity records the identity where the CLI supports identities (it
// passes none otherwise).
func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, id types.String, diags *diag.Diagnostics) {
	if identity != nil {
		diags.Append(identity.Set(ctx, executionContextIdentity{ID: id})...)
	}
}

// ValidateConfig refuses timeouts that are not positive at plan time: the
// timeouts block checks only that they parse.
func (r *executionContextResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	for _, name := range []string{"create", "delete"} {
		at := path.Root("timeouts").AtName(name)
		var v types.String
		if diags := req.Config.GetAttribute(ctx, at, &v); diags.HasError() || v.IsNull() || v.IsUnknown() {
			continue
		}
		if d, err := time.ParseDuration(v.ValueString()); err == nil && d <= 0 {
			resp.Diagnostics.AddAttributeError(at, "Invalid timeout",
				fmt.Sprintf("timeouts.%s: %q is not a positive duration; use one such as \"10m\".", name, v.ValueString()))
		}
	}
}

func (r *executionContextResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *executionContextResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan executionContextResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	in := wacht.CreateExecutionContextInput{
		Title:              knownString(plan.Title),
		SystemInstructions: knownString(plan.SystemInstructions),
		ContextGroup:       knownString(plan.ContextGroup),
		AgentID:            knownString(plan.AgentID),
	}
	ec, err := r.client.CreateExecutionContext(ctx, in)
	var lost *wacht.LostCreateError
	if errors.As(err, &lost) {
		ec, err = r.adoptLostCreate(ctx, lost, timeout, &resp.Diagnostics)
	}
	if ec != nil {
		plan.contextFields = newContextFields(ec)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		setIdentity(ctx, resp.Identity, plan.ID, &resp.Diagnostics)
	}
	if err != nil {
		r.createError(ctx, plan, ec != nil, err, &resp.Diagnostics)
	}
}

// lostCreateSearch is how long the search for a lost create's context goes
// on once Terraform interrupted the create or its timeout ran out: Terraform
// waits for it before it stops.
const lostCreateSearch = 10 * time.Second

// errLostCreate is a lost create whose context was not found: none was made,
// or the search failed (search).
type errLostCreate struct {
	lost   *wacht.LostCreateError
	search error
}

func (e *errLostCreate) Error() string { return e.lost.Error() }
func (e *errLostCreate) Unwrap() error { return e.lost }

// errInterruptedCreate is a create that was interrupted or timed out after
// its context was made: the context is in the state, and the apply fails.
type errInterruptedCreate struct {
	lost *wacht.LostCreateError
	why  string
	id   string
}

func (e *errInterruptedCreate) Error() string { return e.why }
func (e *errInterruptedCreate) Unwrap() error { return e.lost }

// adoptLostCreate looks for the context a create may have made although its
// answer was lost, so that it is neither orphaned nor duplicated (see
// wacht.Client.AdoptLostCreate). An interrupt or the create timeout does not
// cut the search short: it goes on for lostCreateSearch from then. When the
// create itself was cut short with its request in flight, the context found
// is returned with an error, so that Terraform records it and says why the
// apply stopped.
func (r *executionContextResource) adoptLostCreate(ctx context.Context, lost *wacht.LostCreateError, timeout time.Duration, diags *diag.Diagnostics) (*wacht.ExecutionContext, error) {
	interrupted := ctx.Err()
	search, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(lostCreateSearch, cancel) })
	defer stop()
	ec, err := r.client.AdoptLostCreate(search, lost)
	switch {
	case err != nil || ec == nil:
		return nil, &errLostCreate{lost: lost, search: err}
	case interrupted != nil:
		return ec, &errInterruptedCreate{lost: lost, why: interruption(interrupted, timeout), id: ec.ID}
	}
	diags.AddWarning("Adopted an execution context after a lost answer",
		fmt.Sprintf("The answer to the create request was lost (%s), but a context with this configuration was created "+
			"since it was sent, and no other resource tracks it: %s. Terraform took it as the one it created, rather than create another.", lost, ec.ID))
	return ec, nil
}

// interruption says why a create's context ended.
func interruption(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("the create timeout (timeouts.create) of %s ran out", timeout)
	}
	return "Terraform was interrupted"
}

// createError explains a failed create, made telling whether the context
// was made all the same (and is recorded, tainted). An unknown agent is
// reported on agent_id: the API's answer for it varies, so the agent is
// looked up.
func (r *executionContextResource) createError(ctx context.Context, plan executionContextResourceModel, made bool, err error, diags *diag.Diagnostics) {
	var apiErr *wacht.APIError
	if agentID := knownString(plan.AgentID); agentID != nil && errors.As(err, &apiErr) && apiErr.StatusCode < 500 &&
		unknownAgent(ctx, r.client, *agentID, fmt.Sprintf("so no context was created for it (the API answered: %s)", apiErr.Message), diags) {
		return
	}
	var interrupted *errInterruptedCreate
	if errors.As(err, &interrupted) {
		diags.AddError("Execution context created, but its create did not finish",
			fmt.Sprintf("Creating %s: %s with the request in flight, after the context was made: %s. It is recorded in the "+
				"state, so it is neither lost nor made twice. Terraform marks it tainted, as after any failed create: the next "+
				"apply replaces it, unless `terraform untaint <address>` keeps it.", resourceName, interrupted.why, interrupted.id))
		return
	}
	var lost *errLostCreate
	if errors.As(err, &lost) {
		found := "No context with this configuration was created since the request was sent, other than those other " +
			"resources track: none was made, or it is not listed yet."
		if lost.search != nil {
			found = fmt.Sprintf("Looking for the context it may have made failed too (%s).", lost.search)
		}
		diags.AddError("Error creating "+resourceName,
			fmt.Sprintf("Creating %s: %s\n\nThe request may have been carried out although no answer came back, so a context "+
				"may exist that Terraform does not track; the request was not sent again, to avoid a duplicate. %s\n\n%s",
				resourceName, err, found, findAndImport(lost.lost)))
		return
	}
	if made && errors.Is(err, wacht.ErrWrongDeployment) {
		diags.AddError("Error creating "+resourceName,
			fmt.Sprintf("Creating %s: %s\n\nThe API made the context all the same, before its answer showed the deployment: "+
				"it is kept in the state, tainted, so that it is not lost. Use an API key of the deployment that deployment_id "+
				"names (or correct deployment_id), then apply again to replace it; or remove it from the state and delete it "+
				"in Wacht.", resourceName, err))
		return
	}
	addAPIError(diags, "creating", resourceName, "", err)
}

// findAndImport tells how to find a context a lost create may have made,
// and adopt it.
func findAndImport(lost *wacht.LostCreateError) string {
	where := "the API's context list (GET /ai/execution-contexts"
	if lost.Input.AgentID != nil {
		where += "?agent_id=" + *lost.Input.AgentID
	}
	since := "the time of this apply"
	if !lost.Since.IsZero() {
		since = lost.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("To check, look in %s, or the wacht_execution_contexts data source) for a context with this title "+
		"and arguments created at or after %s, and adopt it with `terraform import <address> <id>` (or an import block) "+
		"before applying again; otherwise the next apply creates a new one.", where, since)
}

func (r *executionContextResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state executionContextResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The identity is the id, known before the read; setting it first also
	// covers a context that is gone, which the framework still wants one for.
	setIdentity(ctx, resp.Identity, state.ID, &resp.Diagnostics)
	id := state.ID.ValueString()
	// Reads of a refresh of many contexts are served from shared list pages.
	ec, err := r.client.ReadExecutionContext(ctx, id, state.AgentID.ValueString())
	gone, err := r.client.Gone(ctx, err, id, state.DeploymentID.ValueString())
	if gone {
		tflog.Warn(ctx, "execution context is gone; removing it from the state", map[string]any{"id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "reading", resourceName, id, err)
		return
	}
	if !r.client.Claim(ec.ID) { // tracked for this address: no lost create may adopt it
		resp.Diagnostics.AddWarning("Execution context tracked by two addresses",
			fmt.Sprintf("Execution context %s is tracked by another resource address of this configuration too (one id "+
				"imported twice, or a state edited by hand). Destroying or replacing either address deletes the context "+
				"that both track. Keep one address: run `terraform state rm` on the other.", id))
	}
	state.contextFields = newContextFields(ec)
	state.defaultSettings()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *executionContextResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state executionContextResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := wacht.UpdateExecutionContextInput{
		Title:              changed(plan.Title, state.Title),
		SystemInstructions: changed(plan.SystemInstructions, state.SystemInstructions),
		ContextGroup:       changed(plan.ContextGroup, state.ContextGroup),
	}
	if in == (wacht.UpdateExecutionContextInput{}) {
		// Only Terraform-side settings changed: the context is not touched.
		plan.contextFields = state.contextFields
	} else {
		ec, err := r.client.UpdateExecutionContext(ctx, state.ID.ValueString(), in)
		if err != nil {
			addAPIError(&resp.Diagnostics, "updating", resourceName, state.ID.ValueString(), err)
			return
		}
		plan.contextFields = newContextFields(ec)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	setIdentity(ctx, resp.Identity, plan.ID, &resp.Diagnostics)
}

// ModifyPlan makes a plan that removes a context show, before anyone applies
// it, what the removal will meet: deletion protection fails the plan, and a
// context in use (by the refreshed state) gets a warning saying what apply
// will do about it.
func (r *executionContextResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		return // a create removes nothing
	}
	action := "destroy"
	if !req.Plan.Raw.IsNull() {
		// Most plans change nothing: compare the one attribute that forces a
		// replacement before decoding the whole state, for every resource of
		// every plan.
		var planAgent, stateAgent types.String
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("agent_id"), &planAgent)...)
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("agent_id"), &stateAgent)...)
		if resp.Diagnostics.HasError() || planAgent.Equal(stateAgent) {
			return // an update in place
		}
		action = "replace"
	}
	var state executionContextResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	if state.DeletionProtection.ValueBool() {
		protected(&resp.Diagnostics, "This plan would "+action, id)
		return
	}
	status := wacht.Status(state.Status.ValueString())
	if !status.Active() {
		return
	}
	var will string
	switch {
	case state.CancelOnDestroy.ValueBool():
		will = "cancel its run, since cancel_on_destroy is true (the API then marks it failed), and delete it"
	case status == wacht.StatusWaitingForInput:
		will = "fail at once: a context waiting for input from a person does not free itself. Answer the request, or set cancel_on_destroy = true"
	default:
		timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
		resp.Diagnostics.Append(diags...)
		will = fmt.Sprintf("wait up to %s (timeouts.delete) for the run to finish; if it does not, the apply fails and the context stays in the state", timeout)
	}
	resp.Diagnostics.AddWarning("Execution context in use",
		fmt.Sprintf("This plan would %s execution context %s, which is in use (status %q). Apply will %s.", action, id, status, will))
}

func (r *executionContextResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state executionContextResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The guard that holds whatever planned the delete: plans forced by
	// -replace or taint reach the provider as updates or creates, so that
	// ModifyPlan never sees them; Delete always sees the prior state.
	if state.DeletionProtection.ValueBool() {
		protected(&resp.Diagnostics, "Terraform was about to delete (to destroy or replace it)", state.ID.ValueString())
		return
	}
	d := deletion{
		client: r.client, id: state.ID.ValueString(), deployment: state.DeploymentID.ValueString(),
		cancelOnDestroy: state.CancelOnDestroy.ValueBool(), timeout: timeout,
	}
	d.run(ctx, &resp.Diagnostics)
}

// protected refuses to delete a context whose deletion_protection is true,
// whatever planned it: destroy, a removed block, -replace, taint, a count or
// for_each change, or a change that forces a replacement.
func protected(diags *diag.Diagnostics, doing, id string) {
	diags.AddError("Execution context is protected from deletion",
		fmt.Sprintf("%s execution context %s, but its deletion_protection is true: it is not deleted, and stays in the "+
			"state. To remove it, first set deletion_protection = false and apply (nothing is sent to the API), then run "+
			"the destroy or replacement again.\n\nA tainted context keeps the protection of its state: run terraform "+
			"untaint ADDRESS to keep it. A context left deposed by a create_before_destroy replacement cannot be updated: "+
			"to keep it, remove the address from the state (terraform state rm ADDRESS) and import the context you want "+
			"it to track.", doing, id))
}

// deletion deletes one context, waiting out or cancelling a run that holds it.
type deletion struct {
	client          *wacht.Client
	id              string
	deployment      string // the one the state recorded the context under
	cancelOnDestroy bool
	timeout         time.Duration
}

func (d deletion) run(ctx context.Context, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	pause := deletePollFirst
	cancelled := false
	for {
		err := d.client.DeleteExecutionContext(ctx, d.id)
		if gone, err := d.client.Gone(ctx, err, d.id, d.deployment); gone || err == nil {
			return
		} else if !errors.Is(err, wacht.ErrConflict) {
			d.failed(ctx, diags, err)
			return
		}
		ec, err := d.client.GetExecutionContext(ctx, d.id)
		if gone, err := d.client.Gone(ctx, err, d.id, d.deployment); gone {
			return
		} else if err != nil {
			d.failed(ctx, diags, err)
			return
		}
		switch {
		case d.cancelOnDestroy && ec.Status.Active() && !cancelled:
			tflog.Info(ctx, "cancelling the run that holds the execution context", map[string]any{"id": d.id, "status": ec.Status})
			if err := d.client.CancelExecutionContext(ctx, d.id); err != nil && !errors.Is(err, wacht.ErrNotFound) {
				addAPIError(diags, "cancelling the run of", resourceName, d.id, err)
				return
			}
			cancelled = true
			continue
		case ec.Status == wacht.StatusWaitingForInput && !d.cancelOnDestroy:
			diags.AddError("Execution context in use", inUseDetail(ec, 0))
			return
		}
		tflog.Info(ctx, "execution context is in use; waiting before deleting again", map[string]any{
			"id": d.id, "status": ec.Status, "pause": pause.String(),
		})
		if !pauseFor(ctx, pause) {
			diags.AddError("Execution context in use", inUseDetail(ec, time.Since(start)))
			return
		}
		pause = min(pause*2, deletePollMax)
	}
}

// failed reports an error. One caused by the delete timeout or an interrupt
// says so, and that a delete already sent may have been carried out.
func (d deletion) failed(ctx context.Context, diags *diag.Diagnostics, err error) {
	why := "Terraform interrupted the delete"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = fmt.Sprintf("gave up after the delete timeout of %s", d.timeout)
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%s (%w). A delete already sent may have been carried out all the same: the context stays in "+
			"the state, and the next refresh drops it if it is gone", why, err)
	}
	addAPIError(diags, "deleting", resourceName, d.id, err)
}

func pauseFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// inUseDetail is the 409 diagnostic: which context, what holds it, for how
// long it was waited for, and the ways out.
func inUseDetail(ec *wacht.ExecutionContext, waited time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cannot delete execution context %s: the API answered 409 (context in use). Its status is %q", ec.ID, ec.Status)
	holder := "a running agent or workflow"
	if ec.AgentID != nil {
		holder = "a run of agent " + *ec.AgentID
	}
	if ec.Status == wacht.StatusWaitingForInput {
		fmt.Fprintf(&b, ": %s is waiting for input from a person, and will not free the context by itself.", holder)
	} else {
		fmt.Fprintf(&b, ": %s holds it.", holder)
	}
	if objective := currentObjective(ec.ExecutionState); objective != "" {
		fmt.Fprintf(&b, " Current objective: %q.", objective)
	}
	if waited > 0 {
		fmt.Fprintf(&b, " Waited %s for it to free up.", waited.Round(time.Second))
	}
	b.WriteString("\n\nWays out:\n")
	if ec.Status == wacht.StatusWaitingForInput {
		b.WriteString("- answer the pending input request in Wacht, then run the destroy again;\n")
	} else {
		b.WriteString("- wait for the run to finish, then run the destroy again, or raise timeouts.delete to wait longer;\n")
	}
	b.WriteString("- cancel the run: set cancel_on_destroy = true on the resource and apply, then destroy (the API marks a cancelled context failed);\n")
	b.WriteString("- cancel it yourself through the API's execute route with {\"execution_type\":{\"cancel\":{}}}.\n\n")
	b.WriteString("The context was not deleted and stays in the Terraform state.")
	return b.String()
}

// currentObjective digs the run's objective out of execution_state, when the
// API gives one, so the user can tell which run holds the context.
func currentObjective(state json.RawMessage) string {
	var s struct {
		CurrentObjective any `json:"current_objective"`
	}
	if len(state) == 0 || json.Unmarshal(state, &s) != nil || s.CurrentObjective == nil {
		return ""
	}
	if text, ok := s.CurrentObjective.(string); ok {
		return text
	}
	raw, _ := json.Marshal(s.CurrentObjective)
	return string(raw)
}

// ImportState takes the id from `terraform import`, an import block's id, or
// an import block's identity, and checks it before Read sends it anywhere.
func (r *executionContextResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	// `terraform import ADDR ""` comes with an empty identity: only an import
	// block's identity holds an id.
	if id == "" && req.Identity != nil && !req.Identity.Raw.IsNull() && req.Identity.Raw.IsFullyKnown() {
		var identity executionContextIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &identity)...)
		id = identity.ID.ValueString()
	}
	if err := wacht.ValidateID(id); err != nil {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("Importing an execution context needs its id, a decimal integer such as 7210948357125083136: %s.", err))
		return
	}
	resource.ImportStatePassthroughWithIdentity(ctx, path.Root("id"), path.Root("id"), req, resp)
}

// knownString is the value to send for an optional argument, nil when the
// configuration leaves it out.
func knownString(v types.String) *string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	s := v.ValueString()
	return &s
}

// changed is the value to PATCH: the planned one when it differs from state.
func changed(plan, state types.String) *string {
	if plan.Equal(state) {
		return nil
	}
	return knownString(plan)
}
