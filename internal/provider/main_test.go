package provider

import (
	"os"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/testcache"
)

// TestMain keeps the rate budgets of the providers the tests and benchmarks
// run, in-process or started by the CLI, out of the user's cache.
func TestMain(m *testing.M) { os.Exit(testcache.Run(m)) }
