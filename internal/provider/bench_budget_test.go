//go:build linux

package provider

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// BenchmarkSharedBudget runs Terraform processes that share one API key, at
// once and back to back, against the local server at the documented limits,
// the real CLI starting the provider binary. Run it alone with
//
//	make bench TESTARGS='-bench SharedBudget'
//
// (it takes about fifteen minutes: it runs at the documented limits).
//
// concurrent-3x40 runs three `terraform destroy` at once, in three working
// directories of 40 contexts each (made by untimed applies), as Terragrunt
// run-all or parallel CI jobs do, in four variants side by side:
//   - shared-cache: the three share a cache dir, as on one machine;
//   - cache-each: each has its own, as on three machines: only the server's
//     429s tell them of each other;
//   - per-process: WACHT_RATE_BUDGET=process, each pacing itself at the
//     documented limits and not adapting, the limiter before budgets were
//     shared;
//   - retry-only: no client-side limit on deletes, 429s retried.
//
// Metrics: wall/bound, the time until the last destroy ends over the
// rate-limit bound of all 120 deletes, (120 - 5) / 50 a minute = 138 s
// (targets: shared-cache ≤ 1.15, cache-each ≤ 1.3); 429/request, the 429s
// served over all requests served during the destroys (targets ≤ 0.05 and
// ≤ 0.15); failed-runs, destroys that failed, and left, contexts left on the
// server (targets 0).
//
// back-to-back runs, one after another, apply, apply, plan, plan, destroy,
// destroy in two working directories of 20 contexts each, so that each
// command starts where the one before drained the server's bucket, with a
// shared cache dir and per process: 429s (target 0 for shared-cache).
//
// limits-4x destroys 40 contexts with rate_limits at 4 times the server's
// (delete 200 a minute, burst 20, as the bulk-removal guide once suggested):
// failed-runs (target 0), left, 429/request and wall/bound against the
// bound of 40 deletes at the server's rate.
func BenchmarkSharedBudget(b *testing.B) {
	requireTerraform(b)
	documented := localserver.DocumentedLimits()
	fast := scaleLimits(documented, 60) // for the untimed applies
	bin := buildProviders(b)
	// The applies create at the fast rate; everything else keeps to the
	// documented limits, the provider's defaults.
	fastCreates := fmt.Sprintf("  rate_limits = {\n    create = { per_minute = %g, burst = %d }\n  }\n", fast.Create.PerMinute, fast.Create.Burst)
	noDeleteLimit := fmt.Sprintf("  rate_limits = {\n    create = { per_minute = %g, burst = %d }\n    delete = { per_minute = 0, burst = 1 }\n  }\n",
		fast.Create.PerMinute, fast.Create.Burst)

	b.Run("concurrent-3x40", func(b *testing.B) {
		const runs, n = 3, 40
		bound := rateBound(runs*n, documented.Delete)
		shared := b.TempDir()
		for _, tc := range []struct {
			name     string
			settings string
			env      func(i int, dir string) []string
		}{
			{"shared-cache", fastCreates, func(int, string) []string { return []string{"XDG_CACHE_HOME=" + shared} }},
			{"cache-each", fastCreates, func(_ int, dir string) []string { return []string{"XDG_CACHE_HOME=" + dir} }},
			{"per-process", fastCreates, func(_ int, dir string) []string {
				return []string{"XDG_CACHE_HOME=" + dir, envRateBudget + "=process"}
			}},
			{"retry-only", noDeleteLimit, func(_ int, dir string) []string { return []string{"XDG_CACHE_HOME=" + dir} }},
		} {
			b.Run(tc.name, func(b *testing.B) {
				srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &fast})}
				dirs := make([]*cli, runs)
				for i := range dirs {
					dirs[i] = binaryCLI(b, bin, tc.env(i, filepath.Join(b.TempDir(), "cache"))...)
					dirs[i].write(srv.providerWith(tc.settings) + counted("wacht_execution_context", n, `title = "bench-${count.index}"`))
				}
				var m budgetRun
				for b.Loop() {
					b.StopTimer()
					for _, c := range dirs {
						c.must("apply", "-auto-approve", "-input=false", "-no-color")
					}
					srv.SetLimits(documented, true)
					srv.ResetRequests()
					b.StartTimer()
					m.concurrently(b, dirs, "destroy", "-auto-approve", "-input=false", "-no-color")
					b.StopTimer()
					m.count(srv)
					srv.SetLimits(fast, true)
					b.StartTimer()
				}
				m.report(b, bound)
			})
		}
	})

	b.Run("back-to-back", func(b *testing.B) {
		const n = 20
		for _, tc := range []struct {
			name string
			env  []string
		}{
			{"shared-cache", nil},
			{"per-process", []string{envRateBudget + "=process"}},
		} {
			b.Run(tc.name, func(b *testing.B) {
				srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &documented})}
				cache := "XDG_CACHE_HOME=" + filepath.Join(b.TempDir(), "cache")
				a := binaryCLI(b, bin, append(tc.env, cache)...)
				c := binaryCLI(b, bin, append(tc.env, cache)...)
				for _, d := range []*cli{a, c} {
					d.write(srv.providerBlock() + counted("wacht_execution_context", n, `title = "bench-${count.index}"`))
				}
				var m budgetRun
				for b.Loop() {
					srv.ResetRequests()
					for _, args := range [][]string{{"apply", "-auto-approve"}, {"plan"}, {"destroy", "-auto-approve"}} {
						for _, d := range []*cli{a, c} {
							m.concurrently(b, []*cli{d}, append(args, "-input=false", "-no-color")...)
						}
					}
					m.count(srv)
				}
				m.report(b, 0)
			})
		}
	})

	b.Run("limits-4x", func(b *testing.B) {
		const n = 40
		srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &fast})}
		four := fmt.Sprintf("  rate_limits = {\n    create = { per_minute = %g, burst = %d }\n    delete = { per_minute = %g, burst = %d }\n  }\n",
			fast.Create.PerMinute, fast.Create.Burst, 4*documented.Delete.PerMinute, 4*documented.Delete.Burst)
		c := binaryCLI(b, bin, "XDG_CACHE_HOME="+filepath.Join(b.TempDir(), "cache"))
		c.write(srv.providerWith(four) + counted("wacht_execution_context", n, `title = "bench-${count.index}"`))
		var m budgetRun
		for b.Loop() {
			b.StopTimer()
			c.must("apply", "-auto-approve", "-input=false", "-no-color")
			srv.SetLimits(documented, true)
			srv.ResetRequests()
			b.StartTimer()
			m.concurrently(b, []*cli{c}, "destroy", "-auto-approve", "-input=false", "-no-color")
			b.StopTimer()
			m.count(srv)
			srv.SetLimits(fast, true)
			b.StartTimer()
		}
		m.report(b, rateBound(n, documented.Delete))
	})
}

// budgetRun adds up the figures of BenchmarkSharedBudget's rounds.
type budgetRun struct {
	rounds                           int
	wall                             time.Duration
	failed, left, requests, refusals int
}

// concurrently runs one command in each working directory at once and adds
// the time until the last ends, and the runs that failed.
func (m *budgetRun) concurrently(b *testing.B, dirs []*cli, args ...string) {
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range dirs {
		wg.Go(func() {
			out, err := c.run(args...)
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				// A run that gives up is a result, counted in failed-runs.
				m.failed++
				b.Logf("terraform %v: %v\n%s", args, err, lastLines(out, 20))
			}
		})
	}
	wg.Wait()
	m.wall += time.Since(start)
}

// count adds what the server saw in a round: its requests, the 429s among
// them, and the contexts left on it.
func (m *budgetRun) count(srv testServer) {
	m.rounds++
	for k, v := range srv.Requests() {
		m.requests += v
		if k.Status == http.StatusTooManyRequests {
			m.refusals += v
		}
	}
	m.left += len(srv.Contexts())
}

// report reports the means per round, and wall/bound when bound is not 0.
func (m *budgetRun) report(b *testing.B, bound time.Duration) {
	per := func(v float64) float64 { return v / float64(max(m.rounds, 1)) }
	wall := per(m.wall.Seconds())
	b.ReportMetric(wall, "s")
	if bound > 0 {
		b.ReportMetric(wall/bound.Seconds(), "wall/bound")
	}
	b.ReportMetric(per(float64(m.requests)), "requests")
	b.ReportMetric(per(float64(m.refusals)), "429s")
	b.ReportMetric(float64(m.refusals)/float64(max(m.requests, 1)), "429/request")
	b.ReportMetric(per(float64(m.failed)), "failed-runs")
	b.ReportMetric(per(float64(m.left)), "left")
}
