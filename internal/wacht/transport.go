package wacht

import "net/http"

// maxIdleConnsPerHost keeps a connection for each request Terraform may have
// in flight at once (-parallelism, 10 by default, often raised): Go's default
// transport keeps 2, so a bulk apply or refresh closed and opened, with its
// TLS handshake, a connection for most of its requests.
const maxIdleConnsPerHost = 64

// newTransport is Go's default transport, keeping more idle connections; a
// default transport the program replaced is used as it is.
func newTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}
