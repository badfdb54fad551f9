package wacht

import (
	"math"
	"time"
)

// The rate budget of one account: per operation, a token bucket and the rate
// the client allows itself, which 429 answers cut and time raises again (as
// TCP does with its window). It is plain data so that processes can share it
// through a file (budget_file.go).
//
// On one machine the file makes one budget of every run's, and 429s are rare.
// Runs on several machines with one key learn of each other only from the
// server's 429s, which go to whoever asks when its bucket is empty; the
// adaptation has to give each run an even share from those few answers, as
// the run with the smallest share finishes last and sets the time:
//
//   - A 429 cuts the allowed rate to cutFactor of what it was, never below
//     minRateFraction of the configured one: deep enough that one 429 makes
//     room for the others.
//   - Without 429s the rate climbs back to the configured one on an S-curve:
//     after t the gap is down to exp(-(t/climbTime)^2) of what the cut left.
//     Slowly at first, while the runs that caused the 429 are most likely
//     still there, then fast: a budget not refused for a while is likely
//     alone again (the others done) and has the full rate back within about
//     two climbTimes. A straight climb either spends its probes on 429s or
//     leaves the last run crawling after the others finish.
//   - Bookings are made at the rate the budget will allow when they come due,
//     not at the rate when they are made: a queue booked right after a cut
//     would otherwise hold the climb back for as long as it takes to drain.
//   - A request that the budget paces (one that found its bucket not full) is
//     sent up to spreadFraction of an interval late, at random. Runs pacing
//     themselves at the server's rate otherwise lock into step: one always
//     takes the server's token just before the others, is never refused, and
//     they get every 429 and are cut to the floor until it is done. The
//     spread also lets the first 429 of a burst hold back the rest of it.
//
// The constants were tuned with BenchmarkSimulatedMachines, a model of
// BenchmarkSharedBudget's runs in virtual time (budget_sim_test.go), and
// checked with the benchmark itself.
const (
	cutFactor       = 0.6
	minRateFraction = 1.0 / 32
	climbTime       = 45 * time.Second
	// spreadFraction keeps half a token of the headroom that tolerance
	// leaves, so the spread alone never makes a request early for the server.
	spreadFraction = 0.5
)

// maxAhead bounds how far into the future a stored bucket may be booked. A
// file booked further (a clock jump, a test's fake clock, a foreign writer)
// is stale and starts over rather than block every request.
const maxAhead = time.Hour

// budgetState is what the budget file holds.
type budgetState struct {
	Version int `json:"version"`
	// Account is the file's name, the hash of base URL and key, repeated
	// inside so that a copied or renamed file is recognised as foreign.
	Account string            `json:"account"`
	Buckets map[string]bucket `json:"buckets"` // by Operation.String()
}

const budgetVersion = 1

func newBudgetState(account string) budgetState {
	return budgetState{Version: budgetVersion, Account: account, Buckets: map[string]bucket{}}
}

// bucket is one operation's budget. Times are Unix nanoseconds of the
// client's clock.
type bucket struct {
	// Next is the bucket's theoretical arrival time in the GCRA form of a
	// token bucket: a request is due at Next less the burst's tolerance, and
	// each request moves Next on by one interval at the allowed rate.
	Next int64 `json:"next"`
	// Cut is the rate allowed right after the last 429, in requests per
	// minute, at CutAt; CutAt is 0 when no 429 has been seen.
	Cut   float64 `json:"cut,omitempty"`
	CutAt int64   `json:"cut_at,omitempty"`
}

// sane reports whether b can be trusted at now: nothing booked or cut in the
// far future, no rate that is not a positive number.
func (b bucket) sane(now time.Time) bool {
	limit := now.Add(maxAhead).UnixNano()
	if b.Next > limit || b.CutAt > now.UnixNano() {
		return false
	}
	return b.CutAt == 0 || (b.Cut > 0 && !math.IsInf(b.Cut, 0))
}

// allowed is the rate in requests per minute that b allows itself at now
// under the configured rate cfg: the cut rate and the climb since, never
// more than cfg. A per-process budget does not adapt and always allows cfg.
func (b bucket) allowed(now time.Time, cfg Rate, adaptive bool) float64 {
	if !adaptive || b.CutAt == 0 {
		return cfg.PerMinute
	}
	x := time.Duration(now.UnixNano()-b.CutAt).Seconds() / climbTime.Seconds()
	return cfg.PerMinute - (cfg.PerMinute-b.Cut)*math.Exp(-x*x)
}

// tolerance is how many requests may go at once: the burst less one token of
// headroom, since requests sent on the server's exact schedule arrive with
// uneven latency, and without slack one that overtakes the one before it is
// refused.
func tolerance(cfg Rate) int { return max(cfg.Burst-1, 1) }

// interval is the time between two requests at perMinute.
func interval(perMinute float64) time.Duration {
	return time.Duration(float64(time.Minute) / perMinute)
}

// reserve books one request at now and returns when it is due, and by how
// much at most its sending is spread: 0 when it found the bucket full, or the
// budget does not adapt. The booking takes one interval at the rate allowed
// when the bookings before it are through, and may go the tolerance ahead of
// it at that rate.
func (b *bucket) reserve(now time.Time, cfg Rate, adaptive bool) (due time.Time, spread time.Duration) {
	next := max(b.Next, now.UnixNano())
	t := b.step(now, cfg, adaptive)
	tau := time.Duration(tolerance(cfg)-1) * t
	at := max(now.UnixNano(), next-int64(tau))
	if adaptive && b.Next > now.UnixNano() {
		spread = time.Duration(spreadFraction * float64(t))
	}
	b.Next = max(next, at) + int64(t)
	return time.Unix(0, at), spread
}

// release gives back a booking that was not used, as when its caller's
// context ended before it was due.
func (b *bucket) release(now time.Time, cfg Rate, adaptive bool) {
	b.Next = max(b.Next-int64(b.step(now, cfg, adaptive)), now.UnixNano())
}

// step is the interval a booking at now takes, at the rate allowed when the
// bookings before it are through (see the top of this file).
func (b bucket) step(now time.Time, cfg Rate, adaptive bool) time.Duration {
	return interval(b.allowed(time.Unix(0, max(b.Next, now.UnixNano())), cfg, adaptive))
}

// refused takes in a 429 at now for a request sent at sent, which waits
// retryAfter (the server's wait, jittered) before it is repeated; a per-process
// budget does not adapt and ignores it. The rate is cut once per round: a 429
// for a request sent before the last cut tells nothing new. A cut voids the
// bookings made before it (wait books those again, at the new rate) and
// starts the schedule afresh once the server's retryAfter has passed; any
// 429 keeps new bookings back until then, so the requests queued behind this
// one do not run into the same refusal.
func (b *bucket) refused(now, sent time.Time, retryAfter time.Duration, cfg Rate, adaptive bool) {
	if !adaptive {
		return
	}
	cut := sent.UnixNano() > b.CutAt
	if cut {
		b.Cut = max(b.allowed(now, cfg, adaptive)*cutFactor, cfg.PerMinute*minRateFraction)
		b.CutAt = now.UnixNano()
	}
	// Due at now+pause: Next less the tolerance is the due time.
	t := interval(b.allowed(now, cfg, adaptive))
	tau := time.Duration(tolerance(cfg)-1) * t
	resume := now.Add(max(retryAfter, t) + tau).UnixNano()
	if cut {
		b.Next = resume
	} else {
		b.Next = max(b.Next, resume)
	}
}

// cutSince reports whether the rate was cut after t, voiding a booking made
// at t.
func (b bucket) cutSince(t time.Time) bool { return b.CutAt > t.UnixNano() }
