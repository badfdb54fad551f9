package wacht

import (
	"context"
	"time"
)

// FindCreatedExecutionContexts looks for contexts that a create with in may
// have made, for when its answer was lost (ErrOutcomeUnknown): contexts with
// exactly in's arguments, created at or after since. The caller decides what
// one match, none or several mean.
//
// The list is newest activity first and a context is never active before it
// is created, so the walk stops at the first context last active before
// since: it reads the front of the list, not all of it.
func (c *Client) FindCreatedExecutionContexts(ctx context.Context, in CreateExecutionContextInput, since time.Time) ([]*ExecutionContext, error) {
	scope := WalkInput{AgentID: deref(in.AgentID), ContextGroup: in.ContextGroup}
	var found []*ExecutionContext
	for ec, err := range c.ExecutionContexts(ctx, scope) {
		if err != nil {
			return nil, err
		}
		if ec.LastActivityAt.Before(since) {
			break
		}
		if !ec.CreatedAt.Before(since) && in.matches(ec) {
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
