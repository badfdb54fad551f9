package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// The invariants of the contexts Terraform manages, checked through the real
// CLI while the local server misbehaves: every address tracks a distinct
// context, every tracked context exists, and no context the configuration
// made is left on the server untracked.

// trackedContext is one resource instance of the state file.
type trackedContext struct {
	addr, id string
	tainted  bool
}

// stateContexts reads the execution contexts of the state file, without a
// command, with their taint.
func (c *cli) stateContexts() []trackedContext {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "terraform.tfstate"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Mode, Type, Name string
			Instances        []struct {
				IndexKey   any    `json:"index_key"`
				Status     string `json:"status"`
				Attributes struct {
					ID string `json:"id"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		c.t.Fatalf("reading the state: %v", err)
	}
	var out []trackedContext
	for _, rs := range st.Resources {
		if rs.Mode != "managed" || rs.Type != "wacht_execution_context" {
			continue
		}
		for _, in := range rs.Instances {
			addr := rs.Type + "." + rs.Name
			if in.IndexKey != nil {
				addr += fmt.Sprintf("[%v]", in.IndexKey)
			}
			out = append(out, trackedContext{addr: addr, id: in.Attributes.ID, tainted: in.Status == "tainted"})
		}
	}
	return out
}

// start runs a command without waiting for it, for a test to interrupt.
func (c *cli) start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.dir, c.env, &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	return cmd, &out
}

// interrupt sends Terraform the SIGINT of a first Ctrl-C and waits for it to
// stop.
func interrupt(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // an interrupted apply fails
}

// stateMatchesServer checks the invariants. gone are contexts that may be
// tracked although they no longer exist: deleted behind Terraform's back, or
// by a delete whose answer an interrupt cut off, until a refresh sees it.
func stateMatchesServer(srv *localserver.Server, tracked []trackedContext, gone map[string]bool) error {
	onServer := map[string]bool{}
	for _, ec := range srv.Contexts() {
		onServer[ec.ID] = true
	}
	var problems []string
	byID := map[string]string{}
	for _, tc := range tracked {
		if other, ok := byID[tc.id]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s both track context %s", other, tc.addr, tc.id))
		}
		byID[tc.id] = tc.addr
		if !onServer[tc.id] && !gone[tc.id] {
			problems = append(problems, fmt.Sprintf("%s tracks context %s, which does not exist", tc.addr, tc.id))
		}
	}
	for id := range onServer {
		if _, ok := byID[id]; !ok {
			problems = append(problems, fmt.Sprintf("context %s is on the server, tracked by no address", id))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d broken invariants:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	return nil
}

// invariantConfig is count identical contexts, titled by gen.
func invariantConfig(srv testServer, count, gen int, createTimeout string) string {
	timeouts := ""
	if createTimeout != "" {
		timeouts = fmt.Sprintf("\n  timeouts {\n    create = %q\n  }", createTimeout)
	}
	provider := strings.TrimSuffix(srv.providerBlock(), "}\n") + fastLimits + "}\n"
	return provider + fmt.Sprintf("resource \"wacht_execution_context\" \"n\" {\n  count    = %d\n  title    = \"invariant %d\"\n  agent_id = %q%s\n}\n",
		count, gen, srv.agentID, timeouts)
}

// envInt reads a positive integer setting of the suite, or def.
func envInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// TestAccInvariants runs seeded random steps (applies that grow and shrink
// the count, attribute changes, out-of-band deletes and retitles, interrupts
// and create timeouts) while the local server injects random faults, and
// checks the invariants after every step and after a final fault-free apply.
// WACHT_INVARIANT_SEED replays a run; WACHT_INVARIANT_SECONDS sets how long
// it goes on (default 60; `make invariants` runs longer).
func TestAccInvariants(t *testing.T) {
	seed := uint64(envInt(t, "WACHT_INVARIANT_SEED", time.Now().UnixNano()&(1<<62-1)))
	budget := time.Duration(envInt(t, "WACHT_INVARIANT_SECONDS", 60)) * time.Second
	t.Logf("invariant suite: seed %d (replay with WACHT_INVARIANT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	srv := startServer(t, localserver.Options{Limits: scaledLimits()})
	api, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: srv.APIKey(), Limits: ptr(wacht.Unlimited()), MaxRetries: 5})
	if err != nil {
		t.Fatal(err)
	}
	count, gen := 0, 0
	c := newCLI(t, invariantConfig(srv, count, gen, ""))

	var steps, checks, failedApplies, interrupts int
	kinds := map[string]int{}
	gone := map[string]bool{}
	var out string // of the step's apply
	check := func(when string) {
		t.Helper()
		checks++
		if err := stateMatchesServer(srv.Server, c.stateContexts(), gone); err != nil {
			t.Fatalf("seed %d, %s: %v\n\nThe apply said:\n%s", seed, when, err, lastLines(out, 80))
		}
	}
	start := time.Now()
	for time.Since(start) < budget {
		steps++
		// The step's change, made before its apply.
		kind := []string{"count", "count", "attribute", "delete", "retitle", "interrupt", "timeout"}[rng.IntN(7)]
		kinds[kind]++
		timeout := ""
		switch kind {
		case "count", "interrupt":
			count = rng.IntN(9)
		case "attribute":
			gen++
		case "delete", "retitle":
			tracked := c.stateContexts()
			if len(tracked) == 0 {
				break
			}
			victim := tracked[rng.IntN(len(tracked))].id
			if kind == "delete" {
				srv.RemoveContext(victim)
				gone[victim] = true
			} else if _, err := api.UpdateExecutionContext(context.Background(), victim, wacht.UpdateExecutionContextInput{Title: ptr("retitled")}); err != nil {
				t.Fatalf("seed %d: retitling %s: %v", seed, victim, err)
			}
		case "timeout":
			count = rng.IntN(9)
			timeout = "1s"
		}
		faults := localserver.Faults{
			ErrorRate: rng.Float64() * 0.15, DropRate: rng.Float64() * 0.1, Seed: rng.Int64(),
			CreateErrorBeforeRate: rng.Float64() * 0.2, CreateErrorAfterRate: rng.Float64() * 0.2, CreateLostRate: rng.Float64() * 0.2,
		}
		if kind == "interrupt" || kind == "timeout" {
			faults.CreateAnswerDelay = time.Duration(500+rng.IntN(1500)) * time.Millisecond
		}
		srv.SetFaults(faults)
		srv.SetLatency(time.Duration(rng.IntN(30)) * time.Millisecond)
		before := map[string]bool{}
		for _, ec := range srv.Contexts() {
			before[ec.ID] = true
		}
		c.write(invariantConfig(srv, count, gen, timeout))
		args := []string{"apply", "-auto-approve", "-no-color", "-parallelism=" + strconv.Itoa(1+rng.IntN(10))}
		if kind == "interrupt" {
			cmd, buf := c.start(args...)
			time.Sleep(time.Duration(300+rng.IntN(2000)) * time.Millisecond)
			interrupt(t, cmd)
			interrupts++
			out = buf.String()
			// A delete whose answer the interrupt cut off leaves its context
			// tracked until the next refresh.
			for id := range before {
				if _, ok := srv.Context(id); !ok {
					gone[id] = true
				}
			}
		} else if out, err = c.run(args...); err != nil {
			failedApplies++
		}
		check(fmt.Sprintf("after step %d (%s, count %d)", steps, kind, count))
	}

	srv.SetFaults(localserver.Faults{})
	srv.SetLatency(0)
	c.write(invariantConfig(srv, count, gen, ""))
	out = c.must("apply", "-auto-approve", "-no-color")
	gone = nil // refreshed: nothing may be tracked that is gone
	check("after the final fault-free apply")
	if tracked := c.stateContexts(); len(tracked) != count {
		t.Fatalf("seed %d: %d contexts tracked after the final apply, want %d", seed, len(tracked), count)
	}
	if out, err := c.run("plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Fatalf("seed %d: the plan after the final apply is not empty (%v):\n%s", seed, err, lastLines(out, 30))
	}
	creates := srv.Count(http.MethodPost, localserver.ContextsRoute, -1)
	t.Logf("invariant suite: seed %d: %d steps %v, %d applies failed, %d interrupted, %d creates sent, %d faults injected, %d invariant checks passed",
		seed, steps, kinds, failedApplies, interrupts, creates, srv.FaultsInjected(), checks)
}
