package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Status is an execution context's state.
type Status string

const (
	StatusIdle            Status = "idle"
	StatusRunning         Status = "running"
	StatusWaitingForInput Status = "waiting_for_input"
	StatusInterrupted     Status = "interrupted"
	StatusCompleted       Status = "completed"
	StatusFailed          Status = "failed"
)

// Statuses lists every status the API knows, in its documented order.
func Statuses() []Status {
	return []Status{StatusIdle, StatusRunning, StatusWaitingForInput, StatusInterrupted, StatusCompleted, StatusFailed}
}

// Active reports whether the context is in use: the API refuses to delete it.
func (s Status) Active() bool { return s == StatusRunning || s == StatusWaitingForInput }

// ExecutionContext is the API's object as it is on the wire: ids are strings
// holding decimal int64s, except parent_context_id, a JSON number (quirk).
type ExecutionContext struct {
	ID                       string          `json:"id"`
	CreatedAt                time.Time       `json:"created_at"`
	UpdatedAt                time.Time       `json:"updated_at"`
	LastActivityAt           time.Time       `json:"last_activity_at"`
	DeploymentID             string          `json:"deployment_id"`
	Title                    string          `json:"title"`
	SystemInstructions       *string         `json:"system_instructions"`
	ContextGroup             *string         `json:"context_group"`
	AgentID                  *string         `json:"agent_id"`
	Status                   Status          `json:"status"`
	CompletedAt              *time.Time      `json:"completed_at"`
	ExecutionState           json.RawMessage `json:"execution_state"`
	Source                   *string         `json:"source"`
	ExternalContextID        *string         `json:"external_context_id"`
	ExternalResourceMetadata json.RawMessage `json:"external_resource_metadata"`
	CompletionSummary        json.RawMessage `json:"completion_summary"`
	ParentContextID          *int64          `json:"parent_context_id"`
}

// CreateExecutionContextInput is the POST body; nil fields are left out.
type CreateExecutionContextInput struct {
	Title              *string `json:"title,omitempty"`
	SystemInstructions *string `json:"system_instructions,omitempty"`
	ContextGroup       *string `json:"context_group,omitempty"`
	AgentID            *string `json:"agent_id,omitempty"`
}

// UpdateExecutionContextInput is the PATCH body. Only non-nil fields are
// sent; the API cannot clear a field back to null, only set it to "".
type UpdateExecutionContextInput struct {
	Title              *string `json:"title,omitempty"`
	SystemInstructions *string `json:"system_instructions,omitempty"`
	ContextGroup       *string `json:"context_group,omitempty"`
	Status             *Status `json:"status,omitempty"`
}

// ListExecutionContextsInput filters and pages one list call. Empty filters
// are not sent, but for ContextGroup, which is sent whenever it is not nil
// ("" is the empty group); a zero Limit takes the server's default.
type ListExecutionContextsInput struct {
	AgentID      string
	Status       Status
	ContextGroup *string
	Limit        int
	Offset       int
}

// ExecutionContextPage is one page of a list. The API gives no total.
type ExecutionContextPage struct {
	Data    []ExecutionContext `json:"data"`
	HasMore bool               `json:"has_more"`
	Limit   int                `json:"limit"`
	Offset  int                `json:"offset"`
}

const contextsPath = "/ai/execution-contexts"

func contextPath(id string, rest ...string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	p := contextsPath + "/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p, nil
}

// CreateExecutionContext creates a context, which the client then claims. A
// create is never retried after an ambiguous failure: that error is a
// *LostCreateError, which matches ErrOutcomeUnknown. A context made in
// another deployment than the pinned one comes back with a *DeploymentError.
func (c *Client) CreateExecutionContext(ctx context.Context, in CreateExecutionContextInput) (*ExecutionContext, error) {
	if in.AgentID != nil {
		if err := ValidateID(*in.AgentID); err != nil {
			return nil, err
		}
	}
	if err := c.beforeWrite(ctx); err != nil {
		return nil, err
	}
	turn, err := c.holdTurn(ctx, in, 1)
	if err != nil {
		return nil, err
	}
	lost := &LostCreateError{Input: in}
	sending := func() { lost.Since, lost.sentAt = c.server.now(), c.clock.Now() }
	var out ExecutionContext
	err = c.do(ctx, request{op: OpCreate, method: http.MethodPost, path: contextsPath, body: in, family: contextRoutes, sending: sending}, &out)
	if err == nil {
		if idErr := ValidateID(out.ID); idErr != nil {
			// The API answered, so beforeWrite has seen it at this base URL: a
			// 200 that names no context (a proxy mangling the body) may well
			// have made one, to be looked for like any lost answer.
			err = fmt.Errorf("POST %s: %w: the answer names no execution context (%w)", contextsPath, ErrOutcomeUnknown, idErr)
		} else {
			turn.claim(ctx, out.ID) // before the turn ends: a search must not find it unclaimed
			c.server.observe(out.CreatedAt)
		}
	}
	turn.release()
	c.reads.forget()
	if errors.Is(err, ErrOutcomeUnknown) {
		lost.err = err
		return nil, lost
	}
	if err != nil {
		return nil, err
	}
	// The context exists whatever its deployment: it is returned with the
	// error, so that it is not lost.
	return &out, c.admit("created execution context "+out.ID, out.DeploymentID)
}

// GetExecutionContext reads one context; a missing one matches ErrNotFound.
func (c *Client) GetExecutionContext(ctx context.Context, id string) (*ExecutionContext, error) {
	return c.contextCall(ctx, OpRead, http.MethodGet, id, nil)
}

// UpdateExecutionContext PATCHes the fields set in in.
func (c *Client) UpdateExecutionContext(ctx context.Context, id string, in UpdateExecutionContextInput) (*ExecutionContext, error) {
	return c.contextCall(ctx, OpUpdate, http.MethodPatch, id, in)
}

func (c *Client) contextCall(ctx context.Context, op Operation, method, id string, body any) (*ExecutionContext, error) {
	path, err := contextPath(id)
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet {
		if err := c.beforeWrite(ctx); err != nil {
			return nil, err
		}
	}
	var out ExecutionContext
	err = c.do(ctx, request{op: op, method: method, path: path, body: body, idempotent: true, family: contextRoutes}, &out)
	if method != http.MethodGet {
		c.reads.forget()
	}
	if err != nil {
		return nil, err
	}
	if out.ID != id {
		return nil, fmt.Errorf("%s %s: the answer is execution context %q, not %s: is the base URL the Wacht API's?", method, path, truncate(out.ID, 32), id)
	}
	if err := c.admit("execution context "+id, out.DeploymentID); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteExecutionContext deletes a context for good. A context in use answers
// ErrConflict; one already gone answers ErrNotFound.
func (c *Client) DeleteExecutionContext(ctx context.Context, id string) error {
	path, err := contextPath(id)
	if err != nil {
		return err
	}
	if err := c.beforeWrite(ctx); err != nil {
		return err
	}
	defer c.reads.forget()
	err = c.do(ctx, request{op: OpDelete, method: http.MethodDelete, path: path, idempotent: true, family: contextRoutes}, nil)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	return c.confirmGone(ctx, id, err)
}

// confirmGone checks a delete's 404, notFound, with the context's own GET: a
// gateway that blocks deletes, or a backend without the delete route,
// answers 404 while the API still holds the context, and a delete taken
// for done would drop it from the state.
func (c *Client) confirmGone(ctx context.Context, id string, notFound error) error {
	_, err := c.GetExecutionContext(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound
	case err == nil:
		return fmt.Errorf("%s, yet its GET shows it is still there: the base URL's delete route is not the API's (a gateway refusing deletes?)", notFound)
	default:
		return fmt.Errorf("%s, and its GET, to confirm that it is gone, failed: %w", notFound, err)
	}
}

// CancelExecutionContext stops a running or waiting context through the
// execute route; the API then marks it failed. Cancelling twice is harmless,
// so the call is retried like an idempotent one.
func (c *Client) CancelExecutionContext(ctx context.Context, id string) error {
	path, err := contextPath(id, "execute")
	if err != nil {
		return err
	}
	body := map[string]any{"execution_type": map[string]any{"cancel": struct{}{}}}
	if err := c.beforeWrite(ctx); err != nil {
		return err
	}
	defer c.reads.forget()
	return c.do(ctx, request{op: OpUpdate, method: http.MethodPost, path: path, body: body, idempotent: true, family: contextRoutes}, nil)
}

// ListExecutionContexts reads one page. Use ExecutionContexts to walk them
// all.
func (c *Client) ListExecutionContexts(ctx context.Context, in ListExecutionContextsInput) (*ExecutionContextPage, error) {
	if in.AgentID != "" {
		if err := ValidateID(in.AgentID); err != nil {
			return nil, err
		}
	}
	q := pageQuery(in.Limit, in.Offset)
	setIf(q, "agent_id", in.AgentID)
	setIf(q, "status", string(in.Status))
	if in.ContextGroup != nil {
		q.Set("context_group", *in.ContextGroup)
	}
	page, err := readPage[ExecutionContextPage](ctx, c, contextRoutes, q)
	if err != nil {
		return nil, err
	}
	for i := range page.Data {
		if err := c.admit("execution context "+page.Data[i].ID, page.Data[i].DeploymentID); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// pageQuery is the query of one page; zero values take the server's
// defaults.
func pageQuery(limit, offset int) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// readPage reads one page of a family's list route.
func readPage[Page any](ctx context.Context, c *Client, fam *routeFamily, q url.Values) (*Page, error) {
	var page Page
	if err := c.do(ctx, request{op: OpRead, method: http.MethodGet, path: fam.list, query: q, idempotent: true, family: fam}, &page); err != nil {
		return nil, err
	}
	return &page, nil
}
