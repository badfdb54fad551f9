//go:build linux

package provider

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// longBenchEnv set to 1 adds 10,000 contexts to BenchmarkScale, as
// `make bench-long` does.
const longBenchEnv = "WACHT_BENCH_LONG"

// BenchmarkScale applies and then plans N contexts of no agent under one
// counted block, for N = 500, 2,000 and 5,000 (and 10,000 with
// WACHT_BENCH_LONG=1), each beside the same N of the no-op provider
// (testdata/noop-provider, the floor of any framework provider) and of
// terraform_data (Terraform's own floor), all in one run:
//   - apply: creates, the server's and the provider's limits off, so that
//     what is timed is the CLI's and the provider's work per create;
//     apply-vs-noop is the apply's time over the no-op provider's (target
//     ≤ 1.3);
//   - plan: a refresh finding nothing to change, against the server at the
//     documented limits (read 100 a minute, burst 20) taking 20 ms over each
//     request, the provider configured by default. bound-s is the read
//     limit's bound on the walk of N, (⌈N/100⌉ + 1 − 20) × 0.6 s;
//     plan-vs-target the plan's time over 1.3 × the no-op plan + 1.1 ×
//     bound-s (target ≤ 1); reads the requests served (target ≤ ⌈N/100⌉ + 3)
//     and 429s the refusals (target 0); peak-MiB the provider's peak
//     memory, and KiB/context its growth per context over the 500 row.
//
// Every command runs once: a plan of 5,000 is a minute of a shared machine.
func BenchmarkScale(b *testing.B) {
	requireTerraform(b)
	sizes := []int{500, 2000, 5000}
	if os.Getenv(longBenchEnv) == "1" {
		sizes = append(sizes, 10000)
	}
	bin := buildProviders(b)
	documented := localserver.DocumentedLimits()
	unlimited := localserver.Rate{PerMinute: 0, Burst: 1} // a limiter off
	off := localserver.Limits{Read: unlimited, Create: unlimited, Update: unlimited, Delete: unlimited}
	basePeakKiB, baseN := 0, 0
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			srv := testServer{Server: localserver.StartTest(b, localserver.Options{DisableLimits: true})}
			contexts := counted("wacht_execution_context", n, `title = "bench-${count.index}"`)
			wacht := binaryCLI(b, bin)
			data := noopCLI(b, bin)
			data.write(counted("terraform_data", n, "input = count.index"))
			noop := noopCLI(b, bin)
			noop.write(counted(noopThing, n, ""))
			for b.Loop() {
				var dataApply, noopApply, wachtApply runs
				dataApply.time(func() { data.must("apply", "-auto-approve", "-input=false", "-no-color") })
				noopApply.time(func() { noop.must("apply", "-auto-approve", "-input=false", "-no-color") })
				wacht.write(srv.providerWith(rateLimitsHCL(off)) + contexts)
				wachtApply.time(func() { wacht.must("apply", "-auto-approve", "-input=false", "-no-color") })
				if got := len(srv.Contexts()); got != n {
					b.Fatalf("%d contexts after the apply, want %d", got, n)
				}

				wacht.write(srv.providerBlock() + contexts)
				srv.SetLimits(documented, true)
				srv.SetLatency(planLatency)
				srv.ResetRequests()
				dataPlan := &planTimes{c: data}
				noopPlan := &planTimes{c: noop}
				wachtPlan := &planTimes{c: wacht}
				for _, p := range []*planTimes{dataPlan, noopPlan, wachtPlan} {
					p.plan(b)
				}

				b.ReportMetric(dataApply.mean().Seconds(), "data-apply-s")
				b.ReportMetric(noopApply.mean().Seconds(), "noop-apply-s")
				b.ReportMetric(wachtApply.mean().Seconds(), "apply-s")
				b.ReportMetric(wachtApply.mean().Seconds()/noopApply.mean().Seconds(), "apply-vs-noop")
				b.ReportMetric(wachtApply.plugins.Seconds(), "apply-plugin-cpu-s")
				b.ReportMetric(wachtApply.terraform.Seconds(), "apply-terraform-cpu-s")
				b.ReportMetric(noopApply.terraform.Seconds(), "noop-apply-terraform-cpu-s")
				b.ReportMetric(noopApply.plugins.Seconds(), "noop-apply-plugin-cpu-s")
				b.ReportMetric(wachtApply.self.Seconds(), "apply-server-cpu-s")

				bound := walkBound(n, documented.Read)
				b.ReportMetric(dataPlan.mean().Seconds(), "data-plan-s")
				b.ReportMetric(noopPlan.mean().Seconds(), "noop-plan-s")
				b.ReportMetric(wachtPlan.mean().Seconds(), "plan-s")
				b.ReportMetric(bound.Seconds(), "bound-s")
				b.ReportMetric(wachtPlan.mean().Seconds()/(1.3*noopPlan.mean().Seconds()+1.1*bound.Seconds()), "plan-vs-target")
				b.ReportMetric(wachtPlan.plugins.Seconds(), "plan-plugin-cpu-s")
				b.ReportMetric(wachtPlan.terraform.Seconds(), "plan-terraform-cpu-s")
				b.ReportMetric(noopPlan.terraform.Seconds(), "noop-plan-terraform-cpu-s")
				b.ReportMetric(float64(wachtPlan.peakKiB)/1024, "peak-MiB")
				if baseN == 0 {
					basePeakKiB, baseN = wachtPlan.peakKiB, n
				} else {
					b.ReportMetric(float64(wachtPlan.peakKiB-basePeakKiB)/float64(n-baseN), "KiB/context")
				}
				reportReads(b, &srv, 1)
				b.ReportMetric(float64(srv.Count(http.MethodGet, localserver.ContextRoute, -1)), "gets")
			}
		})
	}
}

// walkBound is the least time a walk of n contexts takes through the read
// limit r: ⌈n/100⌉ pages and a final read, the burst at once, the rest at
// the sustained rate.
func walkBound(n int, r localserver.Rate) time.Duration {
	requests := int(math.Ceil(float64(n)/100)) + 1
	return time.Duration(max(requests-r.Burst, 0)) * time.Duration(float64(time.Minute)/r.PerMinute)
}
