package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// clientFrom takes the client the provider configured. Nil data means the
// provider is not configured yet (validation runs before Configure).
func clientFrom(data any, diags *diag.Diagnostics) *wacht.Client {
	if data == nil {
		return nil
	}
	client, ok := data.(*wacht.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *wacht.Client, got %T. Please report this issue to the provider developers.", data))
	}
	return client
}
