package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

const purgeType = "wacht_execution_context_purge"

// invoke runs the purge action and returns its progress messages and the
// diagnostics it completed with.
func (p *protoServer) invoke(config map[string]tftypes.Value) (progress []string, diags []*tfprotov6.Diagnostic) {
	p.t.Helper()
	stream, err := p.server.InvokeAction(context.Background(), &tfprotov6.InvokeActionRequest{
		ActionType: purgeType,
		Config:     p.dynamic(p.schema.ActionSchemas[purgeType].Schema.ValueType(), config),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	completed := false
	for event := range stream.Events {
		switch e := event.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			progress = append(progress, e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			diags, completed = e.Diagnostics, true
		}
	}
	if !completed {
		p.t.Fatal("the action sent no completed event")
	}
	return progress, diags
}

// stoppedClock is the provider with the purge action's clock stopped at now,
// so that inactive_for is tested without sleeping.
type stoppedClock struct {
	*wachtProvider
	now time.Time
}

func (p stoppedClock) Actions(context.Context) []func() action.Action {
	return []func() action.Action{func() action.Action {
		return &executionContextPurgeAction{now: func() time.Time { return p.now }}
	}}
}

// deleteHook runs ahead of the DELETE of one context; when it answers w
// itself, the server never sees the request.
type deleteHook func(w http.ResponseWriter) (answered bool)

// withDeleteHooks serves the test server through a proxy that runs the hook
// of each context as its DELETE arrives, and returns the proxy's URL.
func (s testServer) withDeleteHooks(t *testing.T, hooks map[string]deleteHook) string {
	t.Helper()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, listRoute+"/"); ok && r.Method == http.MethodDelete {
			if hook := hooks[id]; hook != nil && hook(w) {
				return
			}
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// startsRunning makes a context start a run just before its first DELETE
// arrives: it was idle when the purge listed it.
func (s testServer) startsRunning(t *testing.T, id string) deleteHook {
	var once sync.Once
	return func(http.ResponseWriter) bool {
		once.Do(func() {
			if err := s.SetStatus(id, localserver.StatusRunning); err != nil {
				t.Error(err)
			}
		})
		return false
	}
}

func answer(status int, body string) deleteHook {
	return func(w http.ResponseWriter) bool {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// seedEveryStatus gives the agent two contexts in each status, one in the
// group "nightly" and one in "support", and returns their ids by status.
func (s testServer) seedEveryStatus(agentID string) map[string][]string {
	byStatus := map[string][]string{}
	for _, status := range statusNames() {
		for _, group := range []string{"nightly", "support"} {
			c := s.AddContext(localserver.ExecutionContext{Title: status + " " + group, ContextGroup: &group, AgentID: &agentID, Status: status})
			byStatus[status] = append(byStatus[status], c.ID)
		}
	}
	return byStatus
}

// remaining is the sorted ids of the contexts the server still holds.
func (s testServer) remaining() []string {
	var ids []string
	for _, c := range s.Contexts() {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// without is all minus gone, sorted.
func without(all []string, gone ...string) []string {
	out := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return slices.Contains(gone, id) })
	slices.Sort(out)
	return out
}

func lastOf(progress []string) string {
	if len(progress) == 0 {
		return ""
	}
	return progress[len(progress)-1]
}

// rateScale speeds the documented rate limits up, on the server and in the
// provider alike, so that a purge of many contexts takes a moment instead of
// minutes while the limits still bind.
const rateScale = 60

// startFastServer starts a test server with the limits sped up, and checks,
// when the test ends, that it never had to answer 429.
func startFastServer(t *testing.T) testServer {
	t.Helper()
	limits := localserver.DocumentedLimits()
	for _, r := range []*localserver.Rate{&limits.Read, &limits.Create, &limits.Update, &limits.Delete} {
		r.PerMinute *= rateScale
	}
	srv := startServer(t, localserver.Options{Limits: &limits})
	t.Cleanup(func() {
		for rs, n := range srv.Requests() {
			if rs.Status == http.StatusTooManyRequests {
				t.Errorf("the server answered %d× 429 to %s %s", n, rs.Method, rs.Route)
			}
		}
	})
	return srv
}

// fastProto is the provider with its rate limits sped up as the server's.
func (s testServer) fastProto(t *testing.T, setup protoSetup) *protoServer {
	t.Helper()
	rateType := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"per_minute": tftypes.Number, "burst": tftypes.Number}}
	documented := localserver.DocumentedLimits()
	rates := map[string]tftypes.Value{}
	types := map[string]tftypes.Type{}
	for name, r := range map[string]localserver.Rate{"read": documented.Read, "create": documented.Create, "update": documented.Update, "delete": documented.Delete} {
		types[name] = rateType
		rates[name] = tftypes.NewValue(rateType, map[string]tftypes.Value{
			"per_minute": tftypes.NewValue(tftypes.Number, r.PerMinute*rateScale),
			"burst":      tftypes.NewValue(tftypes.Number, r.Burst),
		})
	}
	setup.settings = map[string]tftypes.Value{"rate_limits": tftypes.NewValue(tftypes.Object{AttributeTypes: types}, rates)}
	return s.proto(t, setup)
}

func TestPurgeDeletesExactlyTheScopedContexts(t *testing.T) {
	notInUse := func(c localserver.ExecutionContext) bool {
		return c.Status != localserver.StatusRunning && c.Status != localserver.StatusWaitingForInput
	}
	inGroup := func(group string) func(localserver.ExecutionContext) bool {
		return func(c localserver.ExecutionContext) bool { return c.ContextGroup != nil && *c.ContextGroup == group }
	}
	for _, tc := range []struct {
		name   string
		config map[string]tftypes.Value
		// scoped picks, among the agent's contexts, those to delete.
		scoped func(localserver.ExecutionContext) bool
	}{
		{"every context not in use", nil, notInUse},
		{"one status", map[string]tftypes.Value{"status": str("completed")},
			func(c localserver.ExecutionContext) bool { return c.Status == localserver.StatusCompleted }},
		{"one group", map[string]tftypes.Value{"context_group": str("nightly")},
			func(c localserver.ExecutionContext) bool { return notInUse(c) && inGroup("nightly")(c) }},
		{"status and group", map[string]tftypes.Value{"status": str("failed"), "context_group": str("support")},
			func(c localserver.ExecutionContext) bool {
				return c.Status == localserver.StatusFailed && inGroup("support")(c)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFastServer(t)
			other := srv.AddAgent("billing-bot", "").ID
			srv.seedEveryStatus(srv.agentID)
			srv.seedEveryStatus(other)
			srv.AddContext(localserver.ExecutionContext{Title: "no agent"})
			all := srv.remaining()
			var want []string
			for _, c := range srv.Contexts() {
				if ofAgent(srv.agentID)(c) && tc.scoped(c) {
					want = append(want, c.ID)
				}
			}
			if len(want) == 0 {
				t.Fatal("nothing in scope: the test would prove nothing")
			}

			config := map[string]tftypes.Value{"agent_id": str(srv.agentID)}
			for k, v := range tc.config {
				config[k] = v
			}
			p := srv.fastProto(t, protoSetup{})
			progress, diags := p.invoke(config)
			p.noErrors("InvokeAction", diags)
			if got := srv.remaining(); !slices.Equal(got, without(all, want...)) {
				t.Errorf("the server holds %v, want %v", got, without(all, want...))
			}
			// Contexts in use were never tried: no 409.
			if n := srv.Count(http.MethodDelete, localserver.ContextRoute, 200); n != len(want) {
				t.Errorf("%d deletes, want %d", n, len(want))
			}
			if n := srv.Count(http.MethodDelete, localserver.ContextRoute, -1); n != len(want) {
				t.Errorf("%d DELETE requests, want only the %d that succeeded", n, len(want))
			}
			if got, wantMsg := lastOf(progress), fmt.Sprintf("deleted %d of %d execution contexts of agent %s", len(want), len(want), srv.agentID); got != wantMsg {
				t.Errorf("last progress event %q, want %q", got, wantMsg)
			}
		})
	}
}

// Contexts that cannot be deleted do not stop the others; the action then
// fails, naming each with its reason. One already gone is no failure.
func TestPurgeReportsWhatItCannotDelete(t *testing.T) {
	srv := startFastServer(t)
	srv.seedContexts(srv.agentID, 12, nil)
	order := srv.apiOrder(ofAgent(srv.agentID))
	inUse, forbidden, broken, gone := order[2], order[5], order[7], order[9]
	hooks := map[string]deleteHook{
		inUse:     srv.startsRunning(t, inUse),
		forbidden: answer(http.StatusForbidden, "Permission denied for this resource"),
		broken:    answer(http.StatusBadRequest, "Invalid execution context"),
		gone: func(http.ResponseWriter) bool {
			srv.RemoveContext(gone)
			return false
		},
	}
	p := srv.fastProto(t, protoSetup{baseURL: srv.withDeleteHooks(t, hooks)})
	progress, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID)})

	wantError(t, diags, fmt.Sprintf(`(?s)Error purging execution contexts of agent %[1]s: `+
		`Deleted 9 of 12 execution contexts of agent %[1]s \(1 already gone\), 3 could not be deleted\.\s+`+
		`These contexts were not deleted:\n`+
		`- %[2]s: in use: a run started after it was listed; set cancel_running = true.*HTTP 409: context in use\n`+
		`- %[3]s: the API key lacks the permission to delete it: .*HTTP 403: Permission denied for this resource\n`+
		`- %[4]s: DELETE /ai/execution-contexts/%[4]s: HTTP 400: Invalid execution context`,
		srv.agentID, inUse, forbidden, broken))
	if got, want := srv.remaining(), without([]string{inUse, forbidden, broken}); !slices.Equal(got, want) {
		t.Errorf("the server holds %v, want only the three that failed %v", got, want)
	}
	if got, want := lastOf(progress), fmt.Sprintf("deleted 9 of 12 execution contexts of agent %s (1 already gone), 3 could not be deleted", srv.agentID); got != want {
		t.Errorf("last progress event %q, want %q", got, want)
	}
}

func TestPurgeDryRunDeletesNothing(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	byStatus := srv.seedEveryStatus(srv.agentID)
	all := srv.remaining()
	p := srv.proto(t, protoSetup{})

	progress, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID), "dry_run": boolean(true), "cancel_running": boolean(true)})
	p.noErrors("InvokeAction", diags)
	if got := srv.remaining(); !slices.Equal(got, all) {
		t.Errorf("a dry run changed the server: it holds %v, want %v", got, all)
	}
	if n := srv.Count(http.MethodDelete, localserver.ContextRoute, -1) + srv.Count(http.MethodPost, localserver.ExecuteRoute, -1); n != 0 {
		t.Errorf("a dry run sent %d deletes and cancels", n)
	}
	report := strings.Join(progress, "\n")
	for _, id := range all {
		if !strings.Contains(report, "would delete "+id) {
			t.Errorf("the dry run does not name %s:\n%s", id, report)
		}
	}
	running := byStatus[localserver.StatusRunning][0]
	if want := regexp.MustCompile(`would delete ` + running + ` \(running, last active [0-9TZ:-]+\): "running nightly", after cancelling its run`); !want.MatchString(report) {
		t.Errorf("the dry run does not say it would cancel %s first:\n%s", running, report)
	}
	if want := fmt.Sprintf("dry run: %d execution contexts of agent %s would be deleted; nothing was deleted", len(all), srv.agentID); lastOf(progress) != want {
		t.Errorf("last progress event %q, want %q", lastOf(progress), want)
	}
}

func TestPurgeInactiveFor(t *testing.T) {
	srv := startFastServer(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	age := map[string]time.Duration{}
	for _, ago := range []time.Duration{72 * time.Hour, 25 * time.Hour, 24*time.Hour + time.Second, 23 * time.Hour, time.Minute} {
		c := srv.AddContext(localserver.ExecutionContext{AgentID: &srv.agentID, LastActivityAt: now.Add(-ago)})
		age[c.ID] = ago
	}
	all := srv.remaining()
	p := srv.fastProto(t, protoSetup{provider: stoppedClock{wachtProvider: &wachtProvider{version: "test"}, now: now}})

	_, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID), "inactive_for": str("24h")})
	p.noErrors("InvokeAction", diags)
	var stale []string
	for id, ago := range age {
		if ago > 24*time.Hour {
			stale = append(stale, id)
		}
	}
	if got, want := srv.remaining(), without(all, stale...); !slices.Equal(got, want) {
		t.Errorf("the server holds %v, want those active in the last 24h %v", got, want)
	}
}

// With cancel_running, contexts in use are cancelled, then deleted; so is
// one that started a run after it was listed.
func TestPurgeCancelRunning(t *testing.T) {
	srv := startFastServer(t)
	byStatus := srv.seedEveryStatus(srv.agentID)
	lateStarter := byStatus[localserver.StatusIdle][0]
	p := srv.fastProto(t, protoSetup{baseURL: srv.withDeleteHooks(t, map[string]deleteHook{lateStarter: srv.startsRunning(t, lateStarter)})})

	_, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID), "cancel_running": boolean(true)})
	p.noErrors("InvokeAction", diags)
	if got := srv.remaining(); len(got) != 0 {
		t.Errorf("the server still holds %v", got)
	}
	// The four in use when listed, and the late starter after its 409.
	if n := srv.Count(http.MethodPost, localserver.ExecuteRoute, 200); n != 5 {
		t.Errorf("%d cancels, want 5", n)
	}
	if n := srv.Count(http.MethodDelete, localserver.ContextRoute, 409); n != 1 {
		t.Errorf("%d deletes refused as in use, want the late starter's alone", n)
	}
}

func TestPurgeSendsProgress(t *testing.T) {
	srv := startFastServer(t)
	srv.seedContexts(srv.agentID, 25, nil)
	p := srv.fastProto(t, protoSetup{})
	progress, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID)})
	p.noErrors("InvokeAction", diags)
	want := []string{
		fmt.Sprintf("found 25 execution contexts of agent %s to delete (25 listed)", srv.agentID),
		fmt.Sprintf("deleted 10 of 25 execution contexts of agent %s", srv.agentID),
		fmt.Sprintf("deleted 20 of 25 execution contexts of agent %s", srv.agentID),
		fmt.Sprintf("deleted 25 of 25 execution contexts of agent %s", srv.agentID),
	}
	if !slices.Equal(progress, want) {
		t.Errorf("progress events:\n%s\nwant:\n%s", strings.Join(progress, "\n"), strings.Join(want, "\n"))
	}
}

// A purge of more contexts than the bursts, with cancels, lists and deletes
// interleaved across the four workers, meets no 429 (startFastServer checks):
// every request waits its turn at the client's limiter.
func TestPurgeStaysUnderTheRateLimit(t *testing.T) {
	srv := startFastServer(t)
	srv.seedContexts(srv.agentID, 150, nil)
	for _, id := range srv.apiOrder(ofAgent(srv.agentID))[:10] {
		if err := srv.SetStatus(id, localserver.StatusRunning); err != nil {
			t.Fatal(err)
		}
	}
	p := srv.fastProto(t, protoSetup{})
	_, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID), "cancel_running": boolean(true)})
	p.noErrors("InvokeAction", diags)
	if got := srv.remaining(); len(got) != 0 {
		t.Errorf("%d contexts left", len(got))
	}
}

func TestPurgeBadConfig(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	p := srv.proto(t, protoSetup{})
	actionType := p.schema.ActionSchemas[purgeType].Schema.ValueType()
	agent := str(srv.agentID)
	for _, tc := range []struct {
		name   string
		config map[string]tftypes.Value
		want   string // "" for a valid configuration
	}{
		{"non-numeric agent", map[string]tftypes.Value{"agent_id": str("support-bot")}, `(?s)Invalid Wacht id.*decimal integer.*\[at AttributeName\("agent_id"\)\]`},
		{"unknown status", map[string]tftypes.Value{"agent_id": agent, "status": str("done")}, `(?s)value must be one of.*got: "done".*\[at AttributeName\("status"\)\]`},
		{"bad duration", map[string]tftypes.Value{"agent_id": agent, "inactive_for": str("a month")}, `(?s)Invalid duration.*inactive_for.*\[at AttributeName\("inactive_for"\)\]`},
		{"negative duration", map[string]tftypes.Value{"agent_id": agent, "inactive_for": str("-1h")}, `(?s)Invalid duration.*not positive.*\[at AttributeName\("inactive_for"\)\]`},
		{"in use without cancel", map[string]tftypes.Value{"agent_id": agent, "status": str("running")},
			`(?s)Contexts in use cannot be purged.*"running" are in use.*cancel_running = true.*\[at AttributeName\("status"\)\]`},
		{"in use, cancel off", map[string]tftypes.Value{"agent_id": agent, "status": str("waiting_for_input"), "cancel_running": boolean(false)},
			`(?s)Contexts in use cannot be purged.*\[at AttributeName\("status"\)\]`},
		{"in use with cancel", map[string]tftypes.Value{"agent_id": agent, "status": str("running"), "cancel_running": boolean(true)}, ""},
		{"in use, cancel unknown", map[string]tftypes.Value{"agent_id": agent, "status": str("running"), "cancel_running": tftypes.NewValue(tftypes.Bool, tftypes.UnknownValue)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.server.ValidateActionConfig(context.Background(), &tfprotov6.ValidateActionConfigRequest{
				ActionType: purgeType, Config: p.dynamic(actionType, tc.config),
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				p.noErrors("ValidateActionConfig", resp.Diagnostics)
				return
			}
			wantError(t, resp.Diagnostics, tc.want)
		})
	}

	// A well-formed id of no agent has no contexts, which would read as
	// "nothing to purge": it is an error instead.
	_, diags := p.invoke(map[string]tftypes.Value{"agent_id": str("123456789")})
	wantError(t, diags, `(?s)Unknown agent.*no agent 123456789 exists.*\[at AttributeName\("agent_id"\)\]`)
}

// A failing walk ends the action before any delete, naming the agent.
func TestPurgeReportsListingErrors(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	srv.seedContexts(srv.agentID, 3, nil)
	p := srv.proto(t, protoSetup{settings: map[string]tftypes.Value{"api_key": str("sk_test_wrong")}})
	_, diags := p.invoke(map[string]tftypes.Value{"agent_id": str(srv.agentID)})
	wantError(t, diags, fmt.Sprintf(`(?s)Error listing execution contexts of agent %s.*HTTP 401`, srv.agentID))
	if n := len(srv.Contexts()); n != 3 {
		t.Errorf("%d contexts left, want the 3", n)
	}
}

// The same through the CLI, triggered after a create: needs Terraform 1.14,
// given through TF_ACC_TERRAFORM_PATH, and skips on older ones.
func TestAccPurgeActionTrigger(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	byStatus := srv.seedEveryStatus(srv.agentID)
	var kept []string // in use, or outside the group
	for _, c := range srv.Contexts() {
		if c.Status == localserver.StatusRunning || c.Status == localserver.StatusWaitingForInput || *c.ContextGroup != "nightly" {
			kept = append(kept, c.ID)
		}
	}
	var liveID string
	config := srv.providerBlock() + fmt.Sprintf(`
action "wacht_execution_context_purge" "nightly" {
  config {
    agent_id      = %[1]q
    context_group = "nightly"
  }
}

resource "wacht_execution_context" "test" {
  title         = "Live"
  agent_id      = %[1]q
  context_group = "live"

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.wacht_execution_context_purge.nightly]
    }
  }
}
`, srv.agentID)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		CheckDestroy: func(*terraform.State) error {
			if got, want := srv.remaining(), without(kept); !slices.Equal(got, want) {
				return fmt.Errorf("after destroy the server holds %v, want %v", got, want)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				stateID(&liveID),
				func(*terraform.State) error {
					if got, want := srv.remaining(), without(append(slices.Clone(kept), liveID)); !slices.Equal(got, want) {
						return fmt.Errorf("after the purge the server holds %v, want %v", got, want)
					}
					if _, ok := srv.Context(byStatus[localserver.StatusCompleted][0]); ok {
						return fmt.Errorf("the completed nightly context was not purged")
					}
					return nil
				},
			),
		}},
	})
}
