// Package wacht is a client for the Wacht execution-context API as described
// in the project's contract (shared/wacht-api.md).
//
// It knows nothing of Terraform: the provider wraps it. Everything that makes
// the client safe against the deployed API lives here, in one place: error
// parsing for both body shapes, retries, client-side rate limiting shared by
// every caller in the process, id validation and a pager that survives lists
// that shift while they are walked.
package wacht
