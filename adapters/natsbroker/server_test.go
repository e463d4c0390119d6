package natsbroker

import (
	"os"
	"testing"

	"github.com/nats-io/nats.go"

	"allocation/tests/testenv"
)

// natsServer is a nats-server of the test's own with JetStream (a
// testenv.Server), whose store directory stays across restarts until lost.
type natsServer struct {
	*testenv.Server
	URL   string
	t     testing.TB
	store string
}

func startNATSServer(t testing.TB) *natsServer {
	t.Helper()
	store := t.TempDir()
	server := testenv.StartServer(t, "nats-server",
		func(port string) []string { return []string{"-js", "-a", "127.0.0.1", "-p", port, "-sd", store} },
		jetStreamAnswers)
	return &natsServer{Server: server, URL: "nats://" + server.Addr, t: t, store: store}
}

// jetStreamAnswers tells whether the server at addr answers with JetStream.
func jetStreamAnswers(addr string) bool {
	conn, err := nats.Connect("nats://"+addr, nats.NoReconnect())
	if err != nil {
		return false
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		return false
	}
	_, err = js.AccountInfo()
	return err == nil
}

// LoseStore empties the store directory of a killed server.
func (s *natsServer) LoseStore() {
	s.t.Helper()
	if err := os.RemoveAll(s.store); err != nil {
		s.t.Fatal(err)
	}
}
