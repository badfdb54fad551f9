package wacht

import "net/http"

// maxIdleConnsPerHost keeps a connection for each request Terraform may have
// in flight at once (-parallelism, 10 by default, often raised): Go's default
// transport keeps 2, so a bulk apply or refresh closed and opened, with its
// TLS handshake, a connection for most of its requests.
const maxIdleConnsPerHost = 64

// newTransport is Go's default transport, keeping more idle connections.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}
