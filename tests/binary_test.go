package tests

import (
	"bytes"
	"context"
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

// binaryPath is built once per test run by TestMain.
type builtBinary struct {
	once sync.Once
	path string
	err  error
}

func (b *builtBinary) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "allocation-e2e-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "allocation")
		cmd := exec.Command("go", "build", "-race", "-o", b.path, "../cmd/allocation")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// startedAt finds the address in the service's start-up log line.
var startedAt = regexp.MustCompile(`msg="allocation service started" http_addr=(\S+)`)

// process is a running service binary.
type process struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	logs    *syncBuffer
	exited  chan struct{}
	exitErr error
}

// startService runs the binary with env on a free port and waits until it
// is ready. The process is killed at the end of the test if still running.
func startService(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	p := launchService(t, bin, env)
	waitUntil(t, 60*time.Second, "service ready", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("service exited during start-up: %v\n%s", p.exitErr, p.logs.String())
		default:
		}
		if p.URL == "" {
			m := startedAt.FindStringSubmatch(p.logs.String())
			if m == nil {
				return false
			}
			p.URL = "http://" + m[1]
		}
		resp, err := http.Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// launchService runs the binary with env and returns at once, without
// waiting for start-up; URL stays empty (a test that needs the port before
// the service is ready gives HTTP_ADDR in env and sets URL). The process is
// killed at the end of the test if still running.
func launchService(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	// Port 0: the kernel picks a free port and the service logs it (at
	// info, so LOG_LEVEL must not be above info), so no other process can
	// take the port between choosing and listening.
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=debug", "LOG_FORMAT=text")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{t: t, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("service logs (%s):\n%s", p.URL, p.logs.tail(200))
		}
	})
	return p
}

func (p *process) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait returns the exit code once the process exits, failing after timeout.
func (p *process) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("service did not exit within %s", timeout)
		return -1
	}
}

func (p *process) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) tail(lines int) string {
	s := b.String()
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}
