package wacht

import (
	"context"
	"sync"
	"time"
)

// fakeClock never sleeps. It records every wake-up time asked of it and,
// unless frozen, moves its time forward to it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	frozen bool
	wakes  []time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakes = append(c.wakes, t)
	if !c.frozen && t.After(c.now) {
		c.now = t
	}
	return nil
}

// waits returns the durations slept, measured from start.
func (c *fakeClock) sleeps(start time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, len(c.wakes))
	for i, w := range c.wakes {
		out[i] = w.Sub(start)
	}
	return out
}
