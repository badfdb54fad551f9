//go:build linux

package provider

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// Benchmarks of whole Terraform runs: the CLI at TF_ACC_TERRAFORM_PATH starts
// the provider binary, as it starts an installed provider, against the local
// server on loopback.
// Each measures its variants side by side in one run and reports ratios, as
// metrics only: timings on a shared machine are never asserted. They read
// /proc and getrusage, hence Linux only.
//
// Run them with:
//
//	go test ./internal/provider -run '^$' -bench 'BulkDestroy|PlanRefresh' -benchtime 1x

// BenchmarkBulkDestroy destroys 300 contexts (made by an untimed apply) with
// `terraform destroy`, the server's delete limit at 600 a minute, burst 5,
// its other limits 60 times the documented ones so the setup is quick:
//   - limiter: the provider's delete limit set to the server's;
//   - retry-only: the provider's delete limiter off, 429 answers retried
//     (max_retries = 50);
//   - floor: 300 resources of a no-op framework provider (testdata/noop-provider)
//     whose deletes wait on the same token bucket and do nothing else: the
//     least time Terraform takes over such a destroy, whatever the provider.
//
// Each provider is a binary that Terraform starts as it starts an installed
// provider. N is 300 so that Terraform's fixed cost of a command
// (about a second) does not pass for pacing; its cost per resource (its
// refresh and plan before the first delete) does not shrink with N. Metrics:
//   - wall/bound: the destroy's wall time over the rate-limit bound
//     (N - burst) / rate = 29.5 s (target ≤ 1.05); vs-floor: over the floor's;
//   - est-documented-wall/bound: what wall/bound comes to at the documented
//     delete limit (50 a minute, burst 5, a bound of 354 s), Terraform's
//     time over the bound staying what it is here;
//   - span/bound: the time from the first DELETE to the last success over the
//     bound, the provider's pacing alone; before-first-s and after-last-s:
//     the destroy's time before and after that span (Terraform's start,
//     refresh and plan; its end);
//   - left: contexts still on the server afterwards, failed deletes (target
//     0); 429s and 429/delete: the refusals served on DELETE, in all and per
//     context (target ≤ 0.01);
//   - where the CPU went, and the provider's peak memory (see runs).
func BenchmarkBulkDestroy(b *testing.B) {
	requireTerraform(b)
	const n = 300
	deleteLimit := localserver.Rate{PerMinute: 600, Burst: 5}
	limits := scaleLimits(localserver.DocumentedLimits(), 60)
	limits.Delete = deleteLimit
	retryOnly := limits
	retryOnly.Delete = localserver.Rate{PerMinute: 0, Burst: 1}
	bound := rateBound(n, deleteLimit)
	documentedBound := rateBound(n, localserver.DocumentedLimits().Delete)
	bin := buildProviders(b)

	var floor time.Duration
	b.Run("floor", func(b *testing.B) {
		c := noopCLI(b, bin, fmt.Sprintf("NOOP_DELETES=%g/%d", deleteLimit.PerMinute, deleteLimit.Burst))
		c.write(counted(noopThing, n, ""))
		var destroys runs
		for b.Loop() {
			b.StopTimer()
			c.must("apply", "-auto-approve", "-input=false", "-no-color")
			b.StartTimer()
			destroys.time(func() { c.must("destroy", "-auto-approve", "-input=false", "-no-color") })
		}
		floor = destroys.mean()
		destroys.report(b)
		b.ReportMetric(floor.Seconds()/bound.Seconds(), "wall/bound")
	})
	for _, tc := range []struct {
		name     string
		settings string
	}{
		{"limiter", rateLimitsHCL(limits)},
		{"retry-only", rateLimitsHCL(retryOnly) + "  max_retries = 50\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &limits})}
			c := binaryCLI(b, bin)
			c.write(srv.providerWith(tc.settings) + counted("wacht_execution_context", n, `title = "bench-${count.index}"`))
			var destroys runs
			var span, before, after time.Duration
			var left, refused int
			for b.Loop() {
				b.StopTimer()
				c.must("apply", "-auto-approve", "-input=false", "-no-color")
				srv.ResetRequests()
				b.StartTimer()

				deletes := watchDeletes(srv, n)
				var out string
				var err error
				start := time.Now()
				destroys.time(func() { out, err = c.run("destroy", "-auto-approve", "-input=false", "-no-color") })
				end := time.Now()
				if first, last := deletes(); !first.IsZero() && !last.IsZero() {
					before, span, after = before+first.Sub(start), span+last.Sub(first), after+end.Sub(last)
				}

				b.StopTimer()
				if err != nil {
					// A destroy that gives up is a result, counted in left.
					b.Logf("terraform destroy: %v\n%s", err, lastLines(out, 20))
				}
				left += len(srv.Contexts())
				refused += srv.Count(http.MethodDelete, localserver.ContextRoute, http.StatusTooManyRequests)
				b.StartTimer()
			}
			per := func(v float64) float64 { return v / float64(b.N) }
			wall := destroys.mean()
			destroys.report(b)
			b.ReportMetric(wall.Seconds()/bound.Seconds(), "wall/bound")
			b.ReportMetric((wall-bound+documentedBound).Seconds()/documentedBound.Seconds(), "est-documented-wall/bound")
			if floor > 0 {
				b.ReportMetric(wall.Seconds()/floor.Seconds(), "vs-floor")
			}
			b.ReportMetric(per(span.Seconds())/bound.Seconds(), "span/bound")
			b.ReportMetric(per(before.Seconds()), "before-first-s")
			b.ReportMetric(per(after.Seconds()), "after-last-s")
			b.ReportMetric(per(float64(left)), "left")
			b.ReportMetric(per(float64(refused)), "429s")
			b.ReportMetric(per(float64(refused))/n, "429/delete")
		})
	}
}

// watchDeletes polls the server's counters while a destroy runs. The
// function it returns stops it and gives the times of the first DELETE served
// and of the n-th success, zero for one that never came.
func watchDeletes(srv testServer, n int) func() (first, last time.Time) {
	stop, done := make(chan struct{}), make(chan struct{})
	var first, last time.Time
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if first.IsZero() && srv.Count(http.MethodDelete, localserver.ContextRoute, -1) > 0 {
				first = time.Now()
			}
			if srv.Count(http.MethodDelete, localserver.ContextRoute, http.StatusOK) >= n {
				last = time.Now()
				return
			}
		}
	}()
	return func() (time.Time, time.Time) {
		close(stop)
		<-done
		return first, last
	}
}

// planLatency is the server's delay on every request in the timed plans.
const planLatency = 20 * time.Millisecond

// planRounds is how many plans of each configuration a round of
// BenchmarkPlanRefresh500/side-by-side times, taking turns, so that a slow
// spell of a shared machine falls on all of them alike.
const planRounds = 5

// BenchmarkPlanRefresh500 times `terraform plan` (a refresh and an empty
// plan) of 500 contexts, made by an untimed apply at scaled limits, against a
// server at the documented limits (read 100 a minute, burst 20) that takes
// 20 ms over every request. Each provider is a binary that Terraform starts
// as it starts an installed provider, so the figures are those of the
// processes users run.
//
// side-by-side takes planRounds turns at four plans, each finding nothing to
// change, and reports their means:
//   - data-s: 500 terraform_data resources, Terraform's own floor for 500
//     resources;
//   - noop-s: 500 resources of a framework provider whose Read does nothing
//     (testdata/noop-provider), the floor of any framework provider;
//   - s: the provider as configured by default (batch_reads = true);
//     vs-data+latency its ratio to the terraform_data floor plus the latency
//     bound of one GET each, 500 × 20 ms / 10 (parallelism) = 1 s (target
//     ≤ 1.3); vs-noop its ratio to the noop floor; peak-MiB the provider
//     process's peak resident memory (target ≤ 60); reads the list and get
//     requests served per plan (target ≤ ⌈500/100⌉ + a few); 429s the
//     refusals served (target 0); and where the CPU went (see runs);
//   - NAME-saves: for each of main.go's tweaks (tweaksOff), the share of s
//     that the tweak saves, beside a plan of the same binary and state with
//     the tweak turned off; NAME-peak-MiB that plan's peak memory.
//
// unbatched-x10 plans with batch_reads = false, one GET per context. At the
// documented limits that is (500 - 20) / 100 a minute = 4.8 min, too slow
// to run, so the server's and provider's read limit are ten times the
// documented (1000 a minute, burst 200) and the variant reports vs-batched
// (its time over the batched one, which is also the per-context cost ratio:
// both refresh 500), wall/bound against its own rate-limit bound, and
// est-documented-s, its time with the bound at the documented limits in place
// of the ×10 one.
func BenchmarkPlanRefresh500(b *testing.B) {
	requireTerraform(b)
	const n = 500
	documented := localserver.DocumentedLimits()
	setupLimits := scaleLimits(documented, 60)
	srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &setupLimits})}
	contexts := counted("wacht_execution_context", n, `title = "bench-${count.index}"`)
	bin := buildProviders(b)
	wc := binaryCLI(b, bin)
	wc.write(srv.providerWith(rateLimitsHCL(setupLimits)) + contexts)
	wc.must("apply", "-auto-approve", "-input=false", "-no-color")
	srv.SetLatency(planLatency)

	var batched time.Duration
	b.Run("side-by-side", func(b *testing.B) {
		data := &planTimes{c: appliedCLI(b, bin, counted("terraform_data", n, "input = count.index"))}
		noop := &planTimes{c: appliedCLI(b, bin, counted(noopThing, n, ""))}
		c := wc.in(b)
		c.write(srv.providerBlock() + contexts)
		atDocumentedLimits := func() { srv.SetLimits(documented, true) }
		wacht := &planTimes{c: c, before: atDocumentedLimits}
		var offs []*planTimes
		for _, tweak := range tweaksOff {
			offs = append(offs, &planTimes{c: c.with(tweak.env), before: atDocumentedLimits})
		}
		plans := append([]*planTimes{data, noop, wacht}, offs...)
		srv.ResetRequests()
		for b.Loop() {
			for range planRounds {
				for _, p := range plans {
					p.plan(b)
				}
			}
		}
		for i, tweak := range tweaksOff {
			off := offs[i]
			b.ReportMetric(1-wacht.mean().Seconds()/off.mean().Seconds(), tweak.name+"-saves")
			b.ReportMetric(float64(off.peakKiB)/1024, tweak.name+"-peak-MiB")
		}
		batched = wacht.mean()
		latencyBound := time.Duration(n) * planLatency / 10
		b.ReportMetric(data.mean().Seconds(), "data-s")
		b.ReportMetric(noop.mean().Seconds(), "noop-s")
		b.ReportMetric(batched.Seconds()/(data.mean()+latencyBound).Seconds(), "vs-data+latency")
		b.ReportMetric(batched.Seconds()/noop.mean().Seconds(), "vs-noop")
		wacht.report(b)
		// Every plan but data's and noop's reads the same 500 contexts.
		reportReads(b, &srv, (1+len(tweaksOff))*wacht.n)
	})
	b.Run("unbatched-x10", func(b *testing.B) {
		x10 := documented
		x10.Read = localserver.Rate{PerMinute: documented.Read.PerMinute * 10, Burst: documented.Read.Burst * 10}
		c := wc.in(b)
		c.write(srv.providerWith("  batch_reads = false\n"+rateLimitsHCL(x10)) + contexts)
		unbatched := &planTimes{c: c, before: func() { srv.SetLimits(x10, true) }}
		srv.ResetRequests()
		for b.Loop() {
			unbatched.plan(b)
		}
		unbatched.report(b)
		bound, documentedBound := rateBound(n, x10.Read), rateBound(n, documented.Read)
		b.ReportMetric(unbatched.mean().Seconds()/bound.Seconds(), "wall/bound")
		b.ReportMetric((unbatched.mean() - bound + documentedBound).Seconds(), "est-documented-s")
		if batched > 0 {
			b.ReportMetric(unbatched.mean().Seconds()/batched.Seconds(), "vs-batched")
		}
		reportReads(b, &srv, unbatched.n)
	})
}

// tweaksOff turns main.go's tweaks off one at a time, through the
// environment the CLI passes to the provider.
var tweaksOff = []struct{ name, env string }{
	// TF_LOG_PROVIDER names a level, so the provider keeps its TRACE lines
	// and Terraform parses and drops them all (none is an ERROR).
	{"quiet-logs", "TF_LOG_PROVIDER=error"},
	// GOGC set leaves collection to Go: no gcPercent, no memoryLimit.
	{"gc-percent", "GOGC=100"},
}

// requireTerraform skips a benchmark when there is no CLI to drive.
func requireTerraform(b *testing.B) {
	b.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		b.Skip("needs the Terraform CLI: set TF_ACC_TERRAFORM_PATH, as `make bench` does")
	}
}

// noopThing is the resource of testdata/noop-provider.
const noopThing = "noop_thing"

// buildProviders builds this provider and the no-op one into a directory, as
// buildProvider does.
func buildProviders(b *testing.B) string {
	b.Helper()
	dir := buildProvider(b)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-noop"), "./testdata/noop-provider")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the no-op provider: %v\n%s", err, out)
	}
	return dir
}

// noopCLI is binaryCLI for the providers of buildProviders, the no-op one
// keeping its logs to itself, as main.go has this provider do when
// Terraform would drop them.
func noopCLI(b *testing.B, dir string, env ...string) *cli {
	b.Helper()
	quiet := []string{"TF_LOG_SDK=off", "TF_LOG_SDK_PROTO=off", "TF_LOG_SDK_FRAMEWORK=off", "TF_LOG_PROVIDER_NOOP=off"}
	return overridesCLI(b, map[string]string{"wacht-platform/wacht": dir, "hashicorp/noop": dir}, append(quiet, env...)...)
}

// with returns the harness in the same directory, env added to its
// commands' environment.
func (c *cli) with(env ...string) *cli {
	cp := *c
	cp.env = append(slices.Clone(c.env), env...)
	return &cp
}

// in returns the harness reporting to tb, such as a sub-benchmark of the
// benchmark that made it: only the goroutine running a benchmark may fail it.
func (c *cli) in(tb testing.TB) *cli {
	cp := *c
	cp.t = tb
	return &cp
}

// appliedCLI is a noopCLI working directory with config applied.
func appliedCLI(b *testing.B, dir, config string) *cli {
	c := noopCLI(b, dir)
	c.write(config)
	c.must("apply", "-auto-approve", "-input=false", "-no-color")
	return c
}

// runs times commands of one kind and where their CPU went: self is this
// process's CPU time (the local server and these measurements);
// plugins that of the provider processes the CLI started, and peakKiB the
// largest peak resident memory among them (both sampled every 20 ms);
// terraform the CLI's own. Their sum near the wall time times the cores says
// the commands are bound by CPU, not by waiting on the server.
type runs struct {
	n                              int
	wall, self, plugins, terraform time.Duration
	peakKiB                        int
}

// time runs cmd, which runs the CLI, and adds up its figures.
func (r *runs) time(cmd func()) {
	self0, children0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
	watch := watchPlugins()
	start := time.Now()
	cmd()
	r.wall += time.Since(start)
	plugins, peak := watch()
	r.plugins += plugins
	r.peakKiB = max(r.peakKiB, peak)
	r.self += cpuTime(syscall.RUSAGE_SELF) - self0
	// The CLI is charged with the children it waited for: its plugins.
	r.terraform += cpuTime(syscall.RUSAGE_CHILDREN) - children0 - plugins
	r.n++
}

func (r *runs) mean() time.Duration { return r.wall / time.Duration(max(r.n, 1)) }

// report reports the mean wall and CPU times, and the peak memory of the
// provider processes.
func (r *runs) report(b *testing.B) {
	per := func(d time.Duration) float64 { return d.Seconds() / float64(max(r.n, 1)) }
	b.ReportMetric(per(r.wall), "s")
	b.ReportMetric(per(r.self), "self-cpu-s")
	b.ReportMetric(per(r.plugins), "plugin-cpu-s")
	b.ReportMetric(per(r.terraform), "terraform-cpu-s")
	b.ReportMetric(float64(r.peakKiB)/1024, "peak-MiB")
}

// planTimes times plans of one working directory, each expected to find
// nothing to change.
type planTimes struct {
	runs
	c      *cli
	before func() // run untimed before each plan
}

func (p *planTimes) plan(b *testing.B) {
	if p.before != nil {
		b.StopTimer()
		p.before()
		b.StartTimer()
	}
	p.time(func() {
		if !p.c.emptyPlan() {
			b.Error("the plan is not empty")
		}
	})
}

// watchPlugins samples, every 20 ms until the function it returns is
// called, the provider processes started by the CLI this process runs; that
// function returns their CPU time, summed, and the largest peak resident
// memory (VmHWM) in KiB. What a process does between its last sample and its
// exit is not seen.
func watchPlugins() func() (time.Duration, int) {
	stop, done := make(chan struct{}), make(chan struct{})
	cpu := map[int]time.Duration{}
	peakKiB := 0
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		cli := 0
		for {
			if cli == 0 {
				if pids := childPIDs(os.Getpid()); len(pids) > 0 {
					cli = pids[0]
				}
			}
			for _, pid := range childPIDs(cli) {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); !strings.HasPrefix(string(comm), "terraform-provi") {
					continue // the kernel keeps 15 bytes of a command's name
				}
				if t, ok := procCPU(pid); ok {
					cpu[pid] = t
				}
				peakKiB = max(peakKiB, vmHWM(pid))
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (time.Duration, int) {
		close(stop)
		<-done
		var sum time.Duration
		for _, t := range cpu {
			sum += t
		}
		return sum, peakKiB
	}
}

// childPIDs lists a process's children, from every one of its threads; none
// for pid 0.
func childPIDs(pid int) []int {
	if pid == 0 {
		return nil
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var pids []int
	for _, task := range tasks {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, field := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(field); err == nil {
				pids = append(pids, child)
			}
		}
	}
	return pids
}

// procCPU is a running process's user and system time.
func procCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: utime and stime are the 14th and 15th of the line, in ticks.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuTime is the user and system time of who (RUSAGE_SELF or, for the
// commands run and waited for, RUSAGE_CHILDREN).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportReads reports the read requests and 429 answers served, per plan.
func reportReads(b *testing.B, srv *testServer, plans int) {
	reads := 0
	for _, route := range []string{localserver.ContextsRoute, localserver.ContextRoute} {
		reads += srv.Count(http.MethodGet, route, -1)
	}
	refused := 0
	for k, v := range srv.Requests() {
		if k.Status == http.StatusTooManyRequests {
			refused += v
		}
	}
	plans = max(plans, 1)
	b.ReportMetric(float64(reads)/float64(plans), "reads")
	b.ReportMetric(float64(refused)/float64(plans), "429s")
}

// rateBound is the least time n requests take through a token bucket that
// starts full: the burst goes at once, the rest at the sustained rate.
func rateBound(n int, r localserver.Rate) time.Duration {
	return time.Duration(float64(n-r.Burst) / (r.PerMinute / 60) * float64(time.Second))
}

// scaleLimits multiplies every rate and burst by k.
func scaleLimits(l localserver.Limits, k float64) localserver.Limits {
	scale := func(r localserver.Rate) localserver.Rate {
		return localserver.Rate{PerMinute: r.PerMinute * k, Burst: int(math.Ceil(float64(r.Burst) * k))}
	}
	return localserver.Limits{Create: scale(l.Create), Read: scale(l.Read), Update: scale(l.Update), Delete: scale(l.Delete)}
}

// rateLimitsHCL is the provider's rate_limits setting for l, indented for a
// provider block. A rate of 0 a minute switches that limiter off.
func rateLimitsHCL(l localserver.Limits) string {
	rate := func(r localserver.Rate) string {
		return fmt.Sprintf("{ per_minute = %g, burst = %d }", r.PerMinute, r.Burst)
	}
	return fmt.Sprintf("  rate_limits = {\n    read   = %s\n    create = %s\n    update = %s\n    delete = %s\n  }\n",
		rate(l.Read), rate(l.Create), rate(l.Update), rate(l.Delete))
}

// providerWith is providerBlock with more settings, given as indented lines.
func (s testServer) providerWith(settings string) string {
	return strings.TrimSuffix(s.providerBlock(), "}\n") + settings + "}\n"
}

// counted is n resources of one type, under one counted block.
func counted(typ string, n int, body string) string {
	return fmt.Sprintf("resource %q \"bench\" {\n  count = %d\n  %s\n}\n", typ, n, body)
}

// vmHWM is a process's peak resident set size in KiB, 0 when unknown.
func vmHWM(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kib
		}
	}
	return 0
}
