package localserver_test

import (
	"net/http"
	"testing"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

func TestExecuteQueues(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	path := "/ai/execution-contexts/" + ctx.ID + "/execute"

	r := c.do(http.MethodPost, path, `{"agent_name":"support-bot","execution_type":{"new_message":{"message":"hi","files":[]}}}`)
	wantStatus(t, r, http.StatusOK)
	queued := decode[struct {
		Status         string `json:"status"`
		ConversationID string `json:"conversation_id"`
	}](t, r)
	if queued.Status != "queued" || idNumber(t, queued.ConversationID) <= 0 {
		t.Errorf("new_message answer = %s", r.body)
	}
	got, _ := srv.Context(ctx.ID)
	if got.Status != localserver.StatusRunning || !got.LastActivityAt.After(ctx.LastActivityAt) {
		t.Errorf("after new_message: status %q last activity %v", got.Status, got.LastActivityAt)
	}

	if err := srv.SetStatus(ctx.ID, localserver.StatusWaitingForInput); err != nil {
		t.Fatal(err)
	}
	r = c.do(http.MethodPost, path, `{"execution_type":{"user_input_response":{"message":"yes"}}}`)
	wantStatus(t, r, http.StatusOK)
	if r.body != `{"status":"queued"}` {
		t.Errorf("user_input_response answer = %s", r.body)
	}
	if got, _ := srv.Context(ctx.ID); got.Status != localserver.StatusRunning {
		t.Errorf("after user_input_response: status %q", got.Status)
	}

	r = c.do(http.MethodPost, path, `{"execution_type":{"platform_function_result":{"execution_id":"9","result":{"ok":true}}}}`)
	wantStatus(t, r, http.StatusOK)
}

func TestExecuteCancelIdleContext(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	r := c.do(http.MethodPost, "/ai/execution-contexts/"+ctx.ID+"/execute", `{"execution_type":{"cancel":{}}}`)
	wantStatus(t, r, http.StatusOK)
	if got, _ := srv.Context(ctx.ID); got.Status != localserver.StatusIdle {
		t.Errorf("cancelling an idle context set status %q", got.Status)
	}
}

func TestExecuteRefusals(t *testing.T) {
	srv, c := startDefault(t)
	ctx := c.create(`{}`)
	path := "/ai/execution-contexts/" + ctx.ID + "/execute"
	for _, body := range []string{
		`{}`,
		`{"execution_type":null}`,
		`{"execution_type":{}}`,
		`{"execution_type":{"cancel":{},"new_message":{"message":"hi"}}}`,
		`{"execution_type":{"reboot":{}}}`,
		`{"execution_type":{"new_message":{}}}`,
		`{"execution_type":{"new_message":{"message":3}}}`,
		`{"execution_type":{"user_input_response":{}}}`,
		`{"execution_type":{"platform_function_result":{"result":1}}}`,
		`{"execution_type":{"cancel":null}}`,
		`{"execution_type":"cancel"}`,
	} {
		r := c.do(http.MethodPost, path, body)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422 (%s)", body, r.status, r.body)
			continue
		}
		wantError(t, r, http.StatusUnprocessableEntity, "")
	}
	if got, _ := srv.Context(ctx.ID); got.Status != localserver.StatusIdle || !got.UpdatedAt.Equal(ctx.UpdatedAt) {
		t.Errorf("refused executes changed the context: %+v", got)
	}
	wantError(t, c.do(http.MethodPost, "/ai/execution-contexts/5/execute", `{"execution_type":{"cancel":{}}}`),
		http.StatusNotFound, "Execution context not found")
}
