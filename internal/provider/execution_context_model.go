package provider

import (
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// contextFields are the attributes every view of an execution context
// shares: the resource, and the data sources that read contexts.
type contextFields struct {
	ID                 types.String `tfsdk:"id"`
	Title              types.String `tfsdk:"title"`
	SystemInstructions types.String `tfsdk:"system_instructions"`
	ContextGroup       types.String `tfsdk:"context_group"`
	AgentID            types.String `tfsdk:"agent_id"`
	Status             types.String `tfsdk:"status"`
	DeploymentID       types.String `tfsdk:"deployment_id"`
	CreatedAt          types.String `tfsdk:"created_at"`
	UpdatedAt          types.String `tfsdk:"updated_at"`
	LastActivityAt     types.String `tfsdk:"last_activity_at"`
	CompletedAt        types.String `tfsdk:"completed_at"`
}

func newContextFields(ec *wacht.ExecutionContext) contextFields {
	return contextFields{
		ID:                 types.StringValue(ec.ID),
		Title:              types.StringValue(ec.Title),
		SystemInstructions: types.StringPointerValue(ec.SystemInstructions),
		ContextGroup:       types.StringPointerValue(ec.ContextGroup),
		AgentID:            types.StringPointerValue(ec.AgentID),
		Status:             types.StringValue(string(ec.Status)),
		DeploymentID:       types.StringValue(ec.DeploymentID),
		CreatedAt:          timestamp(ec.CreatedAt),
		UpdatedAt:          timestamp(ec.UpdatedAt),
		LastActivityAt:     timestamp(ec.LastActivityAt),
		CompletedAt:        timestampPointer(ec.CompletedAt),
	}
}

func timestamp(t time.Time) types.String {
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}

func timestampPointer(t *time.Time) types.String {
	if t == nil {
		return types.StringNull()
	}
	return timestamp(*t)
}

// contextFieldDescriptions documents the shared attributes once, for the
// resource and the data sources alike.
var contextFieldDescriptions = map[string]string{
	"id":                  "The context's id, a decimal integer.",
	"title":               "Title of the context.",
	"system_instructions": "System instructions given to the agent in this context.",
	"context_group":       "Free-form group used to organise contexts and filter lists.",
	"agent_id":            "Id of the agent that owns the context.",
	"status": "Current status: `idle`, `running`, `waiting_for_input`, `interrupted`, `completed` or `failed`. " +
		"A context that is `running` or `waiting_for_input` is in use and cannot be deleted.",
	"deployment_id":    "Id of the Wacht deployment the context belongs to (that of the API key).",
	"created_at":       "When the context was created (RFC 3339).",
	"updated_at":       "When the context was last changed (RFC 3339).",
	"last_activity_at": "When the context was last active (RFC 3339). Lists are ordered by it, newest first.",
	"completed_at":     "When the context completed (RFC 3339), or null.",
}
