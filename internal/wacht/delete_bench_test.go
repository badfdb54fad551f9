package wacht_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// BenchmarkBulkDelete deletes contexts with Terraform's default parallelism
// (10) against the local server, its delete limit scaled up 60 times so a run
// takes seconds, and reports, side by side in one run:
//   - bound-ratio: the rate-limit bound (N - burst) / rate over the time
//     taken; 1 is as fast as the server's limit allows (target ≥ 0.95);
//   - 429s: refusals the server served (target 0 with the limiter);
//   - failed: deletes that did not succeed.
//
// Run it with: go test ./internal/wacht -run '^$' -bench BulkDelete -benchtime 1x
func BenchmarkBulkDelete(b *testing.B) {
	const (
		n           = 150
		parallelism = 10
	)
	serverLimit := localserver.Rate{PerMinute: 3000, Burst: 5}
	bound := time.Duration(float64(n-serverLimit.Burst) / (serverLimit.PerMinute / 60) * float64(time.Second))
	for _, tc := range []struct {
		name   string
		limits wacht.Limits
	}{
		{"limiter", wacht.Limits{Delete: wacht.Rate{PerMinute: serverLimit.PerMinute, Burst: serverLimit.Burst}}},
		{"retry-only", wacht.Unlimited()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				srv := localserver.StartTest(b, localserver.Options{Limits: &localserver.Limits{Delete: serverLimit}})
				ids := make(chan string, n)
				for range n {
					ids <- srv.AddContext(localserver.ExecutionContext{Title: "bulk"}).ID
				}
				close(ids)
				c, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: srv.APIKey(), MaxRetries: 30, Limits: &tc.limits})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()

				start := time.Now()
				var failed atomic.Int64
				var wg sync.WaitGroup
				for range parallelism {
					wg.Go(func() {
						for id := range ids {
							if c.DeleteExecutionContext(context.Background(), id) != nil {
								failed.Add(1)
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)

				b.ReportMetric(bound.Seconds()/elapsed.Seconds(), "bound-ratio")
				b.ReportMetric(float64(srv.Count(http.MethodDelete, "/ai/execution-contexts/{id}", 429)), "429s")
				b.ReportMetric(float64(failed.Load()), "failed")
				b.ReportMetric(float64(len(srv.Contexts())), "left")
			}
		})
	}
}
