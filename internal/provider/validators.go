package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/wacht-platform/terraform-provider-wacht/internal/wacht"
)

// objectAsOptions reads nested objects strictly: every attribute must map.
var objectAsOptions = basetypes.ObjectAsOptions{}

// stringCheck adapts a Go check of a known string into a plan-time validator,
// so bad input is reported against its attribute before any request is made.
type stringCheck struct {
	summary     string
	description string
	check       func(string) error
}

func (v stringCheck) Description(context.Context) string         { return v.description }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.description }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, req.Path.String()+": "+err.Error()+".")
	}
}

// idValidator accepts the API's ids: decimal int64s.
func idValidator() validator.String {
	return stringCheck{
		summary:     "Invalid Wacht id",
		description: "must be a Wacht id: a positive decimal integer such as 7210948357125083136",
		check:       wacht.ValidateID,
	}
}

func baseURLValidator() validator.String {
	return stringCheck{
		summary:     "Invalid Wacht base URL",
		description: "must be an https:// URL, or http:// on a loopback host",
		check:       func(s string) error { _, err := wacht.ParseBaseURL(s); return err },
	}
}

func durationValidator() validator.String {
	return stringCheck{
		summary:     "Invalid duration",
		description: "must be a positive duration such as 30s or 2m",
		check: func(s string) error {
			d, err := time.ParseDuration(s)
			if err == nil && d <= 0 {
				return errors.New("the duration is not positive")
			}
			return err
		},
	}
}
