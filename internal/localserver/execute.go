package localserver

import (
	"encoding/json"
	"net/http"
	"time"
)

// Handler of POST /ai/execution-contexts/{id}/execute. The emulator runs no
// agent: it only moves the context through the statuses a run would, and
// accepts agent_name without checking it.

type executeRequest struct {
	// AgentName is decoded only so that a non-string is refused with a 422.
	AgentName     *string                    `json:"agent_name"`
	ExecutionType map[string]json.RawMessage `json:"execution_type"`
}

type executeResponse struct {
	Status         string `json:"status"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// Variants of execution_type.
const (
	newMessage             = "new_message"
	userInputResponse      = "user_input_response"
	platformFunctionResult = "platform_function_result"
	cancelExecution        = "cancel"
)

func (s *Server) executeContext(r *http.Request, id string) (any, error) {
	var req executeRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	kind, err := executionType(req.ExecutionType)
	if err != nil {
		return nil, err
	}
	if kind == cancelExecution {
		// Cancelling stops an active run, which then counts as failed.
		_, err := s.updateOwnContext(id, func(c *ExecutionContext, now time.Time) {
			if activeStatus(c.Status) {
				c.setStatus(StatusFailed, now)
			}
		})
		return executeResponse{Status: "cancelled"}, err
	}
	resp := executeResponse{Status: "queued"}
	if kind == newMessage {
		resp.ConversationID = s.store.newID()
	}
	_, err = s.updateOwnContext(id, func(c *ExecutionContext, now time.Time) {
		c.setStatus(StatusRunning, now)
	})
	return resp, err
}

// executionType checks that exactly one known variant is given, with the
// fields it requires, and returns its name.
func executionType(given map[string]json.RawMessage) (string, error) {
	if len(given) != 1 {
		return "", errorf(http.StatusUnprocessableEntity,
			"execution_type: exactly one of new_message, user_input_response, platform_function_result, cancel is required")
	}
	var kind string
	var raw json.RawMessage
	for kind, raw = range given {
	}
	newBody, ok := variants[kind]
	if !ok {
		return "", errorf(http.StatusUnprocessableEntity, "execution_type: unknown variant %q", kind)
	}
	body := newBody()
	if err := decodeObject(raw, body); err != nil {
		return "", err
	}
	if field := body.missingField(); field != "" {
		return "", errorf(http.StatusUnprocessableEntity, "execution_type.%s: missing field `%s`", kind, field)
	}
	return kind, nil
}

// variantBody is the payload of one execution_type variant.
type variantBody interface {
	// missingField names a required field that is absent, or is "".
	missingField() string
}

var variants = map[string]func() variantBody{
	newMessage:             func() variantBody { return &newMessageBody{} },
	userInputResponse:      func() variantBody { return &messageBody{} },
	platformFunctionResult: func() variantBody { return &functionResultBody{} },
	cancelExecution:        func() variantBody { return &cancelBody{} },
}

type messageBody struct {
	Message *string `json:"message"`
}

func (b *messageBody) missingField() string { return missingIf(b.Message == nil, "message") }

type newMessageBody struct {
	messageBody
	Files []json.RawMessage `json:"files"`
}

type functionResultBody struct {
	ExecutionID *string         `json:"execution_id"`
	Result      json.RawMessage `json:"result"`
}

func (b *functionResultBody) missingField() string {
	return missingIf(b.ExecutionID == nil, "execution_id")
}

type cancelBody struct{}

func (*cancelBody) missingField() string { return "" }

func missingIf(absent bool, field string) string {
	if absent {
		return field
	}
	return ""
}
