package provider

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The tests here attack the provider as a careless or hostile user would and
// compare, after each run, what the state tracks with what the server holds.

// protectedPair is two protected contexts of the server's agent, as count
// instances, in a working directory of their own.
func protectedPair(t *testing.T, srv testServer, count int, settings string) string {
	return srv.providerWith(settings) + fmt.Sprintf(`resource "wacht_execution_context" "p" {
  count               = %d
  title               = "keep ${count.index}"
  agent_id            = %q
  deletion_protection = true
}
`, count, srv.agentID)
}

// tracked checks that the state tracks exactly want, each once, and that the
// server still holds every one of them.
func (c *cli) tracked(srv testServer, want []string) {
	c.t.Helper()
	got := c.state().managedIDs()
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		c.t.Errorf("the state tracks %v, want %v", got, want)
	}
	for _, id := range want {
		if _, ok := srv.Context(id); !ok {
			c.t.Errorf("context %s is gone from the server", id)
		}
	}
}

// fails runs a command that must fail with every one of wants in its output.
func (c *cli) fails(args []string, wants ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err == nil {
		c.t.Fatalf("terraform %v succeeded, want an error:\n%s", args, lastLines(out, 30))
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range wants {
		if !strings.Contains(flat, want) {
			c.t.Errorf("terraform %v: the output does not say %q:\n%s", args, want, lastLines(out, 30))
		}
	}
	return flat
}

func TestAccDeletionProtectionHoldsWhateverPlannedTheDelete(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	c := newCLI(t, protectedPair(t, srv, 2, ""))
	c.must("apply", "-auto-approve", "-no-color")
	ids := c.state().managedIDs()
	if len(ids) != 2 {
		t.Fatalf("applied %v, want 2 contexts", ids)
	}
	refusal := []string{"protected from deletion", "deletion_protection = false"}

	// -replace and taint plan a replacement the provider is never shown:
	// Delete itself refuses, and nothing is created in its place.
	c.fails([]string{"apply", "-auto-approve", "-no-color", "-replace=wacht_execution_context.p[0]"}, refusal...)
	c.tracked(srv, ids)
	c.must("taint", "wacht_execution_context.p[1]")
	c.fails([]string{"apply", "-auto-approve", "-no-color"}, refusal...)
	c.tracked(srv, ids)
	c.must("untaint", "wacht_execution_context.p[1]")

	// A smaller count, a destroy, a destroy without refresh: refused at plan
	// time already.
	c.write(protectedPair(t, srv, 1, ""))
	c.fails([]string{"apply", "-auto-approve", "-no-color"}, append(refusal, "destroy execution context "+ids[1])...)
	c.write(protectedPair(t, srv, 2, ""))
	for _, args := range [][]string{{"destroy", "-auto-approve", "-no-color"}, {"destroy", "-auto-approve", "-no-color", "-refresh=false"}} {
		c.fails(args, refusal...)
	}
	c.tracked(srv, ids)
	if n := len(srv.Contexts()); n != 2 {
		t.Errorf("the server holds %d contexts, want the 2 protected ones and no replacement", n)
	}

	// A removed block (Terraform 1.7 and later) is refused too.
	if cliAtLeast(t, 1, 7) {
		c.write(srv.providerWith("") + "removed {\n  from = wacht_execution_context.p\n  lifecycle {\n    destroy = true\n  }\n}\n")
		c.fails([]string{"apply", "-auto-approve", "-no-color"}, refusal...)
		c.tracked(srv, ids)
	} else {
		t.Log("removed blocks need Terraform 1.7 or later: that path is tested on the newer CLIs the suite runs")
	}

	// Lifting the protection first is the way out.
	c.write(strings.ReplaceAll(protectedPair(t, srv, 2, ""), "deletion_protection = true", "deletion_protection = false"))
	c.must("apply", "-auto-approve", "-no-color")
	c.must("destroy", "-auto-approve", "-no-color")
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts left after the destroy of unprotected ones", n)
	}
}

// jsonNotFoundEverywhere is a host, or a backend with no execution-context
// routes, that answers every request with the newer backends' JSON 404.
func jsonNotFoundEverywhere(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"message":"Not Found","code":404}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// withoutContextRoutes serves srv's agent routes and answers every
// execution-context path with a JSON 404: a deployment whose backend has no
// execution-context API.
func withoutContextRoutes(t *testing.T, srv testServer) string {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, listRoute) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"message":"Not Found","code":404}]}`))
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

func TestAccA404FromAMissingAPIForgetsNothing(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	config := func(baseURL string, more ...string) string {
		return fmt.Sprintf("provider \"wacht\" {\n  api_key  = %q\n  base_url = %q\n}\n", srv.APIKey(), baseURL) +
			fmt.Sprintf("resource \"wacht_execution_context\" \"n\" {\n  count    = 6\n  title    = \"n${count.index}\"\n  agent_id = %q\n}\n", srv.agentID) +
			strings.Join(more, "")
	}
	c := newCLI(t, config(srv.URL()))
	c.must("apply", "-auto-approve", "-no-color")
	ids := c.state().managedIDs()

	for name, baseURL := range map[string]string{
		"a wrong path":                 srv.URL() + "/v1",
		"a host that 404s everything":  jsonNotFoundEverywhere(t),
		"a backend without the routes": withoutContextRoutes(t, srv),
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			defer func() { c.t = nil }()
			c.write(config(baseURL, "resource \"wacht_execution_context\" \"imported\" {}\n"))
			want := []string{"base_url", baseURL + "/ai/execution-contexts", "HTTP 404"}
			for _, args := range [][]string{
				{"plan", "-no-color"},
				{"apply", "-refresh-only", "-auto-approve", "-no-color"},
				{"destroy", "-auto-approve", "-no-color"},
				{"destroy", "-auto-approve", "-no-color", "-refresh=false"},
				{"import", "-no-color", "wacht_execution_context.imported", ids[0]},
			} {
				c.fails(args, want...)
			}
			c.tracked(srv, ids)
		})
	}
	// Hosts that say 200 to everything: nothing they answer is taken for a
	// context, a delete or a create.
	for name, body := range map[string]string{"{}": `{}`, "a web page": "<html><body>It works!</body></html>"} {
		t.Run("a host that answers "+name+" to everything", func(t *testing.T) {
			c.t = t
			defer func() { c.t = nil }()
			host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
			t.Cleanup(host.Close)
			c.write(config(host.URL))
			for _, args := range [][]string{
				{"plan", "-no-color"},
				{"destroy", "-auto-approve", "-no-color", "-refresh=false"},
				{"apply", "-auto-approve", "-no-color", "-refresh=false", "-replace=wacht_execution_context.n[0]"},
			} {
				c.fails(args, "base URL")
			}
			c.tracked(srv, ids)
		})
	}
	c.t = t
	c.write(config(srv.URL()))
	c.must("destroy", "-auto-approve", "-no-color")
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts left after the destroy through the right base URL", n)
	}
}

func TestAccAKeyOfAnotherDeploymentForgetsNothing(t *testing.T) {
	home := startServer(t, localserver.Options{DisableLimits: true})
	// Another deployment, as another Wacht account or environment: it knows
	// none of home's contexts, and answers 404 for them.
	away := startServer(t, localserver.Options{DisableLimits: true, DeploymentID: "7210948356998815999"})
	count := 3
	config := func(srv testServer, settings string) string {
		return srv.providerWith(settings) +
			fmt.Sprintf("resource \"wacht_execution_context\" \"n\" {\n  count    = %d\n  title    = \"n${count.index}\"\n  agent_id = %q\n}\n", count, home.agentID)
	}
	c := newCLI(t, config(home, ""))
	c.must("apply", "-auto-approve", "-no-color")
	ids := c.state().managedIDs()

	c.write(config(away, ""))
	both := []string{home.DeploymentID(), away.DeploymentID()}
	for _, args := range [][]string{
		{"plan", "-no-color"},
		{"apply", "-refresh-only", "-auto-approve", "-no-color"},
		{"destroy", "-auto-approve", "-no-color", "-refresh=false"},
	} {
		c.fails(args, both...)
	}
	c.tracked(home, ids)

	// Pinned to home, the other deployment's key changes nothing, not even
	// what it could: its own agent's contexts.
	c.write(config(away, fmt.Sprintf("  deployment_id = %q\n", home.DeploymentID())))
	c.fails([]string{"apply", "-auto-approve", "-no-color", "-refresh=false", "-replace=wacht_execution_context.n[0]"}, both...)
	count = 4
	c.write(config(away, fmt.Sprintf("  deployment_id = %q\n", home.DeploymentID())))
	if out := c.fails([]string{"apply", "-auto-approve", "-no-color", "-refresh=false"}, append(both, "Nothing was changed")...); strings.Contains(out, "all the same") {
		t.Errorf("a create refused before it was sent is said to have made a context:\n%s", out)
	}
	count = 3
	if n := len(away.Contexts()); n != 0 {
		t.Errorf("the other deployment holds %d contexts: a key of another deployment than the pinned one made them", n)
	}
	c.tracked(home, ids)

	// Pinned to another deployment than the key's own, nothing is read as
	// home's either.
	c.write(config(home, fmt.Sprintf("  deployment_id = %q\n", away.DeploymentID())))
	c.fails([]string{"plan", "-no-color"}, both...)
	c.tracked(home, ids)

	c.write(config(home, fmt.Sprintf("  deployment_id = %q\n", home.DeploymentID())))
	c.must("destroy", "-auto-approve", "-no-color")
	if n := len(home.Contexts()); n != 0 {
		t.Errorf("%d contexts left after the destroy with the right key", n)
	}
}

// The scope's filters are checked by the provider too: a server that
// ignores them never widens a purge, and "" is the empty group, exactly.
func TestPurgeNeverWidensPastItsFilters(t *testing.T) {
	srv := startFastServer(t)
	other := srv.AddAgent("billing-bot", "").ID
	empty, blue := "", "blue"
	var want []string
	for _, agent := range []string{srv.agentID, other} {
		for _, group := range []*string{&empty, nil, &blue} {
			for _, status := range []string{localserver.StatusIdle, localserver.StatusCompleted} {
				a := agent
				c := srv.AddContext(localserver.ExecutionContext{Title: "t", AgentID: &a, ContextGroup: group, Status: status})
				if agent == srv.agentID && group == &empty && status == localserver.StatusCompleted {
					want = append(want, c.ID)
				}
			}
		}
	}
	all := srv.remaining()
	for _, ignore := range []bool{true, false} {
		srv.SetIgnoreFilters(ignore)
		p := srv.fastProto(t, protoSetup{})
		progress, diags := p.invoke(map[string]tftypes.Value{
			"agent_id": str(srv.agentID), "context_group": str(""), "status": str(localserver.StatusCompleted),
		})
		p.noErrors("InvokeAction", diags)
		if got := srv.remaining(); !slices.Equal(got, without(all, want...)) {
			t.Errorf("server ignoring filters %v: %v left, want all but %v (progress %q)", ignore, got, want, progress)
		}
		// The first round deleted them: the second must delete nothing.
		all, want = srv.remaining(), nil
	}
}

func TestAccDataSourceNeverWidensPastItsFilters(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	empty, blue := "", "blue"
	srv.seedContexts(srv.agentID, 9, func(i int, c *localserver.ExecutionContext) {
		c.ContextGroup = []*string{&empty, nil, &blue}[i%3]
	})
	other := srv.AddAgent("billing-bot", "").ID
	srv.seedContexts(other, 3, func(_ int, c *localserver.ExecutionContext) { c.ContextGroup = &empty })
	want := srv.wantIDs(func(c localserver.ExecutionContext) bool {
		return *c.AgentID == srv.agentID && c.ContextGroup != nil && *c.ContextGroup == ""
	})
	srv.SetIgnoreFilters(true)
	config := srv.withBlocks(fmt.Sprintf("data \"wacht_execution_contexts\" \"empty\" {\n  agent_id      = %q\n  context_group = \"\"\n}\n", srv.agentID))
	if len(want) != 3 {
		t.Fatalf("seeded %d contexts of the empty group, want 3", len(want))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config:            config,
			ConfigStateChecks: []statecheck.StateCheck{listIs("data.wacht_execution_contexts.empty", "ids", want)},
		}},
	})
}

// A gateway (or a backend without the delete route) answers every DELETE
// with the router's 404 while list and GET show the context: the destroy
// must fail and keep the context in the state, since its GET shows it is
// still there, and succeed once deletes reach the API.
func TestAccDeleteAnswered404WhileTheContextIsStillThere(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	target, _ := url.Parse(srv.URL())
	var block404 atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if block404.Load() && r.Method == http.MethodDelete {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"message":"Not Found","code":404}]}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	provider := strings.Replace(srv.providerBlock(), srv.URL(), proxy.URL, 1)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{Config: provider + "resource \"wacht_execution_context\" \"test\" {\n  title = \"kept\"\n}\n"},
			{
				PreConfig:   func() { block404.Store(true) },
				Config:      provider,
				ExpectError: regexp.MustCompile(`(?s)HTTP 404.*still there`),
			},
			{PreConfig: func() { block404.Store(false) }, Config: provider},
		},
	})
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts left on the server", n)
	}
}

// One context tracked by two addresses (an id imported twice) is named at
// the next plan: destroying either would delete what the other tracks.
func TestAccTwoAddressesOnOneContextAreNamed(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	one := srv.providerBlock() + "resource \"wacht_execution_context\" \"a\" {\n  title = \"one\"\n}\n"
	c := newCLI(t, one)
	c.must("apply", "-auto-approve", "-no-color")
	const warning = "tracked by two addresses"
	if out := c.must("plan", "-no-color"); strings.Contains(out, warning) {
		t.Fatalf("one address on one context is named as two:\n%s", out)
	}
	id := c.state().managedIDs()[0]
	c.write(one + "resource \"wacht_execution_context\" \"b\" {\n  title = \"one\"\n}\n")
	c.must("import", "-no-color", "wacht_execution_context.b", id)
	out := strings.Join(strings.Fields(c.must("plan", "-no-color")), " ")
	if !strings.Contains(out, warning) || !strings.Contains(out, id) {
		t.Errorf("the plan does not name context %s as tracked by two addresses:\n%s", id, out)
	}
}
