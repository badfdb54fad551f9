package wacht

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Agent is an AI agent of the deployment; contexts may belong to one.
type Agent struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Description   *string         `json:"description"`
	DeploymentID  string          `json:"deployment_id"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Configuration json.RawMessage `json:"configuration"`
}

// ListAgentsInput filters and pages one list call.
type ListAgentsInput struct {
	// Search matches a substring of the agent's name.
	Search string
	Limit  int
	Offset int
}

// AgentPage is one page of agents.
type AgentPage struct {
	Data    []Agent `json:"data"`
	HasMore bool    `json:"has_more"`
	Limit   int     `json:"limit"`
	Offset  int     `json:"offset"`
}

const agentsPath = "/ai/agents"

// ListAgents reads one page of agents.
func (c *Client) ListAgents(ctx context.Context, in ListAgentsInput) (*AgentPage, error) {
	q := pageQuery(in.Limit, in.Offset)
	setIf(q, "search", in.Search)
	page, err := readPage[AgentPage](ctx, c, agentRoutes, q)
	if err != nil {
		return nil, err
	}
	for i := range page.Data {
		if err := c.admit("agent "+page.Data[i].ID, page.Data[i].DeploymentID); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// Agents walks every page of the agents whose name contains search ("" for
// all) and yields each once, as walk does: agents created or deleted during
// the walk shift the offset pages.
func (c *Client) Agents(ctx context.Context, search string) iter.Seq2[*Agent, error] {
	read := func(ctx context.Context, limit, offset int) ([]Agent, bool, error) {
		page, err := c.ListAgents(ctx, ListAgentsInput{Search: search, Limit: limit, Offset: offset})
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}
	return walk(ctx, DefaultPageSize, read, func(*Agent) bool { return true })
}

func (a *Agent) listID() string { return a.ID }

// listOrder is zero: the contract gives the agent list no order, so a walk
// of agents relies on its anchors alone and has no catch-up read.
func (a *Agent) listOrder() time.Time { return time.Time{} }

// GetAgent reads one agent; a missing one matches ErrNotFound.
func (c *Client) GetAgent(ctx context.Context, id string) (*Agent, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	var out Agent
	path := agentsPath + "/" + url.PathEscape(id)
	if err := c.do(ctx, request{op: OpRead, method: http.MethodGet, path: path, idempotent: true, family: agentRoutes}, &out); err != nil {
		return nil, err
	}
	if out.ID != id {
		return nil, fmt.Errorf("GET %s: the answer is agent %q, not %s: is the base URL the Wacht API's?", path, truncate(out.ID, 32), id)
	}
	if err := c.admit("agent "+id, out.DeploymentID); err != nil {
		return nil, err
	}
	return &out, nil
}
