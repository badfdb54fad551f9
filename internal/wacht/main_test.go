package wacht

import (
	"os"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/testcache"
)

// TestMain keeps the rate budgets of the tests' clients out of the user's
// cache.
func TestMain(m *testing.M) {
	if os.Getenv(raceChildEnv) != "" {
		os.Exit(m.Run()) // a child of TestBudgetFileSharedByRacingProcesses, in its parent's cache dir
	}
	os.Exit(testcache.Run(m))
}
