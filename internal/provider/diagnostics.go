package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// addAPIError reports a failed API call the way the AWS provider's error
// handling guide asks: the action, the resource and its id, then the API's
// own words, with a hint for the failures a user can act on.
func addAPIError(diags *diag.Diagnostics, action, resource, id string, err error) {
	subject := resource
	if id != "" {
		subject = fmt.Sprintf("%s %s", resource, id)
	}
	summary := fmt.Sprintf("Error %s %s", action, subject)
	detail := fmt.Sprintf("%s %s: %s", capitalize(action), subject, err)
	switch {
	case errors.Is(err, wacht.ErrUnauthorized):
		detail += "\n\nThe API key was refused. Check api_key in the provider block or the " + envAPIKey + " environment variable."
	case errors.Is(err, wacht.ErrForbidden):
		detail += fmt.Sprintf("\n\nThe API key lacks the permission for %s %s. Use a key whose role allows it.", action, subject)
	case errors.Is(err, wacht.ErrAPIMissing):
		detail += "\n\nCheck base_url in the provider block (or the " + envBaseURL + " environment variable): it must be the " +
			"root of the Wacht API, such as " + wacht.DefaultBaseURL + ", with no path after it. If it is right, this deployment's " +
			"backend has no execution-context API. Nothing was changed, and the state keeps what it tracks."
	case errors.Is(err, wacht.ErrWrongDeployment) && action == "creating":
		detail += "\n\nThe API made the context all the same, before its answer showed the deployment: it is kept in the " +
			"state, tainted, so that it is not lost. Use an API key of the deployment that deployment_id names (or correct " +
			"deployment_id), then apply again to replace it; or remove it from the state and delete it in Wacht."
	case errors.Is(err, wacht.ErrWrongDeployment):
		detail += "\n\nUse an API key of the deployment the state and the provider's deployment_id name, or check base_url. " +
			"Nothing was changed, and the state keeps what it tracks."
	case errors.Is(err, wacht.ErrRateLimited):
		detail += "\n\nThe API kept answering 429 after every retry. Lower -parallelism, lower the provider's rate_limits, or raise max_retries."
	}
	diags.AddError(summary, detail)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
