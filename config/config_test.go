package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsServeInMemoryOn8080(t *testing.T) {
	c, err := Load("allocation", nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.Store != StoreMemory || c.Broker != BrokerMemory {
		t.Fatalf("defaults = %+v", c)
	}
	if c.OutboxPollInterval != 2*time.Millisecond || c.SQLPollInterval != 20*time.Millisecond || c.IdlePollInterval != time.Second {
		t.Fatalf("pollers poll every %v (relay) and %v (SQL), idle every %v; want 2ms, 20ms and 1s", c.OutboxPollInterval, c.SQLPollInterval, c.IdlePollInterval)
	}
	if c.DatabaseURL != "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" || c.RedisAddr != "127.0.0.1:6379" || c.SMTPAddr != "" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := Load("allocation", []string{"--broker", "sql", "--http-addr=:9000", "--sql-poll-interval", "50ms"},
		env(map[string]string{"BROKER": "redis", "STORE": "postgres", "HTTP_ADDR": ":7000"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker != BrokerSQL || c.Store != StorePostgres || c.HTTPAddr != ":9000" || c.SQLPollInterval != 50*time.Millisecond {
		t.Fatalf("got %+v", c)
	}
}

func TestUnknownValuesStopStartUp(t *testing.T) {
	cases := map[string]map[string]string{
		"STORE":             {"STORE": "mysql"},
		"BROKER":            {"BROKER": "kafka"},
		"LOG_LEVEL":         {"LOG_LEVEL": "loud"},
		"SQL_POLL_INTERVAL": {"SQL_POLL_INTERVAL": "soon"},
		// Idle polls less often than busy ones, never more often.
		"IDLE_POLL_INTERVAL": {"IDLE_POLL_INTERVAL": "10ms"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load("allocation", nil, env(vars), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want one naming %s", err, name)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := Load("allocation", []string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, v := range []string{"HTTP_ADDR", "STORE", "BROKER", "DATABASE_URL", "REDIS_ADDR", "SMTP_ADDR", "-http-addr", "-broker"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("help does not mention %s:\n%s", v, out.String())
		}
	}
}

func TestHTTPLimitsAndAdminToken(t *testing.T) {
	c, err := Load("allocation", nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "" {
		t.Fatalf("admin token by default = %q, want none (admin API off)", c.AdminToken)
	}
	if c.HTTPReadTimeout != 10*time.Second || c.HTTPWriteTimeout != 30*time.Second || c.HTTPIdleTimeout != 60*time.Second || c.HTTPMaxHeaderBytes != 16<<10 {
		t.Fatalf("HTTP limits = read %v, write %v, idle %v, headers %d", c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout, c.HTTPMaxHeaderBytes)
	}
	c, err = Load("allocation", []string{"--admin-token", "flag-token", "--http-idle-timeout", "5s"},
		env(map[string]string{"ADMIN_TOKEN": "env-token", "HTTP_READ_TIMEOUT": "3s", "HTTP_MAX_HEADER_BYTES": "4096"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "flag-token" || c.HTTPReadTimeout != 3*time.Second || c.HTTPIdleTimeout != 5*time.Second || c.HTTPMaxHeaderBytes != 4096 {
		t.Fatalf("got %+v", c)
	}
	for name, vars := range map[string]map[string]string{
		"HTTP_READ_TIMEOUT":     {"HTTP_READ_TIMEOUT": "0s"},
		"HTTP_WRITE_TIMEOUT":    {"HTTP_WRITE_TIMEOUT": "1s"}, // not longer than REQUEST_TIMEOUT
		"HTTP_MAX_HEADER_BYTES": {"HTTP_MAX_HEADER_BYTES": "10"},
	} {
		if _, err := Load("allocation", nil, env(vars), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: err = %v, want one naming %s", vars, err, name)
		}
	}
}
