package localserver

import (
	"net/http"
	"net/url"
	"time"
)

// Handlers of /ai/execution-contexts. A context of another deployment is
// answered as absent, like the backend does.

type createContextRequest struct {
	Title              *string `json:"title"`
	SystemInstructions *string `json:"system_instructions"`
	ContextGroup       *string `json:"context_group"`
	AgentID            *string `json:"agent_id"`
}

// patchContextRequest has only pointers: absent and null both mean "no
// change", so a field can never be cleared back to null (quirk).
type patchContextRequest struct {
	Title              *string `json:"title"`
	SystemInstructions *string `json:"system_instructions"`
	ContextGroup       *string `json:"context_group"`
	Status             *string `json:"status"`
}

func (s *Server) owns(deploymentID string) bool { return deploymentID == s.deploymentID }

func (s *Server) listContexts(r *http.Request, _ string) (any, error) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return nil, err
	}
	ignore := s.ignoreFilters.Load()
	return paginate(s.store.listContexts(func(c ExecutionContext) bool {
		return s.owns(c.DeploymentID) && (ignore || contextMatches(q, c))
	}), p), nil
}

// SetIgnoreFilters makes the list route ignore its filters (agent_id,
// status, context_group), as a backend that does not know them would: a
// client must never act on more than it asked for.
func (s *Server) SetIgnoreFilters(ignore bool) { s.ignoreFilters.Store(ignore) }

func contextMatches(q url.Values, c ExecutionContext) bool {
	return filterMatches(q, "status", &c.Status) &&
		filterMatches(q, "context_group", c.ContextGroup) &&
		filterMatches(q, "agent_id", c.AgentID)
}

func (s *Server) createContext(r *http.Request, _ string) (any, error) {
	var req createContextRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	c := ExecutionContext{
		SystemInstructions: req.SystemInstructions,
		ContextGroup:       req.ContextGroup,
	}
	if req.Title != nil {
		c.Title = *req.Title
	}
	if req.AgentID != nil {
		// The contract does not say how an unknown agent is refused. It is a
		// 422 here, a validation failure of the body, because a 404 would
		// read as "no such route or context" to a client.
		if _, ok := s.ownAgent(*req.AgentID); !ok {
			return nil, errorf(http.StatusUnprocessableEntity, "agent not found")
		}
		c.AgentID = req.AgentID
	}
	return s.store.addContext(c, s.deploymentID), nil
}

func (s *Server) getContext(_ *http.Request, id string) (any, error) {
	c, ok := s.store.context(id)
	if !ok || !s.owns(c.DeploymentID) {
		return nil, errContextNotFound
	}
	return c, nil
}

func (s *Server) patchContext(r *http.Request, id string) (any, error) {
	var req patchContextRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return s.updateOwnContext(id, func(c *ExecutionContext, now time.Time) {
		if req.Title != nil {
			c.Title = *req.Title
		}
		if req.SystemInstructions != nil {
			c.SystemInstructions = req.SystemInstructions
		}
		if req.ContextGroup != nil {
			c.ContextGroup = req.ContextGroup
		}
		// An unknown status is silently ignored (quirk).
		if req.Status != nil && knownStatus(*req.Status) {
			c.setStatus(*req.Status, now)
		}
	})
}

func (s *Server) deleteContext(_ *http.Request, id string) (any, error) {
	err := s.store.removeContext(id, func(c ExecutionContext) error {
		switch {
		case !s.owns(c.DeploymentID):
			return errContextNotFound
		case activeStatus(c.Status):
			return errContextInUse
		}
		return nil
	})
	return struct{}{}, err
}

// updateOwnContext changes a context of the server's deployment.
func (s *Server) updateOwnContext(id string, change func(c *ExecutionContext, now time.Time)) (ExecutionContext, error) {
	return s.store.updateContext(id, func(c *ExecutionContext, now time.Time) error {
		if !s.owns(c.DeploymentID) {
			return errContextNotFound
		}
		change(c, now)
		return nil
	})
}
