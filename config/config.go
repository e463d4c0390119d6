// Package config reads the service's one typed configuration from
// environment variables, overridden by flags of the same name.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Store and broker choices.
const (
	StoreMemory   = "memory"
	StorePostgres = "postgres"

	BrokerMemory = "memory"
	BrokerRedis  = "redis"
	BrokerSQL    = "sql"
	BrokerNATS   = "nats"
)

// Config is everything the service can be told at start-up.
type Config struct {
	HTTPAddr    string
	Store       string
	Broker      string
	DatabaseURL string
	RedisAddr   string
	NATSURL     string
	SMTPAddr    string
	SMTPFrom    string
	NotifyTo    string
	TopicPrefix string
	LogFormat   string
	LogLevel    string
	// SQLPollInterval is how often a SQL subscriber polls while messages
	// flow: shorter polls cost more and delivered no faster, longer ones
	// add their latency to every hop (BENCHMARKS.md).
	SQLPollInterval time.Duration
	// OutboxPollInterval is how often the outbox relay looks for committed
	// events (STORE=postgres with BROKER=memory or redis).
	OutboxPollInterval time.Duration
	// IdlePollInterval is how often an idle poller polls (the outbox
	// relay; SQL subscribers of the service's own topics): one that has
	// found nothing for that long. This process's commits of messages wake
	// it at once.
	IdlePollInterval time.Duration
	ShutdownTimeout  time.Duration
	// RequestTimeout bounds an HTTP request and a command's transaction.
	RequestTimeout time.Duration
	// StartupTimeout bounds waiting for the store and broker at start-up.
	StartupTimeout time.Duration
	// DatabaseTimeout bounds connecting to PostgreSQL and each wait for
	// its answer, so that a frozen server fails calls instead of hanging.
	DatabaseTimeout time.Duration
	// RetryMax and RetryInitialInterval: how a message handler failing
	// with a transient error is retried before its message is parked.
	RetryMax             int
	RetryInitialInterval time.Duration
	// RetryMaxInterval caps the doubling wait between those retries.
	RetryMaxInterval time.Duration
	// OutageMaxElapsed is how long a message handler waits for a database
	// or broker that is away before its error counts as a failure, with
	// at most OutageMaxInterval between attempts: a restart or failover
	// is ridden out, and a message is parked only after a quarter of an
	// hour (it can be replayed from there). 0 turns waiting off.
	OutageMaxElapsed  time.Duration
	OutageMaxInterval time.Duration
	// ConflictRetries is how often a command runs again after an
	// optimistic-concurrency conflict, waiting ConflictRetryInitialInterval
	// doubling up to ConflictRetryMaxInterval: conflicts on a hot sku clear
	// in the time of one transaction, so short jittered waits are enough.
	ConflictRetries              int
	ConflictRetryInitialInterval time.Duration
	ConflictRetryMaxInterval     time.Duration
	// RedisPubSubBridge (BROKER=redis only) also speaks Redis Pub/Sub to
	// other services: the channel change_batch_quantity is taken into its
	// stream, and line_allocated is published on its channel too.
	RedisPubSubBridge bool
	// AdminToken enables /admin/*: requests must carry
	// "Authorization: Bearer <AdminToken>". Empty: /admin/* answers 403.
	AdminToken string
	// HTTPReadTimeout bounds reading a whole request (headers and body),
	// HTTPWriteTimeout writing its answer (from the end of the headers),
	// HTTPIdleTimeout how long a keep-alive connection waits for the next
	// request; HTTPMaxHeaderBytes bounds request headers.
	HTTPReadTimeout    time.Duration
	HTTPWriteTimeout   time.Duration
	HTTPIdleTimeout    time.Duration
	HTTPMaxHeaderBytes int
	// NATSReplicas is how many servers of a NATS cluster hold each stream.
	NATSReplicas int
}

// DefaultHTTPMaxHeaderBytes bounds request headers: ours are a few hundred
// bytes; net/http's own default is 1 MB.
const DefaultHTTPMaxHeaderBytes = 16 << 10

// setting is one variable: its environment name, its flag name, its help.
type setting struct {
	env, usage, def string
	target          *string
}

func (c *Config) settings() []setting {
	return []setting{
		{"HTTP_ADDR", "address the HTTP API listens on", ":8080", &c.HTTPAddr},
		{"STORE", "where products live: memory or postgres", StoreMemory, &c.Store},
		{"BROKER", "message broker: memory, redis, sql or nats", BrokerMemory, &c.Broker},
		{"DATABASE_URL", "PostgreSQL URL (STORE=postgres or BROKER=sql)", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", &c.DatabaseURL},
		{"REDIS_ADDR", "Redis address (BROKER=redis)", "127.0.0.1:6379", &c.RedisAddr},
		{"NATS_URL", "NATS server URL, or a comma-separated list of a cluster's (BROKER=nats)", "nats://127.0.0.1:4222", &c.NATSURL},
		{"SMTP_ADDR", "SMTP relay host:port for notifications; empty logs them", "", &c.SMTPAddr},
		{"SMTP_FROM", "sender of notification mails", "allocation@localhost", &c.SMTPFrom},
		{"NOTIFY_TO", "recipient of out-of-stock notifications", "stock@localhost", &c.NotifyTo},
		{"TOPIC_PREFIX", "prefix of every broker topic, to share one broker between deployments", "", &c.TopicPrefix},
		{"LOG_FORMAT", "log format: text or json", "text", &c.LogFormat},
		{"LOG_LEVEL", "log level: debug, info, warn or error", "info", &c.LogLevel},
		{"ADMIN_TOKEN", "bearer token that enables /admin/* (the poison queue); empty: /admin/* answers 403", "", &c.AdminToken},
	}
}

// flagName turns HTTP_ADDR into http-addr.
func flagName(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }

// fromEnv is the environment variable env parsed, or def when it is unset.
func fromEnv[T any](getenv func(string) string, env string, def T, parse func(string) (T, error), what string) (T, error) {
	v := getenv(env)
	if v == "" {
		return def, nil
	}
	parsed, err := parse(v)
	if err != nil {
		return def, fmt.Errorf("%s: %q is not %s", env, v, what)
	}
	return parsed, nil
}

// ErrHelp is returned when --help was asked for; the usage has been printed.
var ErrHelp = flag.ErrHelp

// Load reads the configuration: defaults, then the environment (getenv),
// then the flags in args. Usage and errors go to output.
func Load(name string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	for _, s := range c.settings() {
		value := s.def
		if v := getenv(s.env); v != "" {
			value = v
		}
		fs.StringVar(s.target, flagName(s.env), value, fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
	durations := []struct {
		env, usage string
		def        time.Duration
		target     *time.Duration
	}{
		{"SQL_POLL_INTERVAL", "how often a SQL subscriber that found nothing polls again, while messages flow (BROKER=sql)", 20 * time.Millisecond, &c.SQLPollInterval},
		{"OUTBOX_POLL_INTERVAL", "how often the outbox relay polls for committed events while they flow (STORE=postgres, BROKER=memory or redis)", 2 * time.Millisecond, &c.OutboxPollInterval},
		{"IDLE_POLL_INTERVAL", "how often the outbox relay and the SQL subscribers of the service's own topics poll once idle; this process's own commits wake them at once", time.Second, &c.IdlePollInterval},
		{"SHUTDOWN_TIMEOUT", "how long shutdown waits for requests and messages in flight", 20 * time.Second, &c.ShutdownTimeout},
		{"REQUEST_TIMEOUT", "how long an HTTP request (and a command's transaction) may take before it is answered 503", 5 * time.Second, &c.RequestTimeout},
		{"STARTUP_TIMEOUT", "how long start-up waits for the database and broker before it gives up", 60 * time.Second, &c.StartupTimeout},
		{"DATABASE_TIMEOUT", "how long connecting to PostgreSQL, and each wait for its answer, may take before the connection is dropped", 10 * time.Second, &c.DatabaseTimeout},
		{"HTTP_READ_TIMEOUT", "how long the HTTP server waits for a whole request, headers and body; a slower client is cut off", 10 * time.Second, &c.HTTPReadTimeout},
		{"HTTP_WRITE_TIMEOUT", "how long the HTTP server may take to write an answer, counted from the end of the request's headers; longer than REQUEST_TIMEOUT", 30 * time.Second, &c.HTTPWriteTimeout},
		{"HTTP_IDLE_TIMEOUT", "how long an idle keep-alive HTTP connection is kept open", 60 * time.Second, &c.HTTPIdleTimeout},
		{"RETRY_INITIAL_INTERVAL", "first wait before retrying a failed message (doubles each retry, at most 2s)", 100 * time.Millisecond, &c.RetryInitialInterval},
	}
	for _, d := range durations {
		value, err := fromEnv(getenv, d.env, d.def, time.ParseDuration, "a duration (e.g. 10ms, 2s)")
		if err != nil {
			return Config{}, err
		}
		fs.DurationVar(d.target, flagName(d.env), value, fmt.Sprintf("%s (env %s)", d.usage, d.env))
	}
	ints := []struct {
		env, usage string
		def        int
		target     *int
	}{
		{"RETRY_MAX", "retries of a message failing with a transient error before it is parked", 5, &c.RetryMax},
		{"HTTP_MAX_HEADER_BYTES", "largest request header block the HTTP server reads, in bytes", DefaultHTTPMaxHeaderBytes, &c.HTTPMaxHeaderBytes},
		{"NATS_REPLICAS", "servers of a NATS cluster that hold each stream, 1 to 5; 3 survives the loss of one (BROKER=nats)", 1, &c.NATSReplicas},
	}
	for _, i := range ints {
		value, err := fromEnv(getenv, i.env, i.def, strconv.Atoi, "an integer")
		if err != nil {
			return Config{}, err
		}
		fs.IntVar(i.target, flagName(i.env), value, fmt.Sprintf("%s (env %s)", i.usage, i.env))
	}
	bridge, err := fromEnv(getenv, "REDIS_PUBSUB_BRIDGE", true, strconv.ParseBool, "true or false")
	if err != nil {
		return Config{}, err
	}
	fs.BoolVar(&c.RedisPubSubBridge, "redis-pubsub-bridge", bridge,
		"with BROKER=redis, also take messages PUBLISHed on the Pub/Sub channel change_batch_quantity into its stream and PUBLISH line_allocated on its channel (env REDIS_PUBSUB_BRIDGE)")
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: %s [flags]\n       %s poison list|replay ... (see %s poison --help)\n\n"+
			"Every flag can also be set by the environment variable named in its help; flags win.\n\n", name, name, name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	// Policies, not settings: fixed here so that every layer takes them
	// from one place.
	c.RetryMaxInterval = 2 * time.Second
	c.OutageMaxElapsed, c.OutageMaxInterval = 15*time.Minute, 5*time.Second
	c.ConflictRetries, c.ConflictRetryInitialInterval, c.ConflictRetryMaxInterval = 10, time.Millisecond, 50*time.Millisecond
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.Validate()
}

// Validate refuses values the service cannot run with.
func (c Config) Validate() error {
	var errs []error
	oneOf := func(name, value string, allowed ...string) {
		for _, a := range allowed {
			if value == a {
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s=%q is not supported: use one of %s", name, value, strings.Join(allowed, ", ")))
	}
	oneOf("STORE", c.Store, StoreMemory, StorePostgres)
	oneOf("BROKER", c.Broker, BrokerMemory, BrokerRedis, BrokerSQL, BrokerNATS)
	oneOf("LOG_FORMAT", c.LogFormat, "text", "json")
	oneOf("LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("HTTP_ADDR must not be empty"))
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"REQUEST_TIMEOUT", c.RequestTimeout}, {"STARTUP_TIMEOUT", c.StartupTimeout}, {"DATABASE_TIMEOUT", c.DatabaseTimeout},
		{"HTTP_READ_TIMEOUT", c.HTTPReadTimeout}, {"HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout}, {"HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout}} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", d.name))
		}
	}
	if c.HTTPMaxHeaderBytes < 1024 {
		errs = append(errs, errors.New("HTTP_MAX_HEADER_BYTES must be at least 1024"))
	}
	if c.HTTPWriteTimeout > 0 && c.HTTPWriteTimeout <= c.RequestTimeout {
		errs = append(errs, errors.New("HTTP_WRITE_TIMEOUT must be longer than REQUEST_TIMEOUT, so that a request answered 503 at its deadline can still be written"))
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		errs = append(errs, errors.New("NATS_REPLICAS must be from 1 to 5"))
	}
	if c.RetryMax < 0 {
		errs = append(errs, errors.New("RETRY_MAX must not be negative"))
	}
	if c.RetryInitialInterval <= 0 {
		errs = append(errs, errors.New("RETRY_INITIAL_INTERVAL must be positive"))
	}
	if c.OutboxPollInterval <= 0 {
		errs = append(errs, errors.New("OUTBOX_POLL_INTERVAL must be positive"))
	}
	if c.IdlePollInterval < c.OutboxPollInterval || c.IdlePollInterval < c.SQLPollInterval {
		errs = append(errs, errors.New("IDLE_POLL_INTERVAL must not be shorter than OUTBOX_POLL_INTERVAL or SQL_POLL_INTERVAL"))
	}
	if c.SQLPollInterval <= 0 {
		errs = append(errs, errors.New("SQL_POLL_INTERVAL must be positive"))
	}
	return errors.Join(errs...)
}
