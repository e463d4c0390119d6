package testenv

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// Server is a server process of the test's own (redis-server,
// nats-server) on a loopback port that stays the same across restarts, so
// that it can be killed and started again under the code under test (the
// shared servers are never touched).
type Server struct {
	Addr  string // 127.0.0.1:port
	t     testing.TB
	args  []string
	ready func(addr string) bool
	cmd   *exec.Cmd
	done  chan struct{}
}

// StartServer runs program with the arguments args gives for a free port,
// waits until ready, and kills the server when the test ends.
func StartServer(t testing.TB, program string, args func(port string) []string, ready func(addr string) bool) *Server {
	t.Helper()
	requireIntegration(t)
	path, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s not installed (scripts/ensure-services.sh installs it): %v", program, err)
	}
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	s := &Server{t: t, Addr: net.JoinHostPort("127.0.0.1", port), args: append([]string{path}, args(port)...), ready: ready}
	t.Cleanup(s.Kill)
	s.Start()
	return s
}

// Start runs the server and waits until it is ready.
func (s *Server) Start() {
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
	Eventually(s.t, 10*time.Second, s.args[0]+" on "+s.Addr+" ready", func() bool {
		select {
		case <-s.done:
			s.t.Fatalf("%v exited at start", s.args)
		default:
		}
		return s.ready(s.Addr)
	})
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
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

// FreeAddr finds a loopback port nobody listens on (yet).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
