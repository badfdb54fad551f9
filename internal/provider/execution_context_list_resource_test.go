package provider

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/querycheck"
	"github.com/hashicorp/terraform-plugin-testing/querycheck/queryfilter"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// listed is one result of the list resource, decoded.
type listed struct {
	id, displayName string
	resource        map[string]tftypes.Value // nil unless asked for
}

// listRequest is what a list block asks for.
type listRequest struct {
	config          map[string]tftypes.Value
	includeResource bool
	limit           int64
}

// list runs ListResource for wacht_execution_context and decodes every
// result; the diagnostics of all results are returned together.
func (p *protoServer) list(req listRequest) ([]listed, []*tfprotov6.Diagnostic) {
	p.t.Helper()
	if req.limit == 0 {
		req.limit = 100 // Terraform's default
	}
	stream, err := p.server.ListResource(context.Background(), &tfprotov6.ListResourceRequest{
		TypeName:        contextType,
		Config:          p.dynamic(p.schema.ListResourceSchemas[contextType].ValueType(), req.config),
		IncludeResource: req.includeResource,
		Limit:           req.limit,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	identityType := p.identityType(contextType)
	stateType := p.schema.ResourceSchemas[contextType].ValueType()
	var out []listed
	var diags []*tfprotov6.Diagnostic
	for r := range stream.Results {
		diags = append(diags, r.Diagnostics...)
		if r.Identity == nil {
			continue // a result that only carries diagnostics
		}
		l := listed{id: text(p.t, p.attributes(identityType, r.Identity.IdentityData)["id"]), displayName: r.DisplayName}
		if r.Resource != nil {
			l.resource = p.attributes(stateType, r.Resource)
		}
		out = append(out, l)
	}
	return out, diags
}

func ids(results []listed) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.id
	}
	return out
}

// apiOrder is the ids of the server's contexts that keep selects, in the
// API's order (latest activity first), which the list resource keeps.
func (s testServer) apiOrder(keep func(localserver.ExecutionContext) bool) []string {
	var out []string
	for _, c := range s.Contexts() {
		if keep(c) {
			out = append(out, c.ID)
		}
	}
	return out
}

func TestListResourceResults(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	other := srv.AddAgent("billing-bot", "").ID
	srv.seedContexts(srv.agentID, 6, func(i int, c *localserver.ExecutionContext) {
		if i == 5 {
			c.Title = ""
		}
	})
	srv.seedContexts(other, 3, nil)
	srv.AddContext(localserver.ExecutionContext{Title: "no agent"})
	p := srv.proto(t, protoSetup{})

	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}})
	p.noErrors("ListResource", diags)
	want := srv.apiOrder(ofAgent(srv.agentID))
	if got := ids(results); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want the agent's contexts in the API's order %v", got, want)
	}
	for _, r := range results {
		c, _ := srv.Context(r.id)
		wantName := c.Title
		if wantName == "" {
			wantName = "untitled context " + c.ID
		}
		if r.displayName != wantName {
			t.Errorf("display name of %s = %q, want %q", r.id, r.displayName, wantName)
		}
		if r.resource != nil {
			t.Errorf("result %s carries the resource, which was not asked for", r.id)
		}
	}
}

func TestListResourceIncludesTheResource(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	group, instructions := "support", "Be brief."
	ec := srv.AddContext(localserver.ExecutionContext{
		Title: "triage", ContextGroup: &group, SystemInstructions: &instructions, AgentID: &srv.agentID,
	})
	if err := srv.SetStatus(ec.ID, localserver.StatusCompleted); err != nil {
		t.Fatal(err)
	}
	ec, _ = srv.Context(ec.ID)
	p := srv.proto(t, protoSetup{})

	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}, includeResource: true})
	p.noErrors("ListResource", diags)
	if len(results) != 1 || results[0].resource == nil {
		t.Fatalf("results %+v, want the one context with its resource", results)
	}
	res := results[0].resource
	for name, want := range map[string]string{
		"id": ec.ID, "title": "triage", "system_instructions": instructions, "context_group": group,
		"agent_id": srv.agentID, "status": "completed", "deployment_id": srv.DeploymentID(),
		"created_at": ec.CreatedAt.Format(time.RFC3339Nano), "last_activity_at": ec.LastActivityAt.Format(time.RFC3339Nano),
		"completed_at": ec.CompletedAt.Format(time.RFC3339Nano),
	} {
		if got := text(t, res[name]); got != want {
			t.Errorf("resource %s = %q, want %q", name, got, want)
		}
	}
	// The Terraform-only settings read as an import leaves them.
	for _, name := range []string{"cancel_on_destroy", "deletion_protection"} {
		if !res[name].Equal(boolean(false)) {
			t.Errorf("resource %s = %s, want false", name, res[name])
		}
	}
	if !res["timeouts"].IsNull() {
		t.Errorf("resource timeouts = %s, want null", res["timeouts"])
	}
}

func TestListResourceFilters(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	statuses := statusNames()
	srv.seedContexts(srv.agentID, 36, func(i int, c *localserver.ExecutionContext) {
		c.Status = statuses[i%len(statuses)]
		if group := []string{"billing", "support", ""}[i%3]; group != "" {
			c.ContextGroup = &group
		}
	})
	p := srv.proto(t, protoSetup{})
	mine := ofAgent(srv.agentID)
	for _, tc := range []struct {
		status, group string
	}{{"completed", ""}, {"", "support"}, {"idle", "billing"}, {"running", "nope"}} {
		t.Run(fmt.Sprintf("status=%q group=%q", tc.status, tc.group), func(t *testing.T) {
			config := map[string]tftypes.Value{"agent_id": str(srv.agentID)}
			if tc.status != "" {
				config["status"] = str(tc.status)
			}
			if tc.group != "" {
				config["context_group"] = str(tc.group)
			}
			results, diags := p.list(listRequest{config: config})
			p.noErrors("ListResource", diags)
			want := srv.apiOrder(func(c localserver.ExecutionContext) bool {
				return mine(c) && (tc.status == "" || c.Status == tc.status) &&
					(tc.group == "" || c.ContextGroup != nil && *c.ContextGroup == tc.group)
			})
			if got := ids(results); !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v", got, want)
			}
		})
	}
}

// More contexts than a page: each is listed once, over the walker's pages.
func TestListResourceWalksEveryPage(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	srv.seedContexts(srv.agentID, 250, nil)
	p := srv.proto(t, protoSetup{})

	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}, limit: 1000})
	p.noErrors("ListResource", diags)
	if got, want := ids(results), srv.apiOrder(ofAgent(srv.agentID)); !slices.Equal(got, want) {
		t.Fatalf("listed %d contexts, want the %d of the agent, each once, in the API's order", len(got), len(want))
	}
	// Three pages of 100 and the walker's final read from the front.
	if n := srv.Count(http.MethodGet, listRoute, 200); n != 4 {
		t.Errorf("%d list requests, want 4", n)
	}
}

// The list stops at Terraform's limit and reads no page it does not need.
func TestListResourceHonoursTheLimit(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	srv.seedContexts(srv.agentID, 250, nil)
	p := srv.proto(t, protoSetup{})
	all := srv.apiOrder(ofAgent(srv.agentID))
	requests := func(limit int64) int {
		t.Helper()
		srv.ResetRequests()
		results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}, limit: limit})
		p.noErrors("ListResource", diags)
		if want := all[:min(limit, int64(len(all)))]; !slices.Equal(ids(results), want) {
			t.Errorf("limit %d: listed %d contexts, want the first %d", limit, len(results), len(want))
		}
		return srv.Count(http.MethodGet, listRoute, 200)
	}
	for _, limit := range []int64{1, 30, 100} {
		if n := requests(limit); n != 1 {
			t.Errorf("limit %d: %d list requests, want the first page alone", limit, n)
		}
	}
	// With every context listed, the walker's final read is not needed.
	if whole, limited := requests(1000), requests(250); limited >= whole {
		t.Errorf("limit 250: %d list requests, want fewer than the %d of the whole walk", limited, whole)
	}
}

func TestListResourceBadConfig(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	p := srv.proto(t, protoSetup{})
	listType := p.schema.ListResourceSchemas[contextType].ValueType()
	for _, tc := range []struct {
		name   string
		config map[string]tftypes.Value
		want   string
	}{
		{"non-numeric agent", map[string]tftypes.Value{"agent_id": str("support-bot")}, `(?s)Invalid Wacht id.*agent_id.*decimal integer.*\[at AttributeName\("agent_id"\)\]`},
		{"path in agent", map[string]tftypes.Value{"agent_id": str("../agents/1")}, `(?s)Invalid Wacht id.*\[at AttributeName\("agent_id"\)\]`},
		{"unknown status", map[string]tftypes.Value{"agent_id": str(srv.agentID), "status": str("done")}, `(?s)value must be one of.*"waiting_for_input".*got: "done".*\[at AttributeName\("status"\)\]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.server.ValidateListResourceConfig(context.Background(), &tfprotov6.ValidateListResourceConfigRequest{
				TypeName: contextType, Config: p.dynamic(listType, tc.config),
			})
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, resp.Diagnostics, tc.want)
		})
	}

	// Listing with a bad id all the same is refused before any request.
	_, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str("../agents/1")}})
	wantError(t, diags, `(?s)Error listing execution contexts of agent \.\./agents/1.*invalid id`)
	if n := srv.Count(http.MethodGet, listRoute, -1); n != 0 {
		t.Errorf("%d list requests reached the server for a bad id", n)
	}

	// A well-formed id of no agent lists nothing, which would read as "no
	// contexts": it is an error instead.
	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str("123456789")}})
	wantError(t, diags, `(?s)Unknown agent.*no agent 123456789 exists.*\[at AttributeName\("agent_id"\)\]`)
	if len(results) != 0 {
		t.Errorf("listed %v for an unknown agent", results)
	}
}

// A failing walk ends the stream with an error naming the agent.
func TestListResourceReportsAPIErrors(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	srv.seedContexts(srv.agentID, 3, nil)
	p := srv.proto(t, protoSetup{settings: map[string]tftypes.Value{"api_key": str("sk_test_wrong")}})
	results, diags := p.list(listRequest{config: map[string]tftypes.Value{"agent_id": str(srv.agentID)}})
	wantError(t, diags, fmt.Sprintf(`(?s)Error listing execution contexts of agent %s.*HTTP 401.*The API key was refused`, srv.agentID))
	if len(results) != 0 {
		t.Errorf("listed %v with a refused key", results)
	}
}

// The same through the CLI: needs Terraform 1.14, given through
// TF_ACC_TERRAFORM_PATH, and skips on older ones.
func TestAccListResourceQuery(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	srv.seedContexts(srv.agentID, 4, nil)
	completed := srv.apiOrder(ofAgent(srv.agentID))[0]
	if err := srv.SetStatus(completed, localserver.StatusCompleted); err != nil {
		t.Fatal(err)
	}
	c, _ := srv.Context(completed)
	listBlock := func(name, args string) string {
		return fmt.Sprintf("list \"wacht_execution_context\" %q {\n  provider         = wacht\n  include_resource = true\n  config {\n    agent_id = %q\n    %s\n  }\n}\n", name, srv.agentID, args)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		Steps: []resource.TestStep{
			{
				// The query file has no provider block of its own: it uses
				// the configuration's, as a query beside a root module does.
				Config: srv.contextConfig(`title = "Managed"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			},
			{
				Query:  true,
				Config: listBlock("all", "") + listBlock("completed", `status = "completed"`),
				QueryResultChecks: []querycheck.QueryResultCheck{
					querycheck.ExpectLength("wacht_execution_context.all", 5),
					querycheck.ExpectIdentity("wacht_execution_context.all", map[string]knownvalue.Check{"id": knownvalue.StringExact(completed)}),
					querycheck.ExpectResourceDisplayName("wacht_execution_context.all",
						queryfilter.ByResourceIdentity(map[string]knownvalue.Check{"id": knownvalue.StringExact(completed)}),
						knownvalue.StringExact(c.Title)),
					querycheck.ExpectLength("wacht_execution_context.completed", 1),
					querycheck.ExpectResourceKnownValues("wacht_execution_context.completed",
						queryfilter.ByResourceIdentity(map[string]knownvalue.Check{"id": knownvalue.StringExact(completed)}),
						[]querycheck.KnownValueCheck{
							{Path: tfjsonpath.New("status"), KnownValue: knownvalue.StringExact("completed")},
							{Path: tfjsonpath.New("agent_id"), KnownValue: knownvalue.StringExact(srv.agentID)},
						}),
				},
			},
		},
	})
}
