package wacht

import (
	"context"
	"time"
)

// Clock is the seam that lets retry and rate-limit tests run without real
// sleeps, in the way terraform-provider-time injects its clock.
type Clock interface {
	Now() time.Time
	// SleepUntil blocks until t or until ctx ends, returning ctx's error then.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func sleep(ctx context.Context, c Clock, d time.Duration) error {
	return c.SleepUntil(ctx, c.Now().Add(d))
}
