package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

const (
	// purgeWorkers hide the latency of each delete; more would only queue
	// on the client's delete limiter, which every delete goes through.
	purgeWorkers = 4
	// purgeProgressEvery is how many contexts each progress event stands for.
	purgeProgressEvery = 10
)

var (
	_ action.ActionWithConfigure      = (*executionContextPurgeAction)(nil)
	_ action.ActionWithValidateConfig = (*executionContextPurgeAction)(nil)
	_ provider.ProviderWithActions    = (*wachtProvider)(nil)
)

// executionContextPurgeAction deletes an agent's contexts in one step: the
// seed's bulk clean-up, without adopting each context into a state first.
type executionContextPurgeAction struct {
	client *wacht.Client
	// now is the clock inactive_for counts back from; tests set their own.
	now func() time.Time
}

func newExecutionContextPurgeAction() action.Action {
	return &executionContextPurgeAction{now: time.Now}
}

type purgeModel struct {
	contextScope
	InactiveFor   types.String `tfsdk:"inactive_for"`
	CancelRunning types.Bool   `tfsdk:"cancel_running"`
	DryRun        types.Bool   `tfsdk:"dry_run"`
}

func (a *executionContextPurgeAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_execution_context_purge"
}

func (a *executionContextPurgeAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deletes the execution contexts of one agent in one step (Terraform 1.14+), for clean-ups " +
			"that need no state: `terraform apply -invoke=action.wacht_execution_context_purge.<name>`, or an " +
			"`action_trigger` in a resource's lifecycle.\n\n" +
			"The action first lists the contexts in scope, every page of them, then deletes them a few at a time within " +
			"the provider's delete rate limit (`rate_limits.delete`, 50 a minute by default), reporting its progress. " +
			"By default contexts in use (`running` or `waiting_for_input`) are left alone. A context that cannot be " +
			"deleted (in use, forbidden, or any other error) does not stop the others: the action deletes the rest, " +
			"then fails, naming each context it could not delete and why. A context already gone counts as deleted. " +
			"The action checks every listed context against its filters itself, so a server that ignores a filter never " +
			"widens what is deleted. " +
			"The action sees no state: `deletion_protection` does not hold here, and contexts that resources " +
			"manage are deleted like any other in scope (those resources then plan to create them anew); narrow " +
			"the scope with `context_group` to keep them. Deleting is permanent; try `dry_run = true` first.",
		Attributes: map[string]schema.Attribute{
			"agent_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Id of the agent whose contexts to delete. An agent that does not exist is an error.",
				Validators:          []validator.String{idValidator()},
			},
			"status": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only contexts in this status: one of " + quotedStatuses() + ". Left out, every " +
					"status except those in use (`running`, `waiting_for_input`), unless `cancel_running` is true.",
				Validators: []validator.String{stringvalidator.OneOf(statusNames()...)},
			},
			"context_group": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: groupFilterDescription,
			},
			"inactive_for": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only contexts inactive for at least this long: whose `last_activity_at` is older " +
					"than the time of the invocation minus this duration, such as `720h` for 30 days (units up to `h`).",
				Validators: []validator.String{durationValidator()},
			},
			"cancel_running": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "When `true`, contexts in use are in scope too: their runs are cancelled (the API " +
					"marks them `failed`), then they are deleted. Defaults to `false`: they are left alone.",
			},
			"dry_run": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "When `true`, reports each context that would be deleted and deletes nothing. Defaults to `false`.",
			},
		},
	}
}

func (a *executionContextPurgeAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig refuses a status whose every context would be skipped.
func (a *executionContextPurgeAction) ValidateConfig(ctx context.Context, req action.ValidateConfigRequest, resp *action.ValidateConfigResponse) {
	var m purgeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Status.IsUnknown() || m.CancelRunning.IsUnknown() {
		return
	}
	if status := wacht.Status(m.Status.ValueString()); status.Active() && !m.CancelRunning.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("status"), "Contexts in use cannot be purged",
			fmt.Sprintf("status: contexts in status %q are in use, and the API refuses to delete them. Set "+
				"cancel_running = true to cancel their runs first (the API marks them failed), or choose another status.", status))
	}
}

func (a *executionContextPurgeAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var m purgeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := purge{
		client:        a.client,
		agentID:       m.AgentID.ValueString(),
		cancelRunning: m.CancelRunning.ValueBool(),
		progress:      func(msg string) { resp.SendProgress(action.InvokeProgressEvent{Message: msg}) },
	}
	if !m.InactiveFor.IsNull() {
		d, _ := time.ParseDuration(m.InactiveFor.ValueString()) // checked by its validator
		p.inactiveSince = a.now().Add(-d)
	}
	targets := p.collect(ctx, m.contextScope, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || len(targets) == 0 {
		return
	}
	if m.DryRun.ValueBool() {
		p.dryRun(targets)
		return
	}
	p.report(p.deleteAll(ctx, targets), &resp.Diagnostics)
}

// purge is one invocation of the action.
type purge struct {
	client        *wacht.Client
	agentID       string
	cancelRunning bool
	// inactiveSince, when set, keeps only contexts last active before it.
	inactiveSince time.Time
	progress      func(string)
}

// collect walks the scope and returns the contexts to delete, in the API's
// order. Nothing is deleted while walking, so the walk sees a steady list.
func (p purge) collect(ctx context.Context, scope contextScope, diags *diag.Diagnostics) []*wacht.ExecutionContext {
	var listed int
	var targets []*wacht.ExecutionContext
	for ec, err := range scope.walk(ctx, p.client) {
		if err != nil {
			listingError(diags, p.agentID, err)
			return nil
		}
		listed++
		if p.inScope(ec) {
			targets = append(targets, ec)
		}
	}
	if listed == 0 {
		unknownAgent(ctx, p.client, p.agentID, noContexts, diags)
	}
	if !diags.HasError() {
		p.progress(fmt.Sprintf("found %d execution contexts of agent %s to delete (%d listed)", len(targets), p.agentID, listed))
	}
	return targets
}

func (p purge) inScope(ec *wacht.ExecutionContext) bool {
	if ec.Status.Active() && !p.cancelRunning {
		return false
	}
	return p.inactiveSince.IsZero() || ec.LastActivityAt.Before(p.inactiveSince)
}

func (p purge) dryRun(targets []*wacht.ExecutionContext) {
	for _, ec := range targets {
		msg := fmt.Sprintf("would delete %s (%s, last active %s): %q", ec.ID, ec.Status, ec.LastActivityAt.UTC().Format(time.RFC3339), ec.Title)
		if ec.Status.Active() {
			msg += ", after cancelling its run"
		}
		p.progress(msg)
	}
	p.progress(fmt.Sprintf("dry run: %d execution contexts of agent %s would be deleted; nothing was deleted", len(targets), p.agentID))
}

// purgeOutcome is what became of one context.
type purgeOutcome struct {
	index int // in the listing, to report failures in its order
	id    string
	gone  bool  // it was gone before this purge could delete it
	err   error // why it could not be deleted
}

// deleteAll deletes the targets with a few workers, sending progress from
// this goroutine alone so that the counts it reports only grow.
func (p purge) deleteAll(ctx context.Context, targets []*wacht.ExecutionContext) purgeTally {
	jobs := make(chan int)
	outcomes := make(chan purgeOutcome)
	var wg sync.WaitGroup
	for range min(purgeWorkers, len(targets)) {
		wg.Go(func() {
			for i := range jobs {
				outcomes <- p.remove(ctx, i, targets[i])
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range targets {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return // an interrupted purge starts no more deletes
			}
		}
	}()
	go func() { wg.Wait(); close(outcomes) }()

	tally := purgeTally{total: len(targets)}
	for o := range outcomes {
		tally.add(o)
		if n := tally.settled(); n%purgeProgressEvery == 0 && n < tally.total {
			p.progress(tally.progress(p.agentID, false))
		}
	}
	if tally.settled() < tally.total {
		tally.interrupted = ctx.Err()
	}
	return tally
}

// remove deletes one context, cancelling its run first when it is in use
// and cancel_running allows; a context that started a run after it was
// listed gets the same treatment.
func (p purge) remove(ctx context.Context, index int, ec *wacht.ExecutionContext) purgeOutcome {
	out := purgeOutcome{index: index, id: ec.ID}
	cancelled := false
	cancel := func() bool {
		cancelled = true
		err := p.client.CancelExecutionContext(ctx, ec.ID)
		if err != nil && !errors.Is(err, wacht.ErrNotFound) {
			out.err = fmt.Errorf("cancelling its run: %w", err)
			return false
		}
		return true
	}
	if p.cancelRunning && ec.Status.Active() && !cancel() {
		return out
	}
	for {
		err := p.client.DeleteExecutionContext(ctx, ec.ID)
		switch {
		case err == nil:
			return out
		case errors.Is(err, wacht.ErrNotFound):
			out.gone = true
			return out
		case errors.Is(err, wacht.ErrConflict) && p.cancelRunning && !cancelled:
			if !cancel() {
				return out
			}
			continue
		}
		out.err = explainDeleteError(err, cancelled)
		return out
	}
}

// explainDeleteError says what a failed delete means for the user.
func explainDeleteError(err error, cancelled bool) error {
	switch {
	case errors.Is(err, wacht.ErrConflict) && cancelled:
		return fmt.Errorf("still in use after its run was cancelled; invoke the purge again once the cancellation has taken effect: %w", err)
	case errors.Is(err, wacht.ErrConflict):
		return fmt.Errorf("in use: a run started after it was listed; set cancel_running = true, or invoke the purge again once the run has finished: %w", err)
	case errors.Is(err, wacht.ErrForbidden):
		return fmt.Errorf("the API key lacks the permission to delete it: %w", err)
	}
	return err
}

// purgeTally counts the outcomes of a purge.
type purgeTally struct {
	total, deleted, gone int
	failed               []purgeOutcome
	interrupted          error // why the purge stopped early, if it did
}

func (t *purgeTally) add(o purgeOutcome) {
	switch {
	case o.err != nil:
		t.failed = append(t.failed, o)
	case o.gone:
		t.gone++
	default:
		t.deleted++
	}
}

func (t *purgeTally) settled() int { return t.deleted + t.gone + len(t.failed) }

// progress is the counts so far; the final one tells deleted contexts from
// those already gone.
func (t *purgeTally) progress(agentID string, final bool) string {
	msg := fmt.Sprintf("deleted %d of %d execution contexts of agent %s", t.deleted+t.gone, t.total, agentID)
	if final && t.gone > 0 {
		msg += fmt.Sprintf(" (%d already gone)", t.gone)
	}
	if n := len(t.failed); n > 0 {
		msg += fmt.Sprintf(", %d could not be deleted", n)
	}
	return msg
}

// report ends the purge: a last progress event with the counts, and an error
// naming every context left behind, if any was.
func (p purge) report(t purgeTally, diags *diag.Diagnostics) {
	summary := t.progress(p.agentID, true)
	p.progress(summary)
	if len(t.failed) == 0 && t.interrupted == nil {
		return
	}
	detail := []string{capitalize(summary) + "."}
	if len(t.failed) > 0 {
		slices.SortFunc(t.failed, func(x, y purgeOutcome) int { return x.index - y.index })
		lines := make([]string, len(t.failed))
		for i, o := range t.failed {
			lines[i] = fmt.Sprintf("- %s: %s", o.id, o.err)
		}
		detail = append(detail, "These contexts were not deleted:\n"+strings.Join(lines, "\n"))
	}
	if t.interrupted != nil {
		detail = append(detail, fmt.Sprintf("The purge was interrupted (%s): %d contexts were not tried.", t.interrupted, t.total-t.settled()))
	}
	diags.AddError("Error purging execution contexts of agent "+p.agentID, strings.Join(detail, "\n\n"))
}
