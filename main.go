package main

import (
	"flag"
	"log"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/wacht-platform/terraform-provider-wacht/internal/provider"
)

// Run "go generate" to format example Terraform files and generate the docs
// for the registry and the website. terraform fmt is skipped where no
// terraform binary is on PATH.
//go:generate sh -c "command -v terraform >/dev/null && terraform fmt -recursive ./examples/ || true"
//go:generate go tool tfplugindocs generate --provider-name wacht

// version is set at build time by goreleaser (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debugMode bool
	flag.BoolVar(&debugMode, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	quietWhenTerraformDropsLogs()
	collectLessOften()

	// tf6server.Serve as providerserver.Serve calls it, but with the server
	// that releases the framework's per-request contexts (see
	// provider.NewProtocol6Server).
	server, err := provider.NewProtocol6Server(version)()
	if err != nil {
		log.Fatal(err.Error())
	}
	var opts []tf6server.ServeOpt
	if debugMode {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err = tf6server.Serve("registry.terraform.io/wacht-platform/wacht", func() tfprotov6.ProviderServer { return server }, opts...)
	if err != nil {
		log.Fatal(err.Error())
	}
}

// pluginCookie is set by Terraform and OpenTofu on every provider they start.
const pluginCookie = "TF_PLUGIN_MAGIC_COOKIE"

// providerLogLevels are the variables terraform-plugin-go and the framework
// read their log levels from; unset, they log at TRACE.
var providerLogLevels = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_WACHT"}

// quietWhenTerraformDropsLogs turns the provider's logs off when the
// Terraform that started it will drop them. Terraform and OpenTofu show a
// provider's log lines only when TF_LOG or TF_LOG_PROVIDER names a level, and
// pass their environment to the provider; left alone, the provider formats
// every TRACE line as JSON onto stderr all the same, for Terraform to parse
// and drop: turning that off saves a quarter to a third of the wall time of
// a plan of 500 contexts (quiet-logs-saves of BenchmarkPlanRefresh500: 0.25,
// 0.28 and 0.35 in three runs). Run by hand or with -debug, the provider
// keeps its logs for whoever reads them. Panics still reach Terraform, which
// reports them as a crash.
func quietWhenTerraformDropsLogs() {
	if os.Getenv(pluginCookie) == "" {
		return
	}
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER"} {
		if level := os.Getenv(v); level != "" && !strings.EqualFold(level, "off") {
			return
		}
	}
	for _, v := range providerLogLevels {
		_ = os.Setenv(v, "off") // fails only on a malformed name
	}
}

// gcPercent is how far the heap may grow past the live heap before a
// collection. Terraform runs a provider for one command, and the framework
// allocates much per resource and keeps little: in BenchmarkPlanRefresh500
// (side-by-side), a plan of 500 contexts took 2.12 s against 2.36 s for the
// same binary at Go's default, GOGC=100 (gc-percent-saves 0.10; 0.23 and,
// before memoryLimit, 0.10 and 0.19 in other runs), peaking at 51 MiB
// against 31.
const gcPercent = 400

// memoryLimit keeps gcPercent from letting a big plan grow to five times its
// live heap: near it, the runtime collects as often as it must to stay under
// it, as at any gcPercent (it is a soft limit: it never fails an
// allocation). A plan of 500 contexts, some 35 MiB by the runtime's count,
// stays under it; in BenchmarkScale, a plan of 5,000 peaked at 54 MiB of
// resident memory, 1.5 KiB per context over the 500 row (62 MiB and 4.7 KiB
// with a limit of 48 MiB).
const memoryLimit = 40 << 20

// collectLessOften sets gcPercent and memoryLimit, unless GOGC asks for
// collection of its own; GOMEMLIMIT stands in for memoryLimit.
func collectLessOften() {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercent)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
