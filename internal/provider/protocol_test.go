package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// protoServer is the provider's tfprotov6 server called in-process, RPC by
// RPC, as Terraform calls it. Identities, list resources and actions need a
// newer CLI than CI has; at this level they are tested everywhere.
type protoServer struct {
	t      *testing.T
	server protocol6Server
	schema *tfprotov6.GetProviderSchemaResponse
}

// protoSetup configures a protoServer; zero values take the defaults.
type protoSetup struct {
	provider provider.Provider        // New("test")()
	baseURL  string                   // the test server's
	settings map[string]tftypes.Value // more provider settings, such as rate_limits
}

// proto serves the provider configured against the test server with its key.
func (s testServer) proto(t *testing.T, setup protoSetup) *protoServer {
	t.Helper()
	if setup.provider == nil {
		setup.provider = New("test")()
	}
	if setup.baseURL == "" {
		setup.baseURL = s.URL()
	}
	inner, err := providerserver.NewProtocol6WithError(setup.provider)()
	if err != nil {
		t.Fatal(err)
	}
	server, err := newReleasingServer(inner) // as main.go serves it
	if err != nil {
		t.Fatal(err)
	}
	p := &protoServer{t: t, server: server}
	p.schema, err = p.server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p.noErrors("GetProviderSchema", p.schema.Diagnostics)

	settings := map[string]tftypes.Value{"api_key": str(s.APIKey()), "base_url": str(setup.baseURL)}
	for k, v := range setup.settings {
		settings[k] = v
	}
	resp, err := p.server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.14.0",
		Config:           p.dynamic(p.schema.Provider.ValueType(), settings),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.noErrors("ConfigureProvider", resp.Diagnostics)
	return p
}

func str(s string) tftypes.Value   { return tftypes.NewValue(tftypes.String, s) }
func boolean(b bool) tftypes.Value { return tftypes.NewValue(tftypes.Bool, b) }

// object builds a value of the object type typ: the given attributes, and
// null for the others, as Terraform sends an attribute left out.
func object(typ tftypes.Object, given map[string]tftypes.Value) tftypes.Value {
	attrs := map[string]tftypes.Value{}
	for name, attrType := range typ.AttributeTypes {
		attrs[name] = tftypes.NewValue(attrType, nil)
		if v, ok := given[name]; ok {
			attrs[name] = v
		}
	}
	return tftypes.NewValue(typ, attrs)
}

func (p *protoServer) dynamic(typ tftypes.Type, given map[string]tftypes.Value) *tfprotov6.DynamicValue {
	p.t.Helper()
	obj, ok := typ.(tftypes.Object)
	if !ok {
		p.t.Fatalf("%s is not an object type", typ)
	}
	dv, err := tfprotov6.NewDynamicValue(typ, object(obj, given))
	if err != nil {
		p.t.Fatal(err)
	}
	return &dv
}

// attributes decodes an object sent back by the provider.
func (p *protoServer) attributes(typ tftypes.Type, dv *tfprotov6.DynamicValue) map[string]tftypes.Value {
	p.t.Helper()
	if dv == nil {
		p.t.Fatal("no value sent back")
	}
	v, err := dv.Unmarshal(typ)
	if err != nil {
		p.t.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		p.t.Fatal(err)
	}
	return attrs
}

// text reads a string attribute; null reads as "".
func text(t *testing.T, v tftypes.Value) string {
	t.Helper()
	var s *string
	if err := v.As(&s); err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return ""
	}
	return *s
}

func (p *protoServer) identityType(typeName string) tftypes.Type {
	p.t.Helper()
	resp, err := p.server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		p.t.Fatal(err)
	}
	s, ok := resp.IdentitySchemas[typeName]
	if !ok {
		p.t.Fatalf("no identity schema for %s", typeName)
	}
	return s.ValueType()
}

// diagText is every error diagnostic's summary, detail and attribute.
func diagText(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Severity != tfprotov6.DiagnosticSeverityError {
			continue
		}
		b.WriteString(d.Summary + ": " + d.Detail)
		if d.Attribute != nil {
			b.WriteString(" [at " + d.Attribute.String() + "]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (p *protoServer) noErrors(rpc string, diags []*tfprotov6.Diagnostic) {
	p.t.Helper()
	if text := diagText(diags); text != "" {
		p.t.Fatalf("%s: %s", rpc, text)
	}
}

// wantError checks that the diagnostics hold an error matching pattern.
func wantError(t *testing.T, diags []*tfprotov6.Diagnostic, pattern string) {
	t.Helper()
	text := diagText(diags)
	if text == "" {
		t.Fatalf("no error, want one matching %s", pattern)
	}
	if !regexp.MustCompile(pattern).MatchString(text) {
		t.Fatalf("error %q does not match %s", text, pattern)
	}
}
