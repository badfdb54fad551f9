package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The ways a create can end without its answer, each ending, after one
// fault-free apply, with the state and the server equal.

// identical is count contexts with the same arguments, and extra lines.
func identical(srv testServer, count int, extra ...string) string {
	provider := strings.TrimSuffix(srv.providerBlock(), "}\n") + fastLimits + "}\n"
	var body strings.Builder
	for _, line := range extra {
		body.WriteString(line + "\n")
	}
	return provider + fmt.Sprintf("resource \"wacht_execution_context\" \"n\" {\n  count    = %d\n  title    = \"same\"\n  agent_id = %q\n%s}\n",
		count, srv.agentID, body.String())
}

// wantStateMatchesServer checks the invariants, and that count contexts are
// tracked.
func wantStateMatchesServer(t *testing.T, c *cli, srv testServer, count int) {
	t.Helper()
	tracked := c.stateContexts()
	if err := stateMatchesServer(srv.Server, tracked, nil); err != nil {
		t.Fatal(err)
	}
	if len(tracked) != count {
		t.Fatalf("%d contexts tracked, want %d", len(tracked), count)
	}
}

// A sibling is never adopted: count = 2, one at a time, the second create
// answered 503 before anything was made.
func TestAccLostCreateDoesNotAdoptItsSibling(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits(), Faults: localserver.Faults{CreatesBeforeFaults: 1, FailCreatesBefore: 1}})
	c := newCLI(t, identical(srv, 2))
	out, err := c.run("apply", "-auto-approve", "-no-color", "-parallelism=1")
	if err == nil || !regexp.MustCompile(`No context with this configuration\s+was\s+created\s+since`).MatchString(out) {
		t.Fatalf("apply with a 503 on the second create: %v, want it to fail saying no context was made:\n%s", err, lastLines(out, 30))
	}
	if tracked := c.stateContexts(); len(tracked) != 1 || len(srv.Contexts()) != 1 {
		t.Fatalf("%d tracked, %d on the server: want the first alone", len(tracked), len(srv.Contexts()))
	}
	wantStateMatchesServer(t, c, srv, 1)
	c.must("apply", "-auto-approve", "-no-color", "-parallelism=1")
	wantStateMatchesServer(t, c, srv, 2)
}

// A sibling tracked by an earlier run is not adopted either: its read claims
// it, and it was made before the create was sent.
func TestAccLostCreateDoesNotAdoptATrackedContext(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits()})
	c := newCLI(t, identical(srv, 1))
	c.must("apply", "-auto-approve", "-no-color")
	srv.SetFaults(localserver.Faults{FailCreatesBefore: 1})
	c.write(identical(srv, 2))
	if _, err := c.run("apply", "-auto-approve", "-no-color"); err == nil {
		t.Fatal("apply with a 503 on the create succeeded")
	}
	wantStateMatchesServer(t, c, srv, 1)
	c.must("apply", "-auto-approve", "-no-color")
	wantStateMatchesServer(t, c, srv, 2)
}

// 14 identical contexts, a third made and then answered 502: each lost
// create adopts one of the contexts made, none is left over.
func TestAccCreatesAnswered502AfterTheyWereMade(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits(), Faults: localserver.Faults{CreateErrorAfterRate: 1.0 / 3, Seed: 14}})
	c := newCLI(t, identical(srv, 14))
	out := c.must("apply", "-auto-approve", "-json") // the human output folds similar warnings
	n := srv.Count(http.MethodPost, localserver.ContextsRoute, http.StatusBadGateway)
	if n == 0 {
		t.Fatal("no create was answered 502: the test proved nothing")
	}
	if adopted := strings.Count(out, `"summary":"Adopted an execution context after a lost answer"`); adopted != n {
		t.Errorf("%d adoptions reported for %d creates answered 502", adopted, n)
	}
	wantStateMatchesServer(t, c, srv, 14)
	srv.SetFaults(localserver.Faults{})
	c.must("apply", "-auto-approve", "-no-color")
	wantStateMatchesServer(t, c, srv, 14)
	if posts := srv.Count(http.MethodPost, localserver.ContextsRoute, -1); posts != 14 {
		t.Errorf("%d creates sent, want 14: none repeated", posts)
	}
}

// Terraform's first Ctrl-C with 20 slow creates in flight: each records the
// context it made, and the apply fails saying so.
func TestAccInterruptedCreatesRecordTheirContexts(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits(), Faults: localserver.Faults{CreateAnswerDelay: time.Minute}})
	c := newCLI(t, identical(srv, 20))
	cmd, out := c.start("apply", "-auto-approve", "-no-color", "-parallelism=20")
	deadline := time.Now().Add(time.Minute)
	for len(srv.Contexts()) < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(srv.Contexts()) < 20 {
		t.Fatalf("%d creates reached the server in a minute:\n%s", len(srv.Contexts()), out)
	}
	interrupt(t, cmd)
	if got := strings.Count(out.String(), "Error: Execution context created, but its create did not finish"); got != 20 {
		t.Errorf("%d creates reported as interrupted after their context was made, want 20:\n%s", got, lastLines(out.String(), 40))
	}
	wantStateMatchesServer(t, c, srv, 20)
	for _, tc := range c.stateContexts() {
		if !tc.tainted {
			t.Errorf("%s is not tainted after an interrupted create", tc.addr)
		}
	}
	srv.SetFaults(localserver.Faults{})
	c.must("apply", "-auto-approve", "-no-color", "-parallelism=20")
	wantStateMatchesServer(t, c, srv, 20)
}

// A create timeout shorter than the server's answer: the context made is
// recorded, and the error names the timeout.
func TestAccCreateTimeoutRecordsTheContext(t *testing.T) {
	srv := startServer(t, localserver.Options{Limits: scaledLimits(), Faults: localserver.Faults{CreateAnswerDelay: 1500 * time.Millisecond}})
	c := newCLI(t, identical(srv, 3, "  timeouts {\n    create = \"1s\"\n  }"))
	out, err := c.run("apply", "-auto-approve", "-no-color")
	timedOut := regexp.MustCompile(`create timeout \(timeouts.create\) of 1s ran\s+out with the request in flight, after the context was made`)
	if err == nil || len(timedOut.FindAllString(out, -1)) != 3 {
		t.Fatalf("apply against a server slower than the create timeout: %v, want 3 timeouts reported:\n%s", err, lastLines(out, 40))
	}
	wantStateMatchesServer(t, c, srv, 3)
	srv.SetFaults(localserver.Faults{})
	c.must("apply", "-auto-approve", "-no-color")
	wantStateMatchesServer(t, c, srv, 3)
}

// Found by the outside attack: one context anywhere in the deployment whose
// last_activity_at is ahead of the server's clock (another node's skewed
// clock) sits at the front of the list; the presence probe took its activity
// as the lost create's window start, so the context the create made was not
// found and was left untracked.
func TestAccLostCreateAnswerIsAdoptedDespiteAFutureDatedContext(t *testing.T) {
	srv := startServer(t, localserver.Options{Faults: localserver.Faults{LoseCreateResponses: 1}})
	other := "unrelated"
	future := srv.AddContext(localserver.ExecutionContext{Title: "future", ContextGroup: &other, LastActivityAt: time.Now().Add(10 * time.Minute)})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: srv.contextConfig(`title = "answer lost"`, fmt.Sprintf("agent_id = %q", srv.agentID)),
			Check: func(st *terraform.State) error {
				for _, c := range srv.Contexts() {
					if c.ID != future.ID {
						return resource.TestCheckResourceAttr(ctxAddr, "id", c.ID)(st)
					}
				}
				return fmt.Errorf("no context made")
			},
		}},
	})
}
