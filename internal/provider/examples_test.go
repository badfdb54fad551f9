package provider

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The example configurations under examples/ are what the docs embed and
// what users copy: every one of them is applied and destroyed here, against
// the local server, so that a schema change cannot leave them broken.

// examplesDir is examples/, seen from this package's directory.
const examplesDir = "../../examples"

// skippedExamples are the example dirs, relative to examples/, with tests of
// their own: bulk-removal's (TestAccBulkRemovalExample) run it with the
// provider binary, as its README does.
var skippedExamples = []string{"bulk-removal"}

// exampleMinCLI is the CLI version, major and minor, that the example dirs
// under a key need; they skip on older ones, saying so.
var exampleMinCLI = map[string][2]int{
	"actions": {1, 14}, // action blocks
}

// exampleIDPlaceholder is the context id the docs' import examples use.
const exampleIDPlaceholder = "7210948357125083136"

var (
	variableDecl     = regexp.MustCompile(`(?m)^\s*variable\s+"([^"]+)"`)
	protectionOn     = regexp.MustCompile(`(?m)^(\s*deletion_protection\s*=\s*)true\b`)
	requiredProvider = regexp.MustCompile(`(?m)^\s*required_providers\s*\{`)
)

// providerRequirement is added to an example that, like a registry example
// of one resource, declares no provider source of its own.
const providerRequirement = `terraform {
  required_providers {
    wacht = {
      source = "wacht-platform/wacht"
    }
  }
}
`

// exampleDirs returns the dirs under examples/ that hold .tf files, relative
// to examples/, sorted.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(examplesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || strings.HasPrefix(d.Name(), ".")) && path != examplesDir {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".tf") {
			rel, err := filepath.Rel(examplesDir, filepath.Dir(path))
			if err != nil {
				return err
			}
			seen[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing examples: %v", err)
	}
	var dirs []string
	for dir := range seen {
		if !slices.ContainsFunc(skippedExamples, func(s string) bool { return dir == s || strings.HasPrefix(dir, s+"/") }) {
			dirs = append(dirs, dir)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// needsCLI skips the example dir's test when the CLI is older than the
// example needs.
func needsCLI(t *testing.T, dir string) {
	t.Helper()
	for prefix, v := range exampleMinCLI {
		if (dir == prefix || strings.HasPrefix(dir, prefix+"/")) && !cliAtLeast(t, v[0], v[1]) {
			t.Skipf("examples/%s needs Terraform %d.%d+: skipped below %d.%d", dir, v[0], v[1], v[0], v[1])
		}
	}
}

// exampleFiles reads the .tf files of one example dir that make up its
// configuration: the import examples are fragments for a configuration of
// the reader's own, tested by TestAccExamplesImport.
func exampleFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(examplesDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".tf") || strings.HasPrefix(name, "import") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(examplesDir, dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	return files
}

// writeConfig writes files into a fresh temp dir, adding the provider
// requirement when no file declares one, and returns the dir.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	declared := false
	for name, text := range files {
		declared = declared || requiredProvider.MatchString(text)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !declared {
		if err := os.WriteFile(filepath.Join(dir, "zz_provider_requirement.tf"), []byte(providerRequirement), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exampleEnv points the provider, configured from the environment as the
// examples expect, at srv, and makes terraform-plugin-testing serve it under
// the examples' source address, wacht-platform/wacht.
func exampleEnv(t *testing.T, srv testServer) {
	t.Helper()
	t.Setenv(envAPIKey, srv.APIKey())
	t.Setenv(envBaseURL, srv.URL())
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "wacht-platform")
}

// exampleFixture is what the examples' variables can be given: the server's
// agent, and contexts seeded for the examples that read one.
type exampleFixture struct {
	srv       testServer
	contextID string // an idle context of the agent
	completed int    // completed contexts of the agent
}

func newExampleFixture(t *testing.T, srv testServer) exampleFixture {
	t.Helper()
	agent := srv.agentID
	group := "support"
	idle := srv.AddContext(localserver.ExecutionContext{Title: "Seeded for the examples", ContextGroup: &group, AgentID: &agent})
	f := exampleFixture{srv: srv, contextID: idle.ID}
	for i := range 3 {
		c := srv.AddContext(localserver.ExecutionContext{Title: fmt.Sprintf("Finished %d", i), AgentID: &agent})
		if err := srv.SetStatus(c.ID, "completed"); err != nil {
			t.Fatal(err)
		}
		f.completed++
	}
	return f
}

// variables returns a value for each variable the files declare, failing
// the test for one it cannot give and that has no default.
func (f exampleFixture) variables(t *testing.T, files map[string]string) config.Variables {
	t.Helper()
	known := map[string]config.Variable{
		"agent_id":               config.StringVariable(f.srv.agentID),
		"agent_name":             config.StringVariable("support-bot"),
		"context_id":             config.StringVariable(f.contextID),
		"execution_context_id":   config.StringVariable(f.contextID),
		"max_completed_contexts": config.IntegerVariable(f.completed - 1), // so that the check block warns
	}
	vars := config.Variables{}
	for _, text := range files {
		for _, m := range variableDecl.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if v, ok := known[name]; ok {
				vars[name] = v
			} else if !declaresDefault(text, name) {
				t.Fatalf("the example declares variable %q, which has no default and which this test cannot give a value", name)
			}
		}
	}
	return vars
}

// declaresDefault reports whether variable name's block sets a default.
func declaresDefault(text, name string) bool {
	start := strings.Index(text, fmt.Sprintf("variable %q", name))
	if start < 0 {
		return false
	}
	block := text[start:]
	if end := strings.Index(block, "\n}"); end >= 0 {
		block = block[:end]
	}
	return regexp.MustCompile(`(?m)^\s*default\s*=`).MatchString(block)
}

// contextIDs returns the ids of the server's contexts, sorted.
func contextIDs(srv testServer) []string {
	var ids []string
	for _, c := range srv.Contexts() {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

func TestAccExamples(t *testing.T) {
	dirs := exampleDirs(t)
	for _, want := range []string{"ci", "provider", "quickstart", "resources/wacht_execution_context"} {
		if !slices.Contains(dirs, want) {
			t.Errorf("example dir examples/%s is missing", want)
		}
	}
	preCheck(t)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			needsCLI(t, dir)
			srv := startServer(t, localserver.Options{})
			exampleEnv(t, srv)
			fixture := newExampleFixture(t, srv)
			before := contextIDs(srv)

			files := exampleFiles(t, dir)
			vars := fixture.variables(t, files)
			// The provider factories go in each step, not in the test case:
			// terraform-plugin-testing refuses them at the test case level
			// for a configuration with a provider block.
			steps := []resource.TestStep{{
				ProtoV6ProviderFactories: protoV6,
				ConfigDirectory:          config.StaticDirectory(writeConfig(t, files)),
				ConfigVariables:          vars,
			}}
			// A protected context cannot be destroyed: lift the protection
			// first, as the docs say to, with an apply that changes nothing
			// on the server.
			unprotected := map[string]string{}
			for name, text := range files {
				unprotected[name] = protectionOn.ReplaceAllString(text, "${1}false")
			}
			if !maps.Equal(files, unprotected) {
				steps = append(steps, resource.TestStep{
					ProtoV6ProviderFactories: protoV6,
					ConfigDirectory:          config.StaticDirectory(writeConfig(t, unprotected)),
					ConfigVariables:          vars,
				})
			}
			resource.Test(t, resource.TestCase{
				PreCheck: func() { preCheck(t) },
				Steps:    steps,
				CheckDestroy: func(*terraform.State) error {
					if after := contextIDs(srv); !slices.Equal(after, before) {
						return fmt.Errorf("after destroy the server holds contexts %v, want the seeded %v", after, before)
					}
					return nil
				},
			})
		})
	}
}

// TestAccExamplesImport imports a context with the resource's import block
// example into a bare resource block, as the docs show: the plan after the
// import is empty, and the context keeps its values.
func TestAccExamplesImport(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	exampleEnv(t, srv)
	agent, group, instructions := srv.agentID, "support", "Answer politely."
	ec := srv.AddContext(localserver.ExecutionContext{
		Title: "Made outside Terraform", ContextGroup: &group, SystemInstructions: &instructions, AgentID: &agent,
	})
	block, err := os.ReadFile(filepath.Join(examplesDir, "resources/wacht_execution_context/import-by-string-id.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(block), exampleIDPlaceholder) {
		t.Fatalf("import-by-string-id.tf does not import %s:\n%s", exampleIDPlaceholder, block)
	}
	to := regexp.MustCompile(`to\s*=\s*wacht_execution_context\.(\w+)`).FindStringSubmatch(string(block))
	if to == nil {
		t.Fatalf("import-by-string-id.tf has no `to = wacht_execution_context.NAME`:\n%s", block)
	}
	files := map[string]string{
		"import.tf": strings.ReplaceAll(string(block), exampleIDPlaceholder, ec.ID),
		"main.tf":   fmt.Sprintf("resource \"wacht_execution_context\" %q {}\n", to[1]),
	}
	address := "wacht_execution_context." + to[1]
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			ConfigDirectory: config.StaticDirectory(writeConfig(t, files)),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(address, "id", ec.ID),
				resource.TestCheckResourceAttr(address, "title", "Made outside Terraform"),
				resource.TestCheckResourceAttr(address, "context_group", group),
				resource.TestCheckResourceAttr(address, "system_instructions", instructions),
				resource.TestCheckResourceAttr(address, "agent_id", agent),
				resource.TestCheckResourceAttr(address, "deletion_protection", "false"),
				resource.TestCheckResourceAttr(address, "cancel_on_destroy", "false"),
			),
		}},
		CheckDestroy: func(*terraform.State) error {
			if _, ok := srv.Context(ec.ID); ok {
				return fmt.Errorf("context %s still exists after destroy", ec.ID)
			}
			return nil
		},
	})

	// The import command line of import.sh names the same address.
	script, err := os.ReadFile(filepath.Join(examplesDir, "resources/wacht_execution_context/import.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "terraform import " + address + " " + exampleIDPlaceholder; !strings.Contains(string(script), want) {
		t.Errorf("import.sh does not run %q:\n%s", want, script)
	}
}

// TestAccExamplesCIPlan runs the commands examples/ci/README.md lists, as a
// CI job would: validate without an API key, then, once the contexts exist,
// plan -detailed-exitcode with a read-only key, which finds no changes and
// warns through the check block; a destroy plan fails on the protected
// context.
func TestAccExamplesCIPlan(t *testing.T) {
	const readOnlyKey = "sk_test_read_only_for_plans"
	srv := startServer(t, localserver.Options{ReadOnlyAPIKey: readOnlyKey})
	t.Setenv(envAPIKey, srv.APIKey())
	t.Setenv(envBaseURL, srv.URL())
	fixture := newExampleFixture(t, srv)

	main, err := os.ReadFile(filepath.Join(examplesDir, "ci/main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, "")
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), main, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := []string{"-var", "agent_id=" + srv.agentID, "-var", fmt.Sprintf("max_completed_contexts=%d", fixture.completed-1)}
	// The provider runs inside this test process (the CLI reattaches to it),
	// so it reads WACHT_API_KEY from this process's environment.
	useKey := func(key string) { t.Setenv(envAPIKey, key) }

	c.must("fmt", "-check", "-diff")
	useKey("")
	c.must("validate", "-no-color")

	// An apply with the read-only key is refused at the first write.
	useKey(readOnlyKey)
	if out, err := c.run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...); err == nil {
		t.Fatalf("apply with the read-only key succeeded:\n%s", out)
	} else if !strings.Contains(out, "403") {
		t.Errorf("apply with the read-only key failed without a 403:\n%s", out)
	}

	useKey(srv.APIKey())
	c.must(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...)

	useKey(readOnlyKey)
	out, err := c.run(append([]string{"plan", "-input=false", "-lock=false", "-detailed-exitcode", "-parallelism=10", "-no-color"}, vars...)...)
	if code := exitCode(err); code != 0 {
		t.Fatalf("plan -detailed-exitcode with the read-only key: exit code %d, want 0 (no changes):\n%s", code, out)
	}
	warnings := c.planWarnings(append([]string{"-input=false", "-lock=false", "-parallelism=10"}, vars...)...)
	want := fmt.Sprintf("holds %d completed execution contexts, more than %d", fixture.completed, fixture.completed-1)
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, want) }) {
		t.Errorf("the plan's warnings do not include the check block's %q: %q", want, warnings)
	}

	// Destroying the protected context fails the plan: exit code 1.
	out, err = c.run(append([]string{"plan", "-destroy", "-input=false", "-lock=false", "-detailed-exitcode", "-no-color"}, vars...)...)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "deletion_protection") {
		t.Errorf("plan -destroy: exit code %d, want 1 with a deletion_protection error:\n%s", code, out)
	}
}

// exitCode is the exit code of a finished command, 0 for a nil error.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		return -1
	}
}
