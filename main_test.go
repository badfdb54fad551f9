package main

import (
	"math"
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
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	for _, tc := range []struct {
		name             string
		gogc, gomemlimit string
		wantPercent      int
		wantLimit        int64
	}{
		{"GOGC and GOMEMLIMIT unset", "", "", gcPercent, memoryLimit},
		{"GOMEMLIMIT set", "", "1GiB", gcPercent, math.MaxInt64},
		// The runtime read them at start; the settings must stay the user's.
		{"GOGC set", "50", "", 100, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			for k, v := range map[string]string{"GOGC": tc.gogc, "GOMEMLIMIT": tc.gomemlimit} {
				t.Setenv(k, v) // restored after the test
				if v == "" {
					_ = os.Unsetenv(k)
				}
			}
			collectLessOften()
			if got := debug.SetGCPercent(100); got != tc.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tc.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}
