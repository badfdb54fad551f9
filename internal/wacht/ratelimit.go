package wacht

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sync"
	"time"
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

// limiterSet paces one account's requests with its budget (budget.go): by
// default one budget for the machine, in a file that every process using the
// same base URL and key shares; in this process alone when asked, or when the
// file cannot be used.
type limiterSet struct {
	limits   Limits
	account  string
	adaptive bool // whether 429s cut the rate: the shared budget does, the per-process one does not

	mu     sync.Mutex // serialises this process's updates; the file lock those of processes
	shared bool       // whether to use the file, until it fails
	file   *budgetFile
	// state is the budget when there is no file, and otherwise the last one
	// written to it, carried on if the file fails.
	state budgetState
}

func newLimiterSet(account string, l Limits, shared bool) *limiterSet {
	return &limiterSet{limits: l, account: account, adaptive: shared, shared: shared, state: newBudgetState(account)}
}

// update applies fn to the budget: the file's, under its lock, or this
// process's. A file that cannot be opened, locked or written is dropped for
// good, with a debug line, and this process goes on alone from where it was.
func (s *limiterSet) update(ctx context.Context, log Logger, fn func(*budgetState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared && s.file == nil {
		f, err := openBudgetFile(ctx, s.account)
		if err != nil {
			return s.alone(ctx, log, err, fn, false)
		}
		s.file = f
	}
	if s.file == nil {
		fn(&s.state)
		return nil
	}
	applied := false
	err := s.file.update(ctx, func(st *budgetState) {
		fn(st)
		s.state = budgetState{Version: st.Version, Account: st.Account, Buckets: maps.Clone(st.Buckets)}
		applied = true
	})
	if err != nil {
		return s.alone(ctx, log, err, fn, applied)
	}
	return nil
}

// alone drops the budget file after err and applies fn to this process's
// budget unless it is applied already.
func (s *limiterSet) alone(ctx context.Context, log Logger, err error, fn func(*budgetState), applied bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.shared, s.file = false, nil
	log.Debug(ctx, "Wacht rate budget file unusable: pacing this process alone", map[string]any{"error": err.Error()})
	if !applied {
		fn(&s.state)
	}
	return nil
}

// bucket is op's bucket in st, a fresh one when the stored one is not sane.
func (st *budgetState) bucket(op Operation, now time.Time) bucket {
	b := st.Buckets[op.String()]
	if !b.sane(now) {
		return bucket{}
	}
	return b
}

// wait books a request of op and sleeps until it is due, spread by jitter
// (a number in [0, 1)) as the budget asks, then returns that time, which is
// when it is sent. A booking that a 429 voided while it slept is made again.
// The booking is given back when ctx ends first, so a cancelled caller does
// not hold up the others.
func (s *limiterSet) wait(ctx context.Context, clock Clock, log Logger, jitter func() float64, op Operation) (time.Time, error) {
	cfg := s.limits.of(op)
	for {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		booked := clock.Now()
		if cfg.PerMinute <= 0 {
			return booked, nil
		}
		var due time.Time
		err := s.update(ctx, log, func(st *budgetState) {
			b := st.bucket(op, booked)
			var spread time.Duration
			due, spread = b.reserve(booked, cfg, s.adaptive)
			due = due.Add(time.Duration(jitter() * float64(spread)))
			st.Buckets[op.String()] = b
		})
		if err != nil {
			return time.Time{}, err
		}
		if !due.After(booked) {
			return booked, nil
		}
		if err := clock.SleepUntil(ctx, due); err != nil {
			// The release must not be cut short by the context that just ended.
			giveBack, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = s.update(giveBack, log, func(st *budgetState) {
				b := st.bucket(op, clock.Now())
				b.release(clock.Now(), cfg, s.adaptive)
				st.Buckets[op.String()] = b
			})
			return time.Time{}, err
		}
		voided := false
		if s.adaptive {
			if err := s.update(ctx, log, func(st *budgetState) { voided = st.bucket(op, due).cutSince(booked) }); err != nil {
				return time.Time{}, err
			}
		}
		if !voided {
			return due, nil
		}
	}
}

// refused tells the budget that a request of op sent at sent was answered
// 429, with the server's retryAfter (0 when it named none).
func (s *limiterSet) refused(ctx context.Context, clock Clock, log Logger, op Operation, sent time.Time, retryAfter time.Duration) {
	cfg := s.limits.of(op)
	if cfg.PerMinute <= 0 || !s.adaptive {
		return
	}
	now := clock.Now()
	_ = s.update(ctx, log, func(st *budgetState) {
		b := st.bucket(op, now)
		b.refused(now, sent, retryAfter, cfg, s.adaptive)
		st.Buckets[op.String()] = b
	})
}

// Limiters are shared by every client in the process that talks to the same
// API with the same key and limits: Terraform configures one client per
// provider block, and aliased blocks for one account must not each spend the
// account's whole budget. Other processes share it through the file.
var (
	sharedMu       sync.Mutex
	sharedLimiters = map[string]*limiterSet{}
)

func sharedLimiterSet(baseURL, apiKey string, l Limits, perProcess bool) *limiterSet {
	account := accountHash(baseURL, apiKey)
	key := fmt.Sprintf("%s|%v|%t", account, l, perProcess)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s, ok := sharedLimiters[key]; ok {
		return s
	}
	s := newLimiterSet(account, l, !perProcess)
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
