package provider

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The bulk-removal example is run here with the CLI itself, through the
// package's cli harness, not through resource.Test: the harness shims every
// state into its legacy form, which refuses for_each instances ("for_each is
// not supported", hashicorp/terraform-plugin-sdk#536), and the example is
// for_each through and through. The provider is the binary built from this
// repository, installed through dev_overrides as examples/quickstart/run.sh
// does, so that Terraform and OpenTofu alike find it under the example's
// source address.

const bulkExample = "../../examples/bulk-removal"

// buildProvider builds the provider binary, as a release would run it, into
// a directory of its own: the layout dev_overrides wants.
func buildProvider(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-wacht"), "../..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	return dir
}

// newBulkCLI copies the example's configuration into a fresh directory,
// with vars as its terraform.tfvars.json, for the CLI at
// TF_ACC_TERRAFORM_PATH to run against srv the way the README says: with
// WACHT_API_KEY and WACHT_API_URL.
func newBulkCLI(t *testing.T, providerDir string, srv testServer, vars map[string]any) *cli {
	t.Helper()
	c := binaryCLI(t, providerDir, envAPIKey+"="+srv.APIKey(), envBaseURL+"="+srv.URL())
	files, err := filepath.Glob(filepath.Join(bulkExample, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configuration in %s: %v", bulkExample, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(c.dir, filepath.Base(f)), data)
	}
	tfvars, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.dir, "terraform.tfvars.json"), tfvars)
	return c
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c *cli) showJSON(v any, args ...string) {
	c.t.Helper()
	if err := json.Unmarshal([]byte(c.must(append([]string{"show", "-json", "-no-color"}, args...)...)), v); err != nil {
		c.t.Fatalf("decoding show -json: %v", err)
	}
}

// cliPlan is the part of `show -json <plan>` the tests read.
type cliPlan struct {
	ResourceChanges []struct {
		Address string `json:"address"`
		Change  struct {
			Actions   []string `json:"actions"`
			Importing *struct {
				ID       string            `json:"id"`
				Identity map[string]string `json:"identity"` // an import by identity has no id
			} `json:"importing"`
		} `json:"change"`
	} `json:"resource_changes"`
}

// savedPlan saves a plan as "tfplan", for apply to carry out, and reads it.
func (c *cli) savedPlan() cliPlan {
	c.t.Helper()
	c.must("plan", "-input=false", "-no-color", "-out=tfplan")
	var p cliPlan
	c.showJSON(&p, "tfplan")
	return p
}

// imports returns the ids a plan imports, by id or by identity, or an error
// when it plans anything but a no-op, so that adoption is seen to change
// nothing.
func (p cliPlan) imports() ([]string, error) {
	var ids []string
	for _, rc := range p.ResourceChanges {
		if !slices.Equal(rc.Change.Actions, []string{"no-op"}) {
			return nil, fmt.Errorf("%s plans %v", rc.Address, rc.Change.Actions)
		}
		if imp := rc.Change.Importing; imp != nil {
			ids = append(ids, cmp.Or(imp.ID, imp.Identity["id"]))
		}
	}
	return ids, nil
}

// emptyPlan reports a plan with no change at all, outputs included, from the
// exit code of plan -detailed-exitcode.
func (c *cli) emptyPlan() bool {
	c.t.Helper()
	out, err := c.run("plan", "-input=false", "-no-color", "-detailed-exitcode")
	switch exitCode(err) {
	case 0:
		return true
	case 2:
		c.t.Logf("plan:\n%s", out)
		return false
	}
	c.t.Fatalf("plan: %v\n%s", err, out)
	return false
}

// cliState is the part of `show -json` the tests read.
type cliState struct {
	Values *struct {
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
		RootModule struct {
			Resources []struct {
				Mode   string         `json:"mode"`
				Values map[string]any `json:"values"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"values"`
}

func (c *cli) state() cliState {
	c.t.Helper()
	var s cliState
	c.showJSON(&s)
	return s
}

// managedIDs are the ids of the contexts the state holds.
func (s cliState) managedIDs() []string {
	ids := []string{}
	if s.Values == nil {
		return ids
	}
	for _, rs := range s.Values.RootModule.Resources {
		if rs.Mode == "managed" {
			ids = append(ids, fmt.Sprint(rs.Values["id"]))
		}
	}
	return ids
}

// cliAtLeast reports whether the CLI at TF_ACC_TERRAFORM_PATH is major.minor
// or later.
func cliAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	out, err := exec.Command(bin, "version", "-json").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s version -json: %v", bin, err)
	}
	var got [2]int
	if _, err := fmt.Sscanf(v.Version, "%d.%d", &got[0], &got[1]); err != nil {
		t.Fatalf("%s version %q: %v", bin, v.Version, err)
	}
	return got[0] > major || got[0] == major && got[1] >= minor
}

// bulkLimits are the documented limits ×20. The server enforces them, and
// the example's rate_limits variable gives the client the same, so a run
// that keeps to them never meets a 429.
func bulkLimits() localserver.Limits {
	limits := localserver.DocumentedLimits()
	for _, r := range []*localserver.Rate{&limits.Read, &limits.Create, &limits.Update, &limits.Delete} {
		r.PerMinute *= 20
		r.Burst *= 20
	}
	return limits
}

// bulkVariables are the example's variables; status "" leaves it unset.
func bulkVariables(agentID, status string) map[string]any {
	limits := bulkLimits()
	rate := func(r localserver.Rate) map[string]any {
		return map[string]any{"per_minute": r.PerMinute, "burst": r.Burst}
	}
	vars := map[string]any{
		"agent_id":    agentID,
		"rate_limits": map[string]any{"read": rate(limits.Read), "delete": rate(limits.Delete)},
	}
	if status != "" {
		vars["status"] = status
	}
	return vars
}

func bulkServer(t *testing.T) testServer {
	limits := bulkLimits()
	return startServer(t, localserver.Options{Limits: &limits})
}

// untouched checks that the server holds the contexts exactly as they were.
func (s testServer) untouched(t *testing.T, before []localserver.ExecutionContext) {
	t.Helper()
	for _, c := range before {
		now, ok := s.Context(c.ID)
		if !ok {
			t.Errorf("context %s, out of scope, was deleted", c.ID)
		} else if !reflect.DeepEqual(now, c) {
			t.Errorf("context %s, out of scope, changed: %+v, was %+v", c.ID, now, c)
		}
	}
}

// served429 counts the requests the server refused for the rate limit.
func (s testServer) served429() int {
	n := 0
	for k, v := range s.Requests() {
		if k.Status == http.StatusTooManyRequests {
			n += v
		}
	}
	return n
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func TestAccBulkRemovalExample(t *testing.T) {
	preCheck(t)
	provider := buildProvider(t)
	// The README's loop for older CLIs, which runs on every CLI.
	t.Run("import loop", func(t *testing.T) { testBulkRemovalImportLoop(t, provider) })

	// The example itself imports with for_each.
	needsForEachImport := func(t *testing.T) {
		if !cliAtLeast(t, 1, 7) {
			t.Skip("import blocks with for_each need Terraform or OpenTofu 1.7+: skipped below 1.7")
		}
	}
	t.Run("every context of an agent", func(t *testing.T) { needsForEachImport(t); testBulkRemovalOfAnAgent(t, provider) })
	t.Run("by status", func(t *testing.T) { needsForEachImport(t); testBulkRemovalByStatus(t, provider) })
}

// 250 contexts over three agents, 120 of them (two pages) in scope.
func testBulkRemovalOfAnAgent(t *testing.T, provider string) {
	srv := bulkServer(t)
	statuses := []string{localserver.StatusIdle, localserver.StatusCompleted, localserver.StatusFailed, localserver.StatusInterrupted}
	shape := func(i int, c *localserver.ExecutionContext) { c.Status = statuses[i%len(statuses)] }
	srv.seedContexts(srv.agentID, 120, shape)
	srv.seedContexts(srv.AddAgent("billing-bot", "").ID, 70, shape)
	srv.seedContexts(srv.AddAgent("triage-bot", "").ID, 60, shape)
	mine := ofAgent(srv.agentID)
	scope := srv.wantIDs(mine)
	others := slices.DeleteFunc(srv.Contexts(), mine)
	if len(scope) != 120 || len(others) != 130 {
		t.Fatalf("seeded %d + %d contexts, want 120 + 130", len(scope), len(others))
	}
	c := newBulkCLI(t, provider, srv, bulkVariables(srv.agentID, ""))

	// The plan adopts exactly the 120 and changes nothing; so does the apply.
	imported, err := c.savedPlan().imports()
	if err != nil || !sameSet(imported, scope) {
		t.Fatalf("the plan imports %d contexts (%v), want the %d in scope", len(imported), err, len(scope))
	}
	// The imports' reads are answered by the data source's listing of the
	// agent's contexts (two pages and the final read), not by GETs.
	if lists, gets := srv.Count(http.MethodGet, listRoute, -1), srv.Count(http.MethodGet, itemRoute, -1); gets != 0 || lists > 3 {
		t.Errorf("the plan read %d pages and sent %d GETs, want the listing's 3 pages and no GET", lists, gets)
	}
	c.must("apply", "-input=false", "-no-color", "tfplan")
	writes := srv.Count(http.MethodPost, listRoute, -1) + srv.Count(http.MethodPatch, itemRoute, -1) + srv.Count(http.MethodDelete, itemRoute, -1)
	if writes != 0 {
		t.Errorf("%d create, update or delete requests during adoption, want none", writes)
	}
	st := c.state()
	if got := st.managedIDs(); !sameSet(got, scope) {
		t.Errorf("the state holds %d contexts, want the %d in scope", len(got), len(scope))
	}
	if got := fmt.Sprint(st.Values.Outputs["ids"].Value); got != fmt.Sprint(scope) {
		t.Errorf("output ids = %s,\nwant the scope oldest first: %s", got, scope)
	}
	if !c.emptyPlan() {
		t.Error("the plan after apply is not empty")
	}

	// A context in use stops only its own deletion, and stays in the state.
	inUse := scope[57]
	srv.setStatus(t, &inUse, localserver.StatusWaitingForInput)
	out, err := c.run("destroy", "-auto-approve", "-input=false", "-no-color")
	if err == nil {
		t.Fatalf("destroy succeeded with a context in use:\n%s", out)
	}
	if n := strings.Count(out, "Error: "); n != 1 || !regexp.MustCompile(`Error: Execution context in use`).MatchString(out) ||
		!strings.Contains(out, "Cannot delete execution context "+inUse+": the API answered 409") {
		t.Errorf("destroy reported %d errors, want the 409 of %s alone:\n%s", n, inUse, out)
	}
	if left := srv.wantIDs(mine); !slices.Equal(left, []string{inUse}) {
		t.Errorf("the agent has %d contexts left, want only the one in use", len(left))
	}
	if got := c.state().managedIDs(); !slices.Equal(got, []string{inUse}) {
		t.Errorf("the state holds %v, want only %s", got, inUse)
	}
	// Destroy dropped the outputs from the state, so only resources count.
	srv.setStatus(t, &inUse, localserver.StatusIdle)
	if imported, err := c.savedPlan().imports(); err != nil || len(imported) != 0 {
		t.Errorf("the plan with the context freed imports %v (%v), want no change", imported, err)
	}
	c.must("destroy", "-auto-approve", "-input=false", "-no-color")

	if left := srv.wantIDs(mine); len(left) != 0 {
		t.Errorf("%d contexts of the agent left after destroy", len(left))
	}
	srv.untouched(t, others)
	if ok, conflicts := srv.Count(http.MethodDelete, itemRoute, 200), srv.Count(http.MethodDelete, itemRoute, 409); ok != 120 || conflicts != 1 {
		t.Errorf("%d deletes and %d conflicts, want 120 and 1", ok, conflicts)
	}
	if n := srv.Count(http.MethodPatch, itemRoute, -1); n != 0 {
		t.Errorf("%d PATCH requests, want none", n)
	}
	if n := srv.served429(); n != 0 {
		t.Errorf("the server answered 429 %d times", n)
	}
}

// The status variable narrows the scope: only the completed contexts go.
func testBulkRemovalByStatus(t *testing.T, provider string) {
	srv := bulkServer(t)
	srv.seedContexts(srv.agentID, 12, func(i int, c *localserver.ExecutionContext) {
		if i%3 == 0 {
			c.Status = localserver.StatusCompleted
		}
	})
	completed := func(c localserver.ExecutionContext) bool { return c.Status == localserver.StatusCompleted }
	scope := srv.wantIDs(completed)
	kept := slices.DeleteFunc(srv.Contexts(), completed)
	c := newBulkCLI(t, provider, srv, bulkVariables(srv.agentID, localserver.StatusCompleted))
	if imported, err := c.savedPlan().imports(); err != nil || !sameSet(imported, scope) {
		t.Fatalf("the plan imports %v (%v), want the completed %v", imported, err, scope)
	}
	c.must("apply", "-input=false", "-no-color", "tfplan")
	c.must("destroy", "-auto-approve", "-input=false", "-no-color")
	if left := srv.wantIDs(completed); len(left) != 0 {
		t.Errorf("%d completed contexts left", len(left))
	}
	srv.untouched(t, kept)
}

// importBlock matches the example's import block, which CLIs before 1.7
// cannot parse; the README tells their users to delete it.
var importBlock = regexp.MustCompile(`(?ms)^import \{.*?^\}\n`)

// The README's fallback: read the ids with a refresh-only apply, adopt them
// with a loop of terraform import, then destroy.
func testBulkRemovalImportLoop(t *testing.T, provider string) {
	srv := bulkServer(t)
	srv.seedContexts(srv.agentID, 5, nil)
	srv.seedContexts(srv.AddAgent("billing-bot", "").ID, 3, nil)
	mine := ofAgent(srv.agentID)
	scope := srv.wantIDs(mine)
	others := slices.DeleteFunc(srv.Contexts(), mine)
	c := newBulkCLI(t, provider, srv, bulkVariables(srv.agentID, ""))
	main := filepath.Join(c.dir, "main.tf")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	stripped := importBlock.ReplaceAll(src, nil)
	if bytes.Equal(stripped, src) {
		t.Fatal("found no import block in the example")
	}
	writeFile(t, main, stripped)

	c.must("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
	var ids []string
	if err := json.Unmarshal([]byte(c.must("output", "-json", "ids")), &ids); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, scope) {
		t.Fatalf("output ids = %v, want %v", ids, scope)
	}
	for _, id := range ids {
		c.must("import", "-input=false", "-no-color", fmt.Sprintf("wacht_execution_context.bulk[%q]", id), id)
	}
	if !c.emptyPlan() {
		t.Error("the plan after the imports is not empty")
	}
	c.must("destroy", "-auto-approve", "-input=false", "-no-color")
	if left := srv.wantIDs(mine); len(left) != 0 {
		t.Errorf("%d contexts of the agent left", len(left))
	}
	srv.untouched(t, others)
}
