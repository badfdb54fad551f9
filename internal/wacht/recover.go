package wacht

import (
	"context"
	"slices"
	"time"
)

// LostCreateError is a create whose request may have been carried out
// although no answer came back: the connection dropped, a 5xx came back, or
// the caller's context ended with the request in flight. It matches
// ErrOutcomeUnknown. AdoptLostCreate finds the context it may have made.
type LostCreateError struct {
	Input CreateExecutionContextInput
	// Since is a server time before the request was sent, and after the
	// creation of every context the server held before: its context, if it
	// made one, was created after Since. AdoptLostCreate narrows it.
	Since time.Time
	// sentAt is the local time the request was sent: the server's clock
	// then was at least its later readings minus the time passed since.
	sentAt time.Time
	err    error
}

func (e *LostCreateError) Error() string { return e.err.Error() }
func (e *LostCreateError) Unwrap() error { return e.err }

// narrow raises Since to the server's latest known time minus the time that
// passed locally since the request was sent, when that is later.
func (e *LostCreateError) narrow(c *Client) {
	if bound := c.server.now().Add(-c.clock.Now().Sub(e.sentAt)); bound.After(e.Since) {
		e.Since = bound
	}
}

// AdoptLostCreate looks for the context a lost create may have made and
// claims it: a context with exactly its arguments, created since it was sent
// (by the server's clock, so nothing made before it can be taken), that this
// client has not claimed. It returns nil, and no error, when there is none.
//
// Contexts with the same arguments are interchangeable, so when several
// match, the oldest is taken and the others are left to the lost creates
// they belong to. The oldest, because every lost create's window is "after it
// was sent": a create sent later cannot take an older context, and taking
// the oldest a create can take leaves every later window what it needs,
// whatever order the searches run in.
//
// The search runs alone among the creates with the same arguments (see
// claims), so it never takes a context whose create is still to be answered.
func (c *Client) AdoptLostCreate(ctx context.Context, lost *LostCreateError) (*ExecutionContext, error) {
	turn, err := c.holdTurn(ctx, lost.Input, searchWeight)
	if err != nil {
		return nil, err
	}
	defer turn.release()
	lost.narrow(c)
	found, err := c.findCreated(ctx, lost.Input, lost.Since)
	if err != nil {
		return nil, err
	}
	lost.narrow(c) // the search's own answers tell the server's time
	slices.SortStableFunc(found, func(a, b *ExecutionContext) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, ec := range found {
		if ec.CreatedAt.After(lost.Since) && turn.claim(ctx, ec.ID) {
			return ec, nil
		}
	}
	return nil, nil
}

// findCreated lists the contexts with exactly in's arguments created after
// since.
//
// The list is newest activity first and a context is never active before it
// is created, so the walk stops at the first context last active before
// since: it reads the front of the list, not all of it.
func (c *Client) findCreated(ctx context.Context, in CreateExecutionContextInput, since time.Time) ([]*ExecutionContext, error) {
	scope := WalkInput{AgentID: deref(in.AgentID), ContextGroup: in.ContextGroup}
	var found []*ExecutionContext
	for ec, err := range c.ExecutionContexts(ctx, scope) {
		if err != nil {
			return nil, err
		}
		if ec.LastActivityAt.Before(since) {
			break
		}
		if ec.CreatedAt.After(since) && in.matches(ec) {
			found = append(found, ec)
		}
	}
	return found, nil
}

// matches reports whether ec holds what a create with in would have set.
func (in CreateExecutionContextInput) matches(ec *ExecutionContext) bool {
	return ec.Title == deref(in.Title) &&
		equalPtr(ec.SystemInstructions, in.SystemInstructions) &&
		equalPtr(ec.ContextGroup, in.ContextGroup) &&
		equalPtr(ec.AgentID, in.AgentID)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func equalPtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
