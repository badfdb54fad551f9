//go:build linux

package provider

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// Benchmarks of whole Terraform runs: the CLI at TF_ACC_TERRAFORM_PATH drives
// the provider, served in-process, against the local server on loopback.
// Each measures its variants side by side in one run and reports ratios, as
// metrics only: timings on a shared machine are never asserted. They read
// /proc and getrusage, hence Linux only.
//
// Run them with:
//
//	go test ./internal/provider -run '^$' -bench 'BulkDestroy|PlanRefresh' -benchtime 1x

// BenchmarkBulkDestroy destroys 100 contexts (made by an untimed apply) with
// `terraform destroy`, the server's delete limit at 600 a minute, burst 5,
// its other limits 60 times the documented ones so the setup is quick:
//   - limiter: the provider's delete limit set to the server's;
//   - retry-only: the provider's delete limiter off, 429 answers retried
//     (max_retries = 50).
//
// N is 300 so that Terraform's fixed cost of a command (about a second)
// does not pass for pacing. Metrics: wall/bound is the destroy's wall time
// over the rate-limit bound (N - burst) / rate = 29.5 s (target ≤ 1.05);
// span/bound the same for the
// span from the first DELETE to the last success, the provider's pacing
// without Terraform's start, refresh and plan, which overhead-s is; left is
// contexts still on the server afterwards, failed deletes (target 0); 429s
// and 429/delete are the refusals served on DELETE, in all and per context
// (target ≤ 0.01).
func BenchmarkBulkDestroy(b *testing.B) {
	requireTerraform(b)
	const n = 300
	deleteLimit := localserver.Rate{PerMinute: 600, Burst: 5}
	limits := scaleLimits(localserver.DocumentedLimits(), 60)
	limits.Delete = deleteLimit
	retryOnly := limits
	retryOnly.Delete = localserver.Rate{PerMinute: 0, Burst: 1}
	bound := rateBound(n, deleteLimit)

	for _, tc := range []struct {
		name     string
		settings string
	}{
		{"limiter", rateLimitsHCL(limits)},
		{"retry-only", rateLimitsHCL(retryOnly) + "  max_retries = 50\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &limits})}
			c := benchCLI(b, srv.providerWith(tc.settings)+counted("wacht_execution_context", n, `title = "bench-${count.index}"`))
			var wall, span time.Duration
			var left, refused int
			for b.Loop() {
				b.StopTimer()
				c.must("apply", "-auto-approve", "-input=false", "-no-color")
				srv.ResetRequests()
				b.StartTimer()

				deletes := watchDeletes(srv, n)
				start := time.Now()
				out, err := c.run("destroy", "-auto-approve", "-input=false", "-no-color")
				wall += time.Since(start)
				span += deletes()

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
			b.ReportMetric(per(wall.Seconds()), "s")
			b.ReportMetric(per(wall.Seconds())/bound.Seconds(), "wall/bound")
			b.ReportMetric(per(span.Seconds())/bound.Seconds(), "span/bound")
			b.ReportMetric(per((wall - span).Seconds()), "overhead-s")
			b.ReportMetric(per(float64(left)), "left")
			b.ReportMetric(per(float64(refused)), "429s")
			b.ReportMetric(per(float64(refused))/n, "429/delete")
		})
	}
}

// watchDeletes polls the server's counters while a destroy runs. The
// function it returns stops it and gives the time from the first DELETE
// served to the n-th success, 0 if either never came.
func watchDeletes(srv testServer, n int) func() time.Duration {
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
	return func() time.Duration {
		close(stop)
		<-done
		if first.IsZero() || last.IsZero() {
			return 0
		}
		return last.Sub(first)
	}
}

// planLatency is the server's delay on every request in the timed plans.
const planLatency = 20 * time.Millisecond

// BenchmarkPlanRefresh500 times `terraform plan` (a refresh and an empty
// plan) of 500 contexts, made by an untimed apply at scaled limits, against a
// server at the documented limits (read 100 a minute, burst 20) that takes
// 20 ms over every request. Beside it, in one run:
//   - terraform_data: a plan of 500 terraform_data resources, Terraform's
//     own floor for 500 resources;
//   - noop: a plan of 500 resources of a framework provider whose Read does
//     nothing, the floor of any framework provider;
//   - batched: the provider as configured by default (batch_reads = true).
//     s is its plan time; vs-data+latency its ratio to the terraform_data
//     floor plus the latency bound of one GET each, 500 × 20 ms / 10
//     (parallelism) = 1 s; vs-noop its ratio to the noop floor; reads the
//     list and get requests served (target ≤ ⌈500/100⌉ + a few); 429s the
//     refusals served (target 0);
//   - unbatched-x10: batch_reads = false, one GET per context. At the
//     documented limits that is (500 - 20) / 100 a minute = 4.8 min, too slow
//     to run, so the server's and provider's read limit are ten times the
//     documented (1000 a minute, burst 200) and the variant reports
//     vs-batched (its time over the batched one, which is also the per-context
//     cost ratio: both refresh 500), wall/bound against its own rate-limit
//     bound, and est-documented-s, its time with the bound at the documented
//     limits in place of the ×10 one;
//   - memory: the batched plan served by the provider binary, built and run
//     with -debug, reporting its peak resident memory (VmHWM) in MiB
//     (target ≤ 60), and s, the plan's time with a provider that formats its
//     trace logs as any provider Terraform starts does.
//
// The timed plans also report provider-cpu-s and terraform-cpu-s (see
// timePlans).
func BenchmarkPlanRefresh500(b *testing.B) {
	requireTerraform(b)
	const n = 500
	documented := localserver.DocumentedLimits()
	setupLimits := scaleLimits(documented, 60)
	srv := testServer{Server: localserver.StartTest(b, localserver.Options{Limits: &setupLimits})}
	contexts := counted("wacht_execution_context", n, `title = "bench-${count.index}"`)
	wc := benchCLI(b, srv.providerWith(rateLimitsHCL(setupLimits))+contexts)
	wc.must("apply", "-auto-approve", "-input=false", "-no-color")
	srv.SetLatency(planLatency)
	batchedConfig := srv.providerBlock() + contexts

	var dataFloor, noopFloor, batched time.Duration
	b.Run("terraform_data", func(b *testing.B) {
		dataFloor = floorPlan(b, counted("terraform_data", n, "input = count.index"))
	})
	b.Run("noop", func(b *testing.B) {
		noopFloor = floorPlan(b, counted(noopThing, n, ""))
	})
	b.Run("batched", func(b *testing.B) {
		c := wc.in(b)
		c.write(batchedConfig)
		srv.SetLimits(documented, true)
		batched = timePlans(b, c, &srv)
		// A floor filtered out by -bench leaves its ratio out.
		if dataFloor > 0 {
			latencyBound := time.Duration(n) * planLatency / 10
			b.ReportMetric(batched.Seconds()/(dataFloor+latencyBound).Seconds(), "vs-data+latency")
		}
		if noopFloor > 0 {
			b.ReportMetric(batched.Seconds()/noopFloor.Seconds(), "vs-noop")
		}
		reportReads(b, &srv)
	})
	b.Run("unbatched-x10", func(b *testing.B) {
		x10 := documented
		x10.Read = localserver.Rate{PerMinute: documented.Read.PerMinute * 10, Burst: documented.Read.Burst * 10}
		c := wc.in(b)
		c.write(srv.providerWith("  batch_reads = false\n"+rateLimitsHCL(x10)) + contexts)
		srv.SetLimits(x10, true)
		unbatched := timePlans(b, c, &srv)
		bound, documentedBound := rateBound(n, x10.Read), rateBound(n, documented.Read)
		b.ReportMetric(unbatched.Seconds()/bound.Seconds(), "wall/bound")
		b.ReportMetric((unbatched - bound + documentedBound).Seconds(), "est-documented-s")
		if batched > 0 {
			b.ReportMetric(unbatched.Seconds()/batched.Seconds(), "vs-batched")
		}
		reportReads(b, &srv)
	})
	b.Run("memory", func(b *testing.B) {
		bin := filepath.Join(buildProvider(b), "terraform-provider-wacht")
		c := wc.in(b)
		c.write(batchedConfig)
		var peakKiB int
		for b.Loop() {
			b.StopTimer()
			srv.SetLimits(documented, true) // full buckets, as for the batched plan
			p := startDebugProvider(b, bin)
			pc := c.in(b) // a copy, whose env names the binary: the last duplicate variable wins
			pc.env = append(slices.Clip(c.env), "TF_REATTACH_PROVIDERS="+p.reattach)
			b.StartTimer()
			if !pc.emptyPlan() {
				b.Error("the plan is not empty")
			}
			b.StopTimer()
			peakKiB = max(peakKiB, p.stop())
			b.StartTimer()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s")
		b.ReportMetric(float64(peakKiB)/1024, "peak-MiB")
	})
}

// requireTerraform skips a benchmark when there is no CLI to drive.
func requireTerraform(b *testing.B) {
	b.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		b.Skip("needs the Terraform CLI: set TF_ACC_TERRAFORM_PATH, as `make bench` does")
	}
}

// noopAddress is the address Terraform infers for noop_* resources, so that
// configurations need no required_providers entry for it.
const (
	noopAddress = "registry.terraform.io/hashicorp/noop"
	noopThing   = "noop_thing"
)

// benchCLI is a working directory, initialised with config, that reaches
// this provider and the no-op one, both served in-process.
func benchCLI(b *testing.B, config string) *cli {
	b.Helper()
	return startCLI(b, config, map[string]func() tfprotov6.ProviderServer{
		providerAddress: providerserver.NewProtocol6(New("bench")()),
		noopAddress:     providerserver.NewProtocol6(noopProvider{}),
	}, tf6server.WithGoPluginLogger(hclog.NewNullLogger())) // go-plugin's debug lines would split the result lines
}

// in returns the harness reporting to tb, such as a sub-benchmark of the
// benchmark that made it: only the goroutine running a benchmark may fail it.
func (c *cli) in(tb testing.TB) *cli {
	cp := *c
	cp.t = tb
	return &cp
}

// floorPlan applies config in a directory of its own, untimed, and times
// plans of it.
func floorPlan(b *testing.B, config string) time.Duration {
	c := benchCLI(b, config)
	c.must("apply", "-auto-approve", "-input=false", "-no-color")
	return timePlans(b, c, nil)
}

// timePlans runs one plan per iteration, each expected to find nothing to
// change, reports their mean wall time and where the CPU went, and returns
// the wall time. The server's counters, when there is a server, count the
// plans' requests only.
//
// provider-cpu-s is this process's CPU time: the in-process providers and the
// local server; terraform-cpu-s the CLI's. Their sum near s times the cores
// says the plan is bound by CPU, not by waiting on the server.
func timePlans(b *testing.B, c *cli, srv *testServer) time.Duration {
	if srv != nil {
		srv.ResetRequests()
	}
	var wall, self, children time.Duration
	for b.Loop() {
		self0, children0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
		start := time.Now()
		if !c.emptyPlan() {
			b.Error("the plan is not empty")
		}
		wall += time.Since(start)
		self += cpuTime(syscall.RUSAGE_SELF) - self0
		children += cpuTime(syscall.RUSAGE_CHILDREN) - children0
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(b.N) }
	b.ReportMetric(per(wall).Seconds(), "s")
	b.ReportMetric(per(self).Seconds(), "provider-cpu-s")
	b.ReportMetric(per(children).Seconds(), "terraform-cpu-s")
	return per(wall)
}

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
func reportReads(b *testing.B, srv *testServer) {
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
	b.ReportMetric(float64(reads)/float64(b.N), "reads")
	b.ReportMetric(float64(refused)/float64(b.N), "429s")
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

// lastLines keeps a failed command's log short.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// debugProvider is the provider binary running with -debug, serving the CLI
// that reattaches to it.
type debugProvider struct {
	cmd      *exec.Cmd
	exited   chan struct{}
	reattach string
}

var reattachLine = regexp.MustCompile(`TF_REATTACH_PROVIDERS='(\{.*\})'`)

// startDebugProvider runs the binary with -debug and reads the reattach
// configuration it prints.
func startDebugProvider(b *testing.B, bin string) *debugProvider {
	b.Helper()
	cmd := exec.Command(bin, "-debug")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the provider: %v", err)
	}
	p := &debugProvider{cmd: cmd, exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := reattachLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // a full pipe would block the provider
		_ = cmd.Wait()
		close(p.exited)
	}()
	b.Cleanup(func() { p.stop() })
	select {
	case p.reattach = <-found:
		return p
	case <-p.exited:
		b.Fatal("the provider exited without printing TF_REATTACH_PROVIDERS")
	case <-time.After(time.Minute):
		b.Fatal("the provider printed no TF_REATTACH_PROVIDERS within a minute")
	}
	return nil
}

// stop reads the provider's peak resident memory (VmHWM, in KiB), then
// interrupts it, as one stops a debug session, killing it if it lingers. It
// returns 0 once the process is gone.
func (p *debugProvider) stop() int {
	select {
	case <-p.exited:
		return 0
	default:
	}
	peak := vmHWM(p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return peak
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

// noopProvider serves noop_thing, a resource that reaches nothing: a plan of
// many of them is the cost of the framework and the protocol alone.
type noopProvider struct{}

func (noopProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "noop"
}

func (noopProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (noopProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return noopResource{} }}
}

func (noopProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

type noopResource struct{}

type noopModel struct {
	ID types.String `tfsdk:"id"`
}

func (noopResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_thing"
}

func (noopResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
	}}
}

func (noopResource) Create(ctx context.Context, _ resource.CreateRequest, resp *resource.CreateResponse) {
	resp.Diagnostics.Append(resp.State.Set(ctx, noopModel{ID: types.StringValue("noop")})...)
}

// Read keeps the state as it is: the framework starts from the prior state.
func (noopResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (noopResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (noopResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
