package wacht

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkSimulatedMachines models BenchmarkSharedBudget's concurrent
// destroys in virtual time, to tune the adaptation (budget.go) on many
// rounds in seconds where the benchmark takes a quarter of an hour for one:
//
//	go test ./internal/wacht/ -run '^$' -bench SimulatedMachines
//
// Runs of 40 deletes, 10 at once each as Terraform's parallelism, start
// within a second of each other against a server bucket of the documented
// 50 a minute, burst 5, with 1 to 4 ms of latency. They share one bucket
// (shared-cache) or have one each (cache-each, as on separate machines),
// and use the client's own bucket arithmetic and retry pauses. Each variant
// reports, over the rounds of seeds 1 to simRounds, the median and the
// largest wall/bound (the time until the last run ends over the rate-limit
// bound of all deletes) and the share of requests answered 429.
func BenchmarkSimulatedMachines(b *testing.B) {
	const simRounds = 100
	for _, runs := range []int{2, 3, 4} {
		for _, shared := range []bool{true, false} {
			name := fmt.Sprintf("%d-runs/cache-each", runs)
			if shared {
				name = fmt.Sprintf("%d-runs/shared-cache", runs)
			}
			b.Run(name, func(b *testing.B) {
				var walls []float64
				var requests, refusals int
				for b.Loop() {
					walls, requests, refusals = nil, 0, 0
					for seed := int64(1); seed <= simRounds; seed++ {
						m := simulateRuns(seed, runs, shared)
						walls = append(walls, m.wall)
						requests += m.requests
						refusals += m.refusals
					}
				}
				slices.Sort(walls)
				b.ReportMetric(walls[len(walls)/2], "median-wall/bound")
				b.ReportMetric(walls[len(walls)-1], "max-wall/bound")
				b.ReportMetric(float64(refusals)/float64(requests), "429/request")
			})
		}
	}
}

type simResult struct {
	wall               float64 // over the bound
	requests, refusals int
}

// simulateRuns plays one round of runs of 40 deletes each, seeded.
func simulateRuns(seed int64, runs int, shared bool) simResult {
	const perRun, workers = 40, 10
	rng := rand.New(rand.NewSource(seed))
	cfg := DocumentedLimits().Delete
	sim := &simulation{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	start := sim.now
	server := rate.NewLimiter(rate.Limit(cfg.PerMinute/60), cfg.Burst)
	client := &Client{maxWait: time.Minute, jitter: rng.Float64}
	latency := func() time.Duration { return time.Duration(1+rng.Intn(4)) * time.Millisecond }
	var res simResult
	var end time.Time
	one := &bucket{}
	for range runs {
		b := one
		if !shared {
			b = &bucket{}
		}
		handed, done := 0, 0
		var attempt func(refusals int)
		next := func() {
			if handed < perRun {
				handed++
				attempt(0)
			}
		}
		// One request as limiterSet.wait and Client.do make it.
		attempt = func(refusals int) {
			booked := sim.now
			due, spread := b.reserve(booked, cfg, true)
			due = due.Add(time.Duration(rng.Float64() * float64(spread)))
			sim.at(due, func() {
				if b.cutSince(booked) {
					attempt(refusals)
					return
				}
				sent := sim.now
				sim.at(sim.now.Add(latency()/2), func() {
					res.requests++
					ok := server.AllowN(sim.now, 1)
					retryAfter := time.Duration(max(1, math.Ceil((1-server.TokensAt(sim.now))/float64(server.Limit())))) * time.Second
					sim.at(sim.now.Add(latency()/2), func() {
						if ok {
							if done++; done == perRun && sim.now.After(end) {
								end = sim.now
							}
							sim.at(sim.now.Add(5*time.Millisecond), next)
							return
						}
						res.refusals++
						d := client.pause(refusals+1, retryAfter)
						b.refused(sim.now, sent, d, cfg, true)
						sim.at(sim.now.Add(d), func() { attempt(refusals + 1) })
					})
				})
			})
		}
		offset := time.Duration(rng.Int63n(int64(time.Second)))
		for range workers {
			sim.at(start.Add(offset), next)
		}
	}
	sim.run()
	bound := time.Duration(float64(runs*perRun-cfg.Burst) * float64(interval(cfg.PerMinute)))
	res.wall = end.Sub(start).Seconds() / bound.Seconds()
	return res
}

// simulation runs events in the order of their virtual times. A few dozen
// are pending at a time, one or two per worker: a scan finds the next.
type simulation struct {
	now    time.Time
	seq    int
	events []simEvent
}

type simEvent struct {
	at  time.Time
	seq int // ties in the order they were made
	fn  func()
}

// at runs fn at t, or now if t has passed.
func (s *simulation) at(t time.Time, fn func()) {
	if t.Before(s.now) {
		t = s.now
	}
	s.seq++
	s.events = append(s.events, simEvent{at: t, seq: s.seq, fn: fn})
}

func (s *simulation) run() {
	for len(s.events) > 0 {
		first := 0
		for i, e := range s.events {
			if f := s.events[first]; e.at.Before(f.at) || (e.at.Equal(f.at) && e.seq < f.seq) {
				first = i
			}
		}
		e := s.events[first]
		s.events = slices.Delete(s.events, first, first+1)
		s.now = e.at
		e.fn()
	}
}
