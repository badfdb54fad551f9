package localserver

import (
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerMinute sustained, Burst at once.
type Rate struct {
	PerMinute float64 // <= 0 means unlimited
	Burst     int
}

// Limits are the buckets of each kind of operation. Reads cover list and get
// of contexts and agents; Update covers PATCH and execute.
type Limits struct {
	Create, Read, Update, Delete Rate
}

// DocumentedLimits are the limits the Wacht documentation states. Update has
// no documented limit; it gets the create one.
func DocumentedLimits() Limits {
	return Limits{
		Create: Rate{PerMinute: 100, Burst: 10},
		Read:   Rate{PerMinute: 100, Burst: 20},
		Update: Rate{PerMinute: 100, Burst: 10},
		Delete: Rate{PerMinute: 50, Burst: 5},
	}
}

// operation is the kind of a route, which picks its bucket.
type operation int

const (
	opRead operation = iota
	opCreate
	opUpdate
	opDelete
	numOperations
)

func (l Limits) of(op operation) Rate {
	switch op {
	case opCreate:
		return l.Create
	case opUpdate:
		return l.Update
	case opDelete:
		return l.Delete
	}
	return l.Read
}

// buckets has one limiter per operation; nil means unlimited.
type buckets [numOperations]*rate.Limiter

// rateLimiter holds the current buckets; a nil set means limits are off.
// Swapping the whole set keeps SetLimits atomic with respect to requests.
type rateLimiter struct {
	current atomic.Pointer[buckets]
}

func (rl *rateLimiter) set(l Limits, enabled bool) {
	if !enabled {
		rl.current.Store(nil)
		return
	}
	var b buckets
	for op := range numOperations {
		r := l.of(op)
		if r.PerMinute > 0 {
			b[op] = rate.NewLimiter(rate.Limit(r.PerMinute/60), max(r.Burst, 1))
		}
	}
	rl.current.Store(&b)
}

// allow takes a token for op. When none is left it takes nothing, so the
// refused request has no effect, and reports how long until one is.
func (rl *rateLimiter) allow(op operation, now time.Time) (bool, time.Duration) {
	b := rl.current.Load()
	if b == nil || b[op] == nil {
		return true, 0
	}
	lim := b[op]
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// retryAfterSeconds is the whole number of seconds a client should wait.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
