package localserver

import (
	"encoding/json"
	"fmt"
	"time"
)

// The methods below reach the store directly, for tests and seeding: no
// HTTP, no rate limits, no faults, no counters, every deployment visible.

// AddAgent stores a new agent of the server's deployment.
func (s *Server) AddAgent(name, description string) Agent {
	return s.store.addAgent(Agent{
		Name:          name,
		Description:   description,
		DeploymentID:  s.deploymentID,
		Configuration: json.RawMessage(`{}`),
	})
}

// Agents returns every agent, newest first.
func (s *Server) Agents() []Agent {
	return s.store.listAgents(func(Agent) bool { return true })
}

// AddContext stores c as is, filling an empty id, timestamps, status (idle)
// and deployment (the server's). It replaces a context with the same id.
func (s *Server) AddContext(c ExecutionContext) ExecutionContext {
	return s.store.addContext(c, s.deploymentID)
}

// Context returns the context with id.
func (s *Server) Context(id string) (ExecutionContext, bool) {
	return s.store.context(id)
}

// Contexts returns every context, in list order.
func (s *Server) Contexts() []ExecutionContext {
	return s.store.listContexts(func(ExecutionContext) bool { return true })
}

// SetStatus sets a context's status, as the platform does when an agent runs,
// and bumps its updated_at and last_activity_at.
func (s *Server) SetStatus(id, status string) error {
	if !knownStatus(status) {
		return fmt.Errorf("unknown status %q", status)
	}
	_, err := s.store.updateContext(id, func(c *ExecutionContext, now time.Time) error {
		c.setStatus(status, now)
		return nil
	})
	return err
}

// RemoveContext deletes a context whatever its status, reporting whether it
// existed.
func (s *Server) RemoveContext(id string) bool {
	return s.store.removeContext(id, func(ExecutionContext) error { return nil }) == nil
}
