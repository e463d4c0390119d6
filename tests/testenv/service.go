package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is a main package built with the race detector the first time a
// test asks for it, once per test run.
type Binary struct {
	Package string // an import path, e.g. allocation/cmd/allocation

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the binary unless built already, failing the test if it
// does not build.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "testenv-binary-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, filepath.Base(b.Package))
		if out, err := exec.Command("go", "build", "-race", "-o", b.path, b.Package).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.Package, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Remove deletes the built binary (from TestMain, after the run).
func (b *Binary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// startedAt finds the address in the service's start-up log line.
var startedAt = regexp.MustCompile(`msg="allocation service started" http_addr=(\S+)`)

// Service is a running service binary; its output goes to Logs.
type Service struct {
	URL     string
	Logs    *LockedBuffer
	ExitErr error // set once Exited is closed
	Exited  chan struct{}
	t       testing.TB
	cmd     *exec.Cmd
}

// StartService runs the binary with env on a free port and waits until it
// answers /readyz 200. The process is killed at the end of the test if
// still running.
func StartService(t testing.TB, bin string, env map[string]string) *Service {
	t.Helper()
	s := LaunchService(t, bin, env)
	Eventually(t, 60*time.Second, "service ready", func() bool {
		if s.HasExited() {
			t.Fatalf("service exited during start-up: %v\n%s", s.ExitErr, s.Logs.String())
		}
		return s.Started() && s.Ready()
	})
	return s
}

// LaunchService runs the binary with env and returns at once, without
// waiting for start-up; URL stays empty until Started (a test that needs
// the port before gives HTTP_ADDR in env and sets URL). Unless env says
// otherwise the service listens on port 0 (the kernel picks a free port and
// the service logs it, at info: so LOG_LEVEL must not be above info) and
// logs at debug, as text. The process is killed at the end of the test if
// still running, and its logs shown if the test failed.
func LaunchService(t testing.TB, bin string, env map[string]string) *Service {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=debug", "LOG_FORMAT=text")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &Service{t: t, cmd: cmd, Logs: &LockedBuffer{}, Exited: make(chan struct{})}
	cmd.Stdout = s.Logs
	cmd.Stderr = s.Logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.ExitErr = cmd.Wait()
		close(s.Exited)
	}()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("service logs (%s):\n%s", s.URL, s.Logs.Tail(200))
		}
	})
	return s
}

// Started tells whether the service has logged that it serves, and sets
// URL from that line when it is not set.
func (s *Service) Started() bool {
	m := startedAt.FindStringSubmatch(s.Logs.String())
	if m != nil && s.URL == "" {
		s.URL = "http://" + m[1]
	}
	return m != nil
}

// Ready tells whether /readyz answers 200.
func (s *Service) Ready() bool {
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Signal sends sig to the process.
func (s *Service) Signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait returns the exit code once the process exits, failing the test
// after timeout.
func (s *Service) Wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case <-s.Exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		s.t.Fatalf("service did not exit within %s", timeout)
		return -1
	}
}

// HasExited tells whether the process has ended.
func (s *Service) HasExited() bool {
	select {
	case <-s.Exited:
		return true
	default:
		return false
	}
}

// Kill ends the process at once (SIGKILL) unless it has ended.
func (s *Service) Kill() {
	if !s.HasExited() {
		_ = s.cmd.Process.Kill()
		<-s.Exited
	}
}
