package testenv

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server of the test's own, on a loopback port that
// stays the same across restarts, so that it can be killed and started
// again under a service's feet (the shared Redis is never touched).
type RedisServer struct {
	Addr string
	t    testing.TB
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedisServer starts redis-server with args (persistence options) on
// a free port, and kills it when the test ends.
func StartRedisServer(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	requireIntegration(t)
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed (scripts/ensure-services.sh installs it): %v", err)
	}
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	s := &RedisServer{t: t, Addr: net.JoinHostPort("127.0.0.1", port)}
	s.args = append([]string{path, "--port", port, "--bind", "127.0.0.1"}, args...)
	t.Cleanup(s.Kill)
	s.Start()
	return s
}

// Start runs the server and waits until it answers PING.
func (s *RedisServer) Start() {
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
	client := s.Client()
	defer client.Close()
	Eventually(s.t, 10*time.Second, "redis-server on "+s.Addr+" answering", func() bool {
		select {
		case <-s.done:
			s.t.Fatalf("redis-server %v exited at start", s.args)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return client.Ping(ctx).Err() == nil
	})
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *RedisServer) Kill() {
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

// Client is a client of this server that does not retry, so that a test
// sees each failure; the caller closes it.
func (s *RedisServer) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
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
