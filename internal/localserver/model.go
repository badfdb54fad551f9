package localserver

import (
	"encoding/json"
	"time"
)

// Context statuses. running and waiting_for_input are active: a context in
// either is in use and cannot be deleted.
const (
	StatusIdle            = "idle"
	StatusRunning         = "running"
	StatusWaitingForInput = "waiting_for_input"
	StatusInterrupted     = "interrupted"
	StatusCompleted       = "completed"
	StatusFailed          = "failed"
)

func knownStatus(s string) bool {
	switch s {
	case StatusIdle, StatusRunning, StatusWaitingForInput, StatusInterrupted, StatusCompleted, StatusFailed:
		return true
	}
	return false
}

func activeStatus(s string) bool {
	return s == StatusRunning || s == StatusWaitingForInput
}

// Agent is an agent of a deployment, as served by /ai/agents.
type Agent struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	DeploymentID  string          `json:"deployment_id"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Configuration json.RawMessage `json:"configuration"`
}

// ExecutionContext is the execution context object of the contract. Nullable
// fields are pointers or raw JSON so that every field is always encoded, as
// null when empty.
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
	Status                   string          `json:"status"`
	CompletedAt              *time.Time      `json:"completed_at"`
	ExecutionState           json.RawMessage `json:"execution_state"`
	Source                   *string         `json:"source"`
	ExternalContextID        *string         `json:"external_context_id"`
	ExternalResourceMetadata json.RawMessage `json:"external_resource_metadata"`
	CompletionSummary        json.RawMessage `json:"completion_summary"`
	// ParentContextID is a JSON number on the wire, unlike every other id.
	ParentContextID *int64 `json:"parent_context_id"`
}

// clone returns a copy sharing no memory with c, so that callers cannot
// change the store through the copies it hands out.
func (c ExecutionContext) clone() ExecutionContext {
	c.SystemInstructions = clonePtr(c.SystemInstructions)
	c.ContextGroup = clonePtr(c.ContextGroup)
	c.AgentID = clonePtr(c.AgentID)
	c.CompletedAt = clonePtr(c.CompletedAt)
	c.Source = clonePtr(c.Source)
	c.ExternalContextID = clonePtr(c.ExternalContextID)
	c.ParentContextID = clonePtr(c.ParentContextID)
	c.ExecutionState = cloneRaw(c.ExecutionState)
	c.ExternalResourceMetadata = cloneRaw(c.ExternalResourceMetadata)
	c.CompletionSummary = cloneRaw(c.CompletionSummary)
	return c
}

func (a Agent) clone() Agent {
	a.Configuration = cloneRaw(a.Configuration)
	return a
}

// setStatus writes a status, stamping completed_at on the first completion.
func (c *ExecutionContext) setStatus(status string, now time.Time) {
	c.Status = status
	if status == StatusCompleted && c.CompletedAt == nil {
		c.CompletedAt = &now
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneRaw(m json.RawMessage) json.RawMessage {
	if m == nil {
		return nil
	}
	return append(json.RawMessage(nil), m...)
}
