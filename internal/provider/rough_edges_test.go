package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// What a careless user types, and the one clear diagnostic each gets.

func TestAccImportOfAnEmptyIDSaysOnlyThat(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	c := newCLI(t, srv.providerBlock()+"resource \"wacht_execution_context\" \"x\" {}\n")
	out, err := c.run("import", "-no-color", "wacht_execution_context.x", "")
	if err == nil || !strings.Contains(out, "Invalid import id") || strings.Contains(out, "does not match the schema") {
		t.Errorf("import of \"\": err = %v, want only the invalid import id error:\n%s", err, out)
	}
}

func TestAccTimeoutsMustBePositive(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	for _, name := range []string{"create", "delete"} {
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { preCheck(t) },
			ProtoV6ProviderFactories: protoV6,
			Steps: []resource.TestStep{{
				Config:      srv.contextConfig(fmt.Sprintf("timeouts {\n    %s = \"-5m\"\n  }", name)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid timeout.*timeouts.` + name + `: "-5m" is not a positive\s+duration`),
			}},
		})
	}
	if n := len(srv.Contexts()); n != 0 {
		t.Errorf("%d contexts were made with a refused timeout", n)
	}
}

func TestAccAWrongHostIsNoUnknownAgent(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	baseURL := jsonNotFoundEverywhere(t)
	c := newCLI(t, fmt.Sprintf("provider \"wacht\" {\n  api_key  = %q\n  base_url = %q\n}\n", srv.APIKey(), baseURL)+
		fmt.Sprintf("resource \"wacht_execution_context\" \"x\" {\n  agent_id = %q\n}\n", srv.agentID))
	c.fails([]string{"apply", "-auto-approve", "-no-color"}, "Error creating execution context", "base_url", baseURL+"/ai/execution-contexts")
	if out, _ := c.run("show", "-no-color"); strings.Contains(out, "wacht_execution_context") {
		t.Errorf("a failed create left a resource in the state:\n%s", out)
	}
	if out, _ := c.run("apply", "-auto-approve", "-no-color"); strings.Contains(out, "Unknown agent") {
		t.Errorf("a wrong host reads as an unknown agent:\n%s", out)
	}
}

func TestAccARateLimitSwitchedOffNeedsNoBurst(t *testing.T) {
	srv := startServer(t, localserver.Options{DisableLimits: true})
	settings := "  rate_limits = { read = { per_minute = 0, burst = 0 } }\n"
	srv.test(t, []resource.TestStep{{
		Config: srv.providerWith(settings) + "resource \"wacht_execution_context\" \"test\" {}\n",
		Check:  resource.TestCheckResourceAttrSet(ctxAddr, "id"),
	}})
}

func TestForbiddenDiagnosticsNameWhatWasRefused(t *testing.T) {
	forbidden := &wacht.APIError{Method: http.MethodGet, Path: "/ai/agents", StatusCode: http.StatusForbidden, Message: "Permission denied for this resource"}
	var diags diag.Diagnostics
	addAPIError(&diags, "searching", "agents named", `"support-bot"`, forbidden)
	if detail := diags[0].Detail(); !strings.Contains(detail, `lacks the permission for searching agents named "support-bot".`) {
		t.Errorf("detail = %q", detail)
	}
	if !errors.Is(forbidden, wacht.ErrForbidden) {
		t.Fatal("a 403 is not ErrForbidden")
	}
}

func TestUnknownSettingsAreNamedInSchemaOrder(t *testing.T) {
	var schema provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &schema)
	typ, ok := schema.Schema.Type().TerraformType(context.Background()).(tftypes.Object)
	if !ok {
		t.Fatal("the provider schema is no object")
	}
	attrs := map[string]tftypes.Value{}
	var want []string
	for name, attrType := range typ.AttributeTypes {
		attrs[name] = tftypes.NewValue(attrType, tftypes.UnknownValue)
		want = append(want, name)
	}
	slices.Sort(want)
	for range 20 { // a map's order would differ between runs
		if got := unknownAttributes(tftypes.NewValue(typ, attrs)); !slices.Equal(got, want) {
			t.Fatalf("unknownAttributes = %v, want %v", got, want)
		}
	}
}

func TestAccEmptySettingsFallBackToTheEnvironment(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	t.Setenv(envAPIKey, srv.APIKey())
	t.Setenv(envBaseURL, srv.URL())
	srv.test(t, []resource.TestStep{{
		Config: "provider \"wacht\" {\n  api_key  = \"\"\n  base_url = \"\"\n}\nresource \"wacht_execution_context\" \"test\" {}\n",
		Check: func(*terraform.State) error {
			if n := len(srv.Contexts()); n != 1 {
				return fmt.Errorf("the server at %s holds %d contexts, want the 1 applied", envBaseURL, n)
			}
			return nil
		},
	}})
}
