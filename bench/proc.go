package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// deployment is what the service processes of one configuration share,
// as replicas of one deployment would: the environment, with a fresh
// schema and, on Redis and NATS, a topic prefix of their own; cleanup removes what
// they created.
type deployment struct {
	env         map[string]string
	databaseURL string
	prefix      string
	cleanup     func() error
}

func newDeployment(ctx context.Context, o options, cfg runConfig) (*deployment, error) {
	d := &deployment{env: map[string]string{"STORE": cfg.Store, "BROKER": cfg.Broker, "LOG_LEVEL": "warn"}, cleanup: func() error { return nil }}
	if cfg.postgres() {
		schema, dropSchema, err := createSchema(ctx, o.databaseURL)
		if err != nil {
			return nil, err
		}
		d.cleanup = dropSchema
		d.databaseURL = withSearchPath(o.databaseURL, schema)
		d.env["DATABASE_URL"] = d.databaseURL
	}
	if o.sqlPollInterval != "" {
		d.env["SQL_POLL_INTERVAL"] = o.sqlPollInterval
	}
	// A SQL broker lives in the schema, which is already private; its
	// table names are limited to 63 bytes, so it gets no prefix.
	var deletePrefix func() error
	switch cfg.Broker {
	case "redis":
		d.env["REDIS_ADDR"] = o.redisAddr
		deletePrefix = func() error { return deleteRedisPrefix(o.redisAddr, d.prefix) }
	case "nats":
		d.env["NATS_URL"] = o.natsURL
		deletePrefix = func() error { return deleteNATSPrefix(o.natsURL, d.prefix) }
	}
	if deletePrefix != nil {
		d.prefix = "bench" + randomHex(4) + "."
		d.env["TOPIC_PREFIX"] = d.prefix
		dropSchema := d.cleanup
		d.cleanup = func() error { return errors.Join(deletePrefix(), dropSchema()) }
	}
	return d, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// createSchema makes a fresh schema; cleanup drops it with everything in it.
func createSchema(ctx context.Context, databaseURL string) (string, func() error, error) {
	db, err := openDB(ctx, databaseURL)
	if err != nil {
		return "", nil, err
	}
	schema := "bench_" + randomHex(6)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, errors.Join(fmt.Errorf("creating schema: %w", err), db.Close())
	}
	cleanup := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		return errors.Join(err, db.Close())
	}
	return schema, cleanup, nil
}

// deleteRedisPrefix deletes the streams (and so the consumer groups) the
// run created under its prefix.
func deleteRedisPrefix(addr, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("listing redis keys %s*: %w", prefix, err)
	}
	if len(keys) == 0 {
		return nil
	}
	return client.Del(ctx, keys...).Err()
}

// deleteNATSPrefix deletes the streams (and so the consumers) the run
// created under its prefix: their names start with the prefix, its dots as
// dashes.
func deleteNATSPrefix(url, prefix string) error {
	conn, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		return err
	}
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, strings.ReplaceAll(prefix, ".", "-")) {
			err = errors.Join(err, js.DeleteStream(name))
		}
	}
	return err
}

// serviceProcess is a running service binary.
type serviceProcess struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	logFile *os.File
	exited  chan struct{}
	waitErr error
	stopped bool
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startService starts a service process; name (the configuration's, or
// one process's of several) names its log file.
func startService(ctx context.Context, o options, name string, env map[string]string) (*serviceProcess, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &serviceProcess{url: "http://" + addr, exited: make(chan struct{})}
	bin, err := filepath.Abs(o.binary)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("service binary: %w (build it with make build)", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HTTP_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, o.serviceEnv...)
	p.logPath = filepath.Join(o.logDir, strings.ReplaceAll(name, "/", "-")+".log")
	if p.logFile, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(err, p.logFile.Close())
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		return nil, errors.Join(err, p.stop(), p.logTail())
	}
	return p, nil
}

func (p *serviceProcess) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("service exited before it was ready: %v", p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service not ready within %s", timeout)
		}
	}
}

// stop asks the service to shut down (SIGTERM), as an operator would, and
// kills it if it does not within 30 s. Calling it again does nothing.
func (p *serviceProcess) stop() error {
	if p.stopped {
		return nil
	}
	p.stopped = true
	defer p.logFile.Close()
	select {
	case <-p.exited:
		return fmt.Errorf("service had exited: %v", p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Errorf("service stopped with %v (log %s)", p.waitErr, p.logPath)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("service did not stop within 30 s of SIGTERM; killed (log %s)", p.logPath)
	}
}

func (p *serviceProcess) pid() int { return p.cmd.Process.Pid }

// logTail returns the end of the service's log as an error, for context.
func (p *serviceProcess) logTail() error {
	data, err := os.ReadFile(p.logPath)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return fmt.Errorf("service log %s ends with:\n%s", p.logPath, data)
}
