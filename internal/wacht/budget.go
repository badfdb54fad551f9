package wacht

import (
	"math"
	"time"
)

// The rate budget of one account: per operation, a token bucket and the rate
// the client allows itself, which 429 answers lower and time raises again
// (AIMD, as TCP does with its window). It is plain data so that processes
// can share it through a file (budget_file.go).

// Adaptation constants. A 429 cuts the allowed rate to cutFactor of what it
// was, never below minRateFraction of the configured one; without 429s it
// climbs back by the configured rate every recoveryPeriod. A gentle cut and
// a slow climb, as with several machines on one key each one's climb adds
// up: deeper cuts leave runs far apart in speed, the last one finishing long
// after the others, and a faster climb spends more requests on 429s than it
// wins back (figures from BenchmarkSharedBudget).
const (
	cutFactor       = 0.7
	minRateFraction = 1.0 / 32
	recoveryPeriod  = 3 * time.Minute
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
// under the configured rate cfg: the cut rate plus the climb since, at most
// cfg. A per-process budget does not adapt and always allows cfg.
func (b bucket) allowed(now time.Time, cfg Rate, adaptive bool) float64 {
	if !adaptive || b.CutAt == 0 {
		return cfg.PerMinute
	}
	since := time.Duration(now.UnixNano() - b.CutAt)
	climb := cfg.PerMinute * since.Seconds() / recoveryPeriod.Seconds()
	return min(cfg.PerMinute, b.Cut+climb)
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

// reserve books one request at now and returns when it may be sent.
func (b *bucket) reserve(now time.Time, cfg Rate, adaptive bool) time.Time {
	t := interval(b.allowed(now, cfg, adaptive))
	tau := time.Duration(tolerance(cfg)-1) * t
	next := max(b.Next, now.UnixNano())
	due := max(now.UnixNano(), next-int64(tau))
	b.Next = max(next, due) + int64(t)
	return time.Unix(0, due)
}

// release gives back a booking that was not used, as when its caller's
// context ended before it was due.
func (b *bucket) release(now time.Time, cfg Rate, adaptive bool) {
	t := interval(b.allowed(now, cfg, adaptive))
	b.Next = max(b.Next-int64(t), now.UnixNano())
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
