package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

// protoV6 serves the provider in-process to the Terraform CLI that
// terraform-plugin-testing drives, as main.go serves it.
var protoV6 = map[string]func() (tfprotov6.ProviderServer, error){
	"wacht": NewProtocol6Server("test"),
}

// testServer starts the local Wacht server on loopback for one test, with
// the documented limits, and an agent to own contexts.
type testServer struct {
	*localserver.Server
	agentID string
}

func startServer(t *testing.T, opts localserver.Options) testServer {
	t.Helper()
	srv := localserver.StartTest(t, opts)
	return testServer{Server: srv, agentID: srv.AddAgent("support-bot", "answers tickets").ID}
}

// providerBlock configures the provider in HCL rather than through the
// environment, so tests can run in parallel against their own servers.
func (s testServer) providerBlock() string {
	return fmt.Sprintf("provider \"wacht\" {\n  api_key  = %q\n  base_url = %q\n}\n", s.APIKey(), s.URL())
}

// test runs steps with the real Terraform CLI against this server, and
// checks at the end that the destroy left no context behind.
func (s testServer) test(t *testing.T, steps []resource.TestStep) {
	t.Helper()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             s.destroyed,
		Steps:                    steps,
	})
}

// preCheck starts every acceptance test, the ones resource.Test runs and the
// ones driving the CLI themselves: without TF_ACC they skip, as resource.Test
// does, before any work whose result they check; with it they fail loudly
// when the Terraform binary is missing.
func preCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: runs with TF_ACC=1, as `make test` sets")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH must name a Terraform binary: run the tests with `make test`")
	}
}

func TestProviderRefusesBadSettings(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	t.Setenv(envAPIKey, "")
	t.Setenv(envBaseURL, "")
	resourceBlock := "resource \"wacht_execution_context\" \"x\" {}\n"
	cases := []struct {
		name   string
		config string
		want   string
	}{
		{"empty key", fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"\"\n  base_url = %q\n}\n", srv.URL()), `(?s)Missing Wacht API key.*api_key.*WACHT_API_KEY`},
		{"a key of spaces", fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"   \"\n  base_url = %q\n}\n", srv.URL()), `(?s)Missing Wacht API key.*api_key`},
		{"no key at all", fmt.Sprintf("provider \"wacht\" {\n  base_url = %q\n}\n", srv.URL()), `(?s)Missing Wacht API key.*WACHT_API_KEY`},
		{"plain http off loopback", "provider \"wacht\" {\n  api_key  = \"k\"\n  base_url = \"http://api.wacht.dev\"\n}\n", `(?s)base_url.*plain http on a non-loopback\s+host`},
		{"credentials in the URL", "provider \"wacht\" {\n  api_key  = \"k\"\n  base_url = \"https://me:secret@api.wacht.dev\"\n}\n", `(?s)base_url.*me:xxxxx@.*must not carry\s+credentials`},
		{"bad timeout", fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"k\"\n  base_url = %q\n  request_timeout = \"soon\"\n}\n", srv.URL()), `(?s)request_timeout.*invalid duration`},
		{"bad burst", fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"k\"\n  base_url = %q\n  rate_limits = { delete = { per_minute = 50, burst = 0 } }\n}\n", srv.URL()), `(?s)rate_limits.delete.burst.*at least 1`},
		{"refused key", fmt.Sprintf("provider \"wacht\" {\n  api_key  = \"wrong\"\n  base_url = %q\n}\n", srv.URL()), `(?s)Error creating execution context.*HTTP 401.*The API key was refused`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config:      tc.config + resourceBlock,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// A setting unknown at plan time, such as a key from a resource yet to be
// created, defers the provider where the CLI allows it and is an error on
// that attribute where it does not.
func TestConfigureWithUnknownSettings(t *testing.T) {
	for _, deferralAllowed := range []bool{false, true} {
		server, err := NewProtocol6Server("test")()
		if err != nil {
			t.Fatal(err)
		}
		schema, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
		if err != nil {
			t.Fatal(err)
		}
		p := &protoServer{t: t}
		config := p.dynamic(schema.Provider.ValueType(), map[string]tftypes.Value{
			"api_key":  tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			"base_url": str("http://127.0.0.1:1"),
		})
		resp, err := server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{
			Config:             config,
			ClientCapabilities: &tfprotov6.ConfigureProviderClientCapabilities{DeferralAllowed: deferralAllowed},
		})
		if err != nil {
			t.Fatal(err)
		}
		if deferralAllowed {
			if len(resp.Diagnostics) != 0 {
				t.Errorf("deferral allowed: diagnostics %v, want none", resp.Diagnostics)
			}
			// The deferral shows on what the provider is then asked to do.
			read, err := server.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{
				TypeName:           "wacht_execution_context",
				Config:             p.dynamic(schema.DataSourceSchemas["wacht_execution_context"].ValueType(), map[string]tftypes.Value{"id": str("1")}),
				ClientCapabilities: &tfprotov6.ReadDataSourceClientCapabilities{DeferralAllowed: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			if read.Deferred == nil || read.Deferred.Reason != tfprotov6.DeferredReasonProviderConfigUnknown {
				t.Errorf("read after an unknown config: deferred %+v, diagnostics %v; want a deferral", read.Deferred, read.Diagnostics)
			}
			continue
		}
		if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Severity != tfprotov6.DiagnosticSeverityError ||
			resp.Diagnostics[0].Attribute.String() != tftypes.NewAttributePath().WithAttributeName("api_key").String() {
			t.Errorf("diagnostics %+v, want one error on api_key", resp.Diagnostics)
		}
	}
}
