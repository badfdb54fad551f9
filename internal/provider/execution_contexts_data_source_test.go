package provider

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

const listRoute = "/ai/execution-contexts"

// withBlocks is the provider block followed by the given blocks.
func (s testServer) withBlocks(blocks ...string) string {
	return s.providerBlock() + strings.Join(blocks, "\n")
}

// seedContexts stores n contexts of agentID, each shaped by shape. As on a
// live account, creation order is not activity order (the API's), and pairs
// share a created_at, so that the data source's sorting shows.
func (s testServer) seedContexts(agentID string, n int, shape func(i int, c *localserver.ExecutionContext)) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		active := base.Add(24*time.Hour + time.Duration(i*7919%n)*time.Second)
		c := localserver.ExecutionContext{
			AgentID:        &agentID,
			Title:          fmt.Sprintf("Chat %d", i),
			CreatedAt:      base.Add(time.Duration(i/2) * time.Minute),
			UpdatedAt:      active,
			LastActivityAt: active,
		}
		if shape != nil {
			shape(i, &c)
		}
		s.AddContext(c)
	}
}

// wantIDs is the test's own account of what a data source should list: the
// server's contexts that keep selects, oldest first, ties by id.
func (s testServer) wantIDs(keep func(localserver.ExecutionContext) bool) []string {
	var cs []localserver.ExecutionContext
	for _, c := range s.Contexts() {
		if keep(c) {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b localserver.ExecutionContext) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), shortlex(a.ID, b.ID))
	})
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func ofAgent(agentID string) func(localserver.ExecutionContext) bool {
	return func(c localserver.ExecutionContext) bool { return c.AgentID != nil && *c.AgentID == agentID }
}

// listIs checks a list-of-strings attribute, in order.
func listIs(addr, attr string, want []string) statecheck.StateCheck {
	checks := make([]knownvalue.Check, len(want))
	for i, v := range want {
		checks[i] = knownvalue.StringExact(v)
	}
	return statecheck.ExpectKnownValue(addr, tfjsonpath.New(attr), knownvalue.ListExact(checks))
}

// keepBumping makes contexts active at random, as running agents do, which
// moves them to the front of the API's list while data sources page through
// it. It stops when the test ends.
func (s testServer) keepBumping(t *testing.T, every time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				cs := s.Contexts()
				c := cs[rand.IntN(len(cs))]
				_ = s.SetStatus(c.ID, c.Status) // same status: only its activity changes
			}
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
}

func TestAccExecutionContextsDataSource(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true, Latency: time.Millisecond})
	other := srv.AddAgent("billing-bot", "").ID
	statuses := statusNames()
	shape := func(i int, c *localserver.ExecutionContext) {
		c.Status = statuses[i%len(statuses)]
		if c.Status == localserver.StatusCompleted {
			c.CompletedAt = &c.UpdatedAt
		}
		if group := []string{"billing", "support", ""}[i%3]; group != "" {
			c.ContextGroup = &group
		}
		if i%4 == 0 {
			c.Title = fmt.Sprintf("Nightly report %d", i)
		}
	}
	srv.seedContexts(srv.agentID, 230, shape) // three pages
	srv.seedContexts(other, 40, shape)
	srv.keepBumping(t, 3*time.Millisecond)

	mine := ofAgent(srv.agentID)
	is := func(status, group, prefix string) func(localserver.ExecutionContext) bool {
		return func(c localserver.ExecutionContext) bool {
			return mine(c) && (status == "" || c.Status == status) &&
				(group == "" || c.ContextGroup != nil && *c.ContextGroup == group) && strings.HasPrefix(c.Title, prefix)
		}
	}
	all := srv.wantIDs(mine)
	if len(all) != 230 {
		t.Fatalf("seeded %d contexts, want 230", len(all))
	}
	first, _ := srv.Context(all[0])
	block := func(name string, args ...string) string {
		return fmt.Sprintf("data \"wacht_execution_contexts\" %q {\n  agent_id = %q\n  %s\n}\n", name, srv.agentID, strings.Join(args, "\n  "))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: srv.withBlocks(
				block("all"),
				block("completed", `status = "completed"`),
				block("support", `context_group = "support"`),
				block("nightly", `title_prefix = "Nightly"`),
				block("combined", `status = "idle"`, `context_group = "billing"`, `title_prefix = "Nightly"`),
				block("none", `status = "running"`, `context_group = "nope"`),
				fmt.Sprintf("data \"wacht_execution_contexts\" \"other\" {\n  agent_id = %q\n}\n", other),
			),
			ConfigStateChecks: []statecheck.StateCheck{
				listIs("data.wacht_execution_contexts.all", "ids", all),
				listIs("data.wacht_execution_contexts.completed", "ids", srv.wantIDs(is("completed", "", ""))),
				listIs("data.wacht_execution_contexts.support", "ids", srv.wantIDs(is("", "support", ""))),
				listIs("data.wacht_execution_contexts.nightly", "ids", srv.wantIDs(is("", "", "Nightly"))),
				listIs("data.wacht_execution_contexts.combined", "ids", srv.wantIDs(is("idle", "billing", "Nightly"))),
				listIs("data.wacht_execution_contexts.none", "ids", nil),
				listIs("data.wacht_execution_contexts.other", "ids", srv.wantIDs(ofAgent(other))),
				statecheck.ExpectKnownValue("data.wacht_execution_contexts.all", tfjsonpath.New("contexts"), knownvalue.ListSizeExact(230)),
				statecheck.ExpectKnownValue("data.wacht_execution_contexts.all", tfjsonpath.New("contexts").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"id":                  knownvalue.StringExact(first.ID),
					"title":               knownvalue.StringExact(first.Title),
					"system_instructions": knownvalue.Null(),
					"context_group":       knownvalue.StringExact(*first.ContextGroup),
					"agent_id":            knownvalue.StringExact(srv.agentID),
					"status":              knownvalue.StringExact(first.Status),
					"deployment_id":       knownvalue.StringExact(srv.DeploymentID()),
					"created_at":          knownvalue.StringExact(first.CreatedAt.Format(time.RFC3339Nano)),
					"updated_at":          knownvalue.NotNull(), // moved on by keepBumping
					"last_activity_at":    knownvalue.NotNull(),
					"completed_at":        knownvalue.Null(),
				})),
			},
		}},
	})
	if n := srv.Count(http.MethodGet, listRoute, 200); n < 3 {
		t.Errorf("%d list requests, want at least the three pages of the 230 contexts", n)
	}
}

func TestAccExecutionContextsDataSourceBadInputs(t *testing.T) {
	preCheck(t) // before the subtests, whose requests it counts
	srv := startServer(t, localserver.Options{})
	config := func(args string) string {
		return srv.withBlocks("data \"wacht_execution_contexts\" \"x\" {\n  " + args + "\n}\n")
	}
	cases := []struct {
		name, args, want string
	}{
		{"non-numeric agent", `agent_id = "support-bot"`, `(?s)Invalid Wacht id.*agent_id.*decimal integer`},
		{"path in agent", `agent_id = "../agents/1"`, `(?s)Invalid Wacht id.*agent_id`},
		{"no agent", `status = "idle"`, `(?s)The argument "agent_id" is required`},
		{"unknown status", fmt.Sprintf("agent_id = %q\n  status = \"done\"", srv.agentID),
			`(?s)Invalid Attribute Value Match.*status.*value must be one of.*"idle".*"failed".*got: "done"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps:                    []resource.TestStep{{Config: config(tc.args), ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
	if n := srv.Count(http.MethodGet, listRoute, -1); n != 0 {
		t.Errorf("%d list requests reached the server for bad input", n)
	}

	// A well-formed id of no agent lists nothing, which would read as "no
	// contexts": it is an error instead.
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config:      config(`agent_id = "123456789"`),
			ExpectError: regexp.MustCompile(`(?s)Unknown agent.*agent_id: no agent 123456789 exists`),
		}},
	})
}
