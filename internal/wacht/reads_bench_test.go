package wacht

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkRefreshAtTheReadLimit refreshes 10,000 contexts, ten reads at a
// time, through a client at the documented read limit (100 a minute, burst
// 20) on the drivenClock, so that the walk's minute at the limit passes in
// no time. It reports the requests served (target ⌈N/100⌉ + 1 = 101, no
// GET), the refresh's time on the clock over the read limit's bound
// (⌈N/100⌉ + 1 − 20) × 0.6 s (the client keeps one token of the burst back,
// hence a page more at the sustained rate), and the heap the batcher holds
// per context once every read is answered.
func BenchmarkRefreshAtTheReadLimit(b *testing.B) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, DocumentedLimits())
		ids := addContexts(r.srv, n, nil)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := r.clock.Now()
		b.StartTimer()
		got, errs := r.refresh(ids, noAgent, 10)
		b.StopTimer()
		took := r.clock.Now().Sub(start)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		r.checkReads(ids, got, errs, nil)
		lists, gets := r.requests()
		bound := time.Duration(n/DefaultPageSize+1-20) * 600 * time.Millisecond
		b.ReportMetric(float64(len(lists)), "pages")
		b.ReportMetric(float64(gets), "gets")
		b.ReportMetric(took.Seconds()/bound.Seconds(), "clock/bound")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1024/n, "heap-KiB/context")
		runtime.KeepAlive(got)
		b.StartTimer()
	}
}
