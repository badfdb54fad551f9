package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// The binary turns its logs off when the Terraform that starts it will drop
// them (main.go); asked for them, Terraform must still get them all.
func TestAccBinaryLogsWhenTerraformAsks(t *testing.T) {
	preCheck(t)
	srv := startServer(t, localserver.Options{})
	bin := buildProvider(t)
	// Each way of asking names the modules whose lines the log must hold:
	// TF_LOG_PROVIDER=trace everything, TF_LOG=debug (Terraform's own and
	// the providers' logs at DEBUG) at least the provider's request lines.
	for _, tc := range []struct {
		env     string
		modules []string
	}{
		{"TF_LOG_PROVIDER=trace", []string{"sdk.proto", "sdk.framework", "wacht"}},
		{"TF_LOG=debug", []string{"wacht"}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "terraform.log")
			c := binaryCLI(t, bin, tc.env, "TF_LOG_PATH="+logFile,
				envAPIKey+"="+srv.APIKey(), envBaseURL+"="+srv.URL())
			c.write("data \"wacht_agent\" \"bot\" {\n  name = \"support-bot\"\n}\n")
			c.must("plan", "-input=false", "-no-color")

			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, module := range tc.modules {
				if !strings.Contains(string(data), "@module="+module+" ") {
					t.Errorf("the log has no line of @module=%s, with %s", module, tc.env)
				}
			}
			if !strings.Contains(string(data), "/ai/agents") {
				t.Errorf("the log has no request line of the provider's, with %s", tc.env)
			}
			if t.Failed() {
				t.Logf("log, last lines:\n%s", lastLines(string(data), 20))
			}
		})
	}
}
