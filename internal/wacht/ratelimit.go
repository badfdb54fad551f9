package wacht

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// Operation names the rate-limit bucket a request draws from.
type Operation int

const (
	OpRead Operation = iota // list and get, of contexts and agents
	OpCreate
	OpUpdate // PATCH and execute
	OpDelete
)

func (o Operation) String() string {
	return [...]string{"read", "create", "update", "delete"}[o]
}

// Rate is a sustained rate and a burst. PerMinute <= 0 means unlimited.
type Rate struct {
	PerMinute float64
	Burst     int
}

// Limits holds one Rate per operation.
type Limits struct {
	Read, Create, Update, Delete Rate
}

// DocumentedLimits are the per-route limits the API documents. Updates are
// not documented; they get the create limits, the closest documented write.
func DocumentedLimits() Limits {
	return Limits{
		Read:   Rate{PerMinute: 100, Burst: 20},
		Create: Rate{PerMinute: 100, Burst: 10},
		Update: Rate{PerMinute: 100, Burst: 10},
		Delete: Rate{PerMinute: 50, Burst: 5},
	}
}

// Unlimited switches client-side limiting off (retries on 429 still apply).
func Unlimited() Limits { return Limits{} }

func (l Limits) of(op Operation) Rate {
	return [...]Rate{l.Read, l.Create, l.Update, l.Delete}[op]
}

// limiterSet is one token bucket per operation.
type limiterSet struct {
	buckets [4]*rate.Limiter
}

func newLimiterSet(l Limits) *limiterSet {
	s := &limiterSet{}
	for op := range s.buckets {
		r := l.of(Operation(op))
		if r.PerMinute <= 0 {
			s.buckets[op] = rate.NewLimiter(rate.Inf, 0)
			continue
		}
		// One token of the burst is kept back as headroom: requests sent on
		// the server's exact schedule arrive with uneven latency, and without
		// slack a request that overtakes the one before it is refused.
		s.buckets[op] = rate.NewLimiter(rate.Limit(r.PerMinute/60), max(r.Burst-1, 1))
	}
	return s
}

// wait reserves a token at the clock's time and sleeps until it is due. The
// reservation is given back when ctx ends first, so a cancelled caller does
// not hold up the others.
func (s *limiterSet) wait(ctx context.Context, clock Clock, op Operation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := clock.Now()
	r := s.buckets[op].ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("rate limiter for %s cannot grant a request", op)
	}
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	if err := clock.SleepUntil(ctx, now.Add(delay)); err != nil {
		r.CancelAt(clock.Now())
		return err
	}
	return nil
}

// Limiters are shared by every client in the process that talks to the same
// API with the same key and limits: Terraform configures one client per
// provider block, and aliased blocks for one account must not each spend the
// account's whole budget.
var (
	sharedMu       sync.Mutex
	sharedLimiters = map[string]*limiterSet{}
)

func sharedLimiterSet(baseURL, apiKey string, l Limits) *limiterSet {
	sum := sha256.Sum256([]byte(apiKey))
	key := fmt.Sprintf("%s|%s|%v", baseURL, hex.EncodeToString(sum[:8]), l)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s, ok := sharedLimiters[key]; ok {
		return s
	}
	s := newLimiterSet(l)
	sharedLimiters[key] = s
	return s
}

// valid refuses rates that would make a bucket meaningless.
func (r Rate) valid() error {
	if math.IsNaN(r.PerMinute) || math.IsInf(r.PerMinute, 0) {
		return fmt.Errorf("rate %v per minute is not a finite number", r.PerMinute)
	}
	if r.PerMinute > 0 && r.Burst < 1 {
		return fmt.Errorf("burst %d must be at least 1", r.Burst)
	}
	return nil
}
