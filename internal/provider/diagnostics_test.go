package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// Each hint that addAPIError adds must fit the failure: advice that does
// not apply (raise max_retries for 429s, use another key when the key is
// right) sends users the wrong way.
func TestAPIErrorHintsFitTheFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		want, not string
	}{
		{
			"a key whose deployment cannot be told",
			&wacht.DeploymentError{What: "the API key", Expected: "42", Why: "recorded in the state"},
			`set the provider's deployment_id = "42"`, "Use an API key of the deployment",
		},
		{
			"a key of another deployment",
			&wacht.DeploymentError{What: "the API key", Got: "7", Expected: "42", Why: "recorded in the state"},
			"Use an API key of the deployment", "deployment_id =",
		},
		{
			"429s until the time ran out",
			fmt.Errorf("%w: %w", context.DeadlineExceeded, &wacht.APIError{Method: "GET", Path: "/ai/execution-contexts/5", StatusCode: 429}),
			"never count against max_retries", "raise max_retries",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags diag.Diagnostics
			addAPIError(&diags, "reading", resourceName, "5", tc.err)
			detail := diags[0].Detail()
			if !strings.Contains(detail, tc.want) || strings.Contains(detail, tc.not) {
				t.Errorf("detail %q: want %q in it, and not %q", detail, tc.want, tc.not)
			}
		})
	}
}

// A delete cut short by an interrupt or its timeout says that a delete
// already sent may have been carried out, not only "context canceled".
func TestAnInterruptedDeleteSaysItMayHaveHappened(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	client, err := wacht.New(wacht.Config{BaseURL: srv.URL(), APIKey: srv.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	id := srv.AddContext(localserver.ExecutionContext{Title: "t"}).ID
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want string
	}{
		{"interrupted", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, "Terraform interrupted the delete"},
		{"timed out", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, "gave up after the delete timeout of 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			var diags diag.Diagnostics
			deletion{client: client, id: id, timeout: time.Minute}.run(ctx, &diags)
			if !diags.HasError() {
				t.Fatal("no error")
			}
			detail := diags[0].Detail()
			for _, want := range []string{tc.want, "may have been carried out", "next refresh"} {
				if !strings.Contains(detail, want) {
					t.Errorf("detail %q does not say %q", detail, want)
				}
			}
		})
	}
	if len(srv.Contexts()) != 1 {
		t.Errorf("the context was deleted")
	}
}
