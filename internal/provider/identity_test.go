package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/wacht-platform/terraform-provider-wacht/internal/localserver"
)

const contextType = "wacht_execution_context"

func TestIdentitySchemaListsID(t *testing.T) {
	p := startServer(t, localserver.Options{}).proto(t, protoSetup{})
	typ, ok := p.identityType(contextType).(tftypes.Object)
	if !ok || len(typ.AttributeTypes) != 1 || !typ.AttributeTypes["id"].Is(tftypes.String) {
		t.Fatalf("identity type = %s, want an object of the string id alone", typ)
	}
	resp, err := p.server.GetResourceIdentitySchemas(context.Background(), &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	attrs := resp.IdentitySchemas[contextType].IdentityAttributes
	if len(attrs) != 1 || attrs[0].Name != "id" || !attrs[0].RequiredForImport {
		t.Errorf("identity attributes = %+v, want id, required for import", attrs)
	}
}

// An import block with an identity (Terraform 1.12+) imports the context and
// the read that follows fills the state and hands the identity back.
func TestImportByIdentity(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	group := "support"
	ec := srv.AddContext(localserver.ExecutionContext{Title: "triage", ContextGroup: &group, AgentID: &srv.agentID})
	p := srv.proto(t, protoSetup{})
	identityType := p.identityType(contextType)
	stateType := p.schema.ResourceSchemas[contextType].ValueType()

	imported, err := p.server.ImportResourceState(context.Background(), &tfprotov6.ImportResourceStateRequest{
		TypeName: contextType,
		Identity: &tfprotov6.ResourceIdentityData{IdentityData: p.dynamic(identityType, map[string]tftypes.Value{"id": str(ec.ID)})},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.noErrors("ImportResourceState", imported.Diagnostics)
	if len(imported.ImportedResources) != 1 {
		t.Fatalf("%d imported resources, want 1", len(imported.ImportedResources))
	}
	res := imported.ImportedResources[0]
	if got := text(t, p.attributes(stateType, res.State)["id"]); got != ec.ID {
		t.Fatalf("imported state id = %q, want %s", got, ec.ID)
	}

	read, err := p.server.ReadResource(context.Background(), &tfprotov6.ReadResourceRequest{
		TypeName: contextType, CurrentState: res.State, CurrentIdentity: res.Identity,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.noErrors("ReadResource", read.Diagnostics)
	state := p.attributes(stateType, read.NewState)
	for name, want := range map[string]string{
		"id": ec.ID, "title": "triage", "context_group": "support", "agent_id": srv.agentID, "status": "idle",
		"deployment_id": srv.DeploymentID(),
	} {
		if got := text(t, state[name]); got != want {
			t.Errorf("state %s = %q, want %q", name, got, want)
		}
	}
	if !state["system_instructions"].IsNull() {
		t.Errorf("state system_instructions = %s, want null", state["system_instructions"])
	}
	if read.NewIdentity == nil {
		t.Fatal("read returned no identity")
	}
	if got := text(t, p.attributes(identityType, read.NewIdentity.IdentityData)["id"]); got != ec.ID {
		t.Errorf("identity id = %q, want %s", got, ec.ID)
	}
}

// A bad id in an identity is refused before any request is sent with it.
func TestImportByIdentityRefusesBadIDs(t *testing.T) {
	srv := startServer(t, localserver.Options{})
	p := srv.proto(t, protoSetup{})
	identityType := p.identityType(contextType)
	for _, id := range []string{"../agents/1", "ctx_123", "0", ""} {
		resp, err := p.server.ImportResourceState(context.Background(), &tfprotov6.ImportResourceStateRequest{
			TypeName: contextType,
			Identity: &tfprotov6.ResourceIdentityData{IdentityData: p.dynamic(identityType, map[string]tftypes.Value{"id": str(id)})},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, resp.Diagnostics, `(?s)Invalid import id.*decimal integer`)
	}
	if n := srv.Count("GET", localserver.ContextRoute, -1); n != 0 {
		t.Errorf("%d GET requests sent for bad ids, want none", n)
	}
}
