package localserver

import "testing"

// StartTest starts a server on a free loopback port for the duration of a
// test, failing the test if it cannot.
func StartTest(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("localserver: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("localserver: %v", err)
	}
	t.Cleanup(func() {
		// A test has finished with the server: nothing in flight matters.
		if err := s.stop(0); err != nil {
			t.Errorf("localserver: closing: %v", err)
		}
	})
	return s
}
