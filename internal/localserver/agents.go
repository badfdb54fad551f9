package localserver

import (
	"net/http"
	"strings"
)

// Handlers of /ai/agents, read-only.

func (s *Server) listAgents(r *http.Request, _ string) (any, error) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return nil, err
	}
	search := strings.ToLower(q.Get("search"))
	return paginate(s.store.listAgents(func(a Agent) bool {
		return s.owns(a.DeploymentID) && strings.Contains(strings.ToLower(a.Name), search)
	}), p), nil
}

func (s *Server) getAgent(_ *http.Request, id string) (any, error) {
	a, ok := s.ownAgent(id)
	if !ok {
		return nil, errAgentNotFound
	}
	return a, nil
}

// ownAgent returns an agent of the server's deployment.
func (s *Server) ownAgent(id string) (Agent, bool) {
	a, ok := s.store.agent(id)
	return a, ok && s.owns(a.DeploymentID)
}
