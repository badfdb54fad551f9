package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestQuietWhenTerraformDropsLogs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		quiet bool
	}{
		{"started by Terraform, no log level", map[string]string{pluginCookie: "x"}, true},
		{"started by Terraform, TF_LOG=off", map[string]string{pluginCookie: "x", "TF_LOG": "OFF"}, true},
		{"started by Terraform, TF_LOG set", map[string]string{pluginCookie: "x", "TF_LOG": "trace"}, false},
		{"started by Terraform, TF_LOG_PROVIDER set", map[string]string{pluginCookie: "x", "TF_LOG_PROVIDER": "debug"}, false},
		{"run by hand or with -debug", map[string]string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range append([]string{pluginCookie, "TF_LOG", "TF_LOG_PROVIDER"}, providerLogLevels...) {
				t.Setenv(v, tc.env[v]) // restored after the test
				_ = os.Unsetenv(v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			quietWhenTerraformDropsLogs()
			for _, v := range providerLogLevels {
				level, set := os.LookupEnv(v)
				if tc.quiet && level != "off" {
					t.Errorf("%s = %q, want off", v, level)
				}
				if !tc.quiet && set {
					t.Errorf("%s = %q, want it left unset", v, level)
				}
			}
		})
	}
}

func TestCollectLessOften(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "")
	_ = os.Unsetenv("GOGC")
	collectLessOften()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("with GOGC unset, the GC percent is %d, want %d", got, gcPercent)
	}

	t.Setenv("GOGC", "50") // the runtime read it at start; the setting must stay the user's
	collectLessOften()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the GC percent changed to %d", got)
	}
}
