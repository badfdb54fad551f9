package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

const providerAddress = "registry.terraform.io/wacht-platform/wacht"

// cli runs the real Terraform CLI in a working directory of its own against
// the provider served in-process, for what terraform-plugin-testing cannot
// see, such as the warnings a plan prints.
type cli struct {
	t   testing.TB
	dir string
	env []string
}

func newCLI(t *testing.T, config string) *cli {
	t.Helper()
	preCheck(t)
	server, err := NewProtocol6Server("test")() // as main.go serves it
	if err != nil {
		t.Fatal(err)
	}
	entry := serveInProcess(t, providerAddress, func() tfprotov6.ProviderServer { return server })
	// OpenTofu resolves a source without a host to its own registry.
	info, err := json.Marshal(map[string]any{providerAddress: entry, "registry.opentofu.org/wacht-platform/wacht": entry})
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, dir: t.TempDir(), env: append(os.Environ(), "TF_REATTACH_PROVIDERS="+string(info), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")}
	c.write(config)
	c.must("init", "-no-color")
	return c
}

// binaryCLI is a working directory where the CLI starts the provider binary
// in providerDir (see buildProvider) as it starts an installed provider. env
// is added to the commands' environment.
func binaryCLI(t testing.TB, providerDir string, env ...string) *cli {
	t.Helper()
	return overridesCLI(t, map[string]string{"wacht-platform/wacht": providerDir}, env...)
}

// overridesCLI is a working directory where the CLI starts each provider,
// by its source address, from the directory overrides gives it: a
// dev_overrides entry points at it, so no init is needed.
func overridesCLI(t testing.TB, overrides map[string]string, env ...string) *cli {
	t.Helper()
	var entries strings.Builder
	for source, dir := range overrides {
		fmt.Fprintf(&entries, "    %q = %q\n", source, dir)
	}
	rc := filepath.Join(t.TempDir(), "cli.tfrc")
	config := "provider_installation {\n  dev_overrides {\n" + entries.String() + "  }\n  direct {}\n}\n"
	if err := os.WriteFile(rc, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"), env...)
	return &cli{t: t, dir: t.TempDir(), env: env}
}

// serveInProcess serves a provider in debug mode until the test ends and
// returns its TF_REATTACH_PROVIDERS entry.
func serveInProcess(t *testing.T, addr string, factory func() tfprotov6.ProviderServer) map[string]any {
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig)
	closed := make(chan struct{})
	opts := []tf6server.ServeOpt{tf6server.WithDebug(ctx, reattach, closed), tf6server.WithLoggingSink(t)}
	go func() {
		err := tf6server.Serve(addr, factory, opts...)
		if err != nil {
			t.Errorf("serving the provider: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-closed })
	rc := <-reattach
	return map[string]any{
		"Protocol": rc.Protocol, "ProtocolVersion": rc.ProtocolVersion, "Pid": rc.Pid, "Test": true,
		"Addr": map[string]string{"Network": rc.Addr.Network(), "String": rc.Addr.String()},
	}
}

func (c *cli) write(config string) {
	c.t.Helper()
	header := "terraform {\n  required_providers {\n    wacht = { source = \"wacht-platform/wacht\" }\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(header+config), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// run returns the command's combined output and its error.
func (c *cli) run(args ...string) (string, error) {
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("terraform %v: %v\n%s", args, err, out)
	}
	return out
}

// planWarnings runs terraform plan -json and returns the warnings' summary
// and detail, one string each: the human output folds similar warnings.
func (c *cli) planWarnings(args ...string) []string {
	c.t.Helper()
	out := c.must(append([]string{"plan", "-json"}, args...)...)
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		var msg struct {
			Type       string `json:"type"`
			Diagnostic struct {
				Severity, Summary, Detail string
			} `json:"diagnostic"`
		}
		if json.Unmarshal([]byte(line), &msg) == nil && msg.Type == "diagnostic" && msg.Diagnostic.Severity == "warning" {
			warnings = append(warnings, msg.Diagnostic.Summary+": "+msg.Diagnostic.Detail)
		}
	}
	return warnings
}

// lastLines keeps a failed command's log short.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
