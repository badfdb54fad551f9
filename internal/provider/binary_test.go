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
	logFile := filepath.Join(t.TempDir(), "terraform.log")
	c := binaryCLI(t, buildProvider(t), "TF_LOG_PROVIDER=trace", "TF_LOG_PATH="+logFile,
		envAPIKey+"="+srv.APIKey(), envBaseURL+"="+srv.URL())
	c.write("data \"wacht_agent\" \"bot\" {\n  name = \"support-bot\"\n}\n")
	c.must("plan", "-input=false", "-no-color")

	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, module := range []string{"sdk.proto", "sdk.framework", "wacht"} {
		if !strings.Contains(string(data), "@module="+module+" ") {
			t.Errorf("the log has no line of @module=%s, with TF_LOG_PROVIDER=trace", module)
		}
	}
	if t.Failed() {
		t.Logf("log, last lines:\n%s", lastLines(string(data), 20))
	}
}
