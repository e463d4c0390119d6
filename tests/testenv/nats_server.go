package testenv

import (
	"os"
	"testing"

	"github.com/nats-io/nats.go"
)

// NATSServer is a nats-server -js of the test's own (see Server), whose
// store directory stays the same across restarts unless LoseStore
// empties it.
type NATSServer struct {
	*Server
	URL   string
	Store string
}

// StartNATSServer starts nats-server with JetStream on a free port and a
// store of its own, and kills it when the test ends.
func StartNATSServer(t testing.TB) *NATSServer {
	t.Helper()
	store := t.TempDir()
	s := StartServer(t, "nats-server",
		func(port string) []string { return []string{"-js", "-a", "127.0.0.1", "-p", port, "-sd", store} },
		func(addr string) bool { return jetStreamAnswers("nats://"+addr, nats.NoReconnect()) == nil })
	return &NATSServer{Server: s, URL: "nats://" + s.Addr, Store: store}
}

// LoseStore empties the store directory of a killed server, as a server
// restarted on a fresh disk would find it.
func (s *NATSServer) LoseStore() {
	s.t.Helper()
	if err := os.RemoveAll(s.Store); err != nil {
		s.t.Fatal(err)
	}
}
