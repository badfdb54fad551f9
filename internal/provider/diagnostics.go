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
	var depErr *wacht.DeploymentError
	switch {
	case errors.Is(err, wacht.ErrUnauthorized):
		detail += "\n\nThe API key was refused. Check api_key in the provider block or the " + envAPIKey + " environment variable."
	case errors.Is(err, wacht.ErrForbidden):
		detail += fmt.Sprintf("\n\nThe API key lacks the permission for %s %s. Use a key whose role allows it.", action, subject)
	case errors.Is(err, wacht.ErrAPIMissing):
		detail += "\n\nCheck base_url in the provider block (or the " + envBaseURL + " environment variable): it must be the " +
			"root of the Wacht API, such as " + wacht.DefaultBaseURL + ", with no path after it. If it is right, this deployment's " +
			"backend has no execution-context API. Nothing was changed, and the state keeps what it tracks."
	case errors.As(err, &depErr) && depErr.Got == "":
		detail += fmt.Sprintf("\n\nThe key's deployment holds no context or agent that would show which deployment it is. If "+
			"the key is of deployment %s, set the provider's deployment_id = %q: it vouches for such a key. Nothing was "+
			"changed, and the state keeps what it tracks.", depErr.Expected, depErr.Expected)
	case errors.Is(err, wacht.ErrWrongDeployment):
		detail += "\n\nUse an API key of the deployment the state and the provider's deployment_id name, or check base_url. " +
			"Nothing was changed, and the state keeps what it tracks."
	case errors.Is(err, wacht.ErrRateLimited):
		detail += "\n\nThe API answered 429 (rate limited) until the operation's time ran out (its timeouts, or 30 minutes) or " +
			"Terraform was interrupted. 429 answers are waited out as the API asks and never count against max_retries. " +
			"Runs with one API key share its rate limit: lower -parallelism or the provider's rate_limits, or run fewer at once."
	}
	diags.AddError(summary, detail)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
