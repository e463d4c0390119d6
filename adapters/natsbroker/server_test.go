package natsbroker

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"allocation/tests/testenv"
)

// natsServer is a nats-server of the test's own with JetStream, on a
// loopback port and store directory that stay the same across restarts,
// so that it can be killed under a subscriber's feet (the shared server
// is never touched).
type natsServer struct {
	URL   string
	t     testing.TB
	args  []string
	store string
	cmd   *exec.Cmd
	done  chan struct{}
}

func startNATSServer(t testing.TB) *natsServer {
	t.Helper()
	if testenv.SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	path, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatalf("nats-server not installed (scripts/ensure-services.sh installs it): %v", err)
	}
	_, port, _ := net.SplitHostPort(testenv.FreeAddr(t))
	s := &natsServer{t: t, URL: "nats://127.0.0.1:" + port, store: t.TempDir()}
	s.args = []string{path, "-js", "-a", "127.0.0.1", "-p", port, "-sd", s.store}
	t.Cleanup(s.Kill)
	s.Start()
	return s
}

// Start runs the server and waits until its JetStream answers.
func (s *natsServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.done = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	testenv.Eventually(s.t, 10*time.Second, "nats-server on "+s.URL+" answering", func() bool {
		select {
		case <-s.done:
			s.t.Fatalf("nats-server %v exited at start", s.args)
		default:
		}
		conn, err := nats.Connect(s.URL, nats.NoReconnect())
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
	})
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *natsServer) Kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// LoseStore empties the store directory of a killed server.
func (s *natsServer) LoseStore() {
	s.t.Helper()
	if err := os.RemoveAll(s.store); err != nil {
		s.t.Fatal(err)
	}
}
