package tests

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"allocation/tests/testenv"
)

// redisServer is a redis-server of the test's own, on a loopback port that
// stays the same across restarts, so that it can be killed and started
// again under the service's feet (the machine's Redis is never touched).
type redisServer struct {
	t    *testing.T
	addr string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts redis-server with args (persistence options) on
// a free port, and kills it when the test ends.
func startRedisServer(t *testing.T, args ...string) *redisServer {
	t.Helper()
	if testenv.SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed (scripts/ensure-services.sh installs it): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{t: t, addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.args = append([]string{path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1"}, args...)
	t.Cleanup(s.kill)
	s.start()
	return s
}

// start runs the server and waits until it answers PING.
func (s *redisServer) start() {
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
	client := s.client()
	defer client.Close()
	waitUntil(s.t, 10*time.Second, "redis-server on "+s.addr+" answering", func() bool {
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

// kill ends the server at once (SIGKILL), as a crash would.
func (s *redisServer) kill() {
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

func (s *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
}

func (s *redisServer) String() string { return fmt.Sprintf("redis-server on %s", s.addr) }
