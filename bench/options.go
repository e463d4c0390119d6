package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// The workload's fixed shape (BENCHMARKS.md, How the figures are taken);
// the rest is in options.
const (
	// Of the uniform load's skus: hot ones, taking hotShare of the
	// requests (contention), and scarce ones, taking scarceShare (out of
	// stock); order lines ask for 1..maxQty units.
	hotSKUs     = 5
	hotShare    = 0.10
	scarceSKUs  = 10
	scarceShare = 0.05
	maxQty      = 5
	// rtWarmup untimed round trips come before the timed ones; a wait for
	// one line_allocated ends after rtTimeout.
	rtWarmup  = 20
	rtTimeout = 10 * time.Second
	// drainTimeout is the longest wait, after the load, for its events.
	drainTimeout = 30 * time.Second
	// The flash sale: flashClients clients, stock of flashStockShare of
	// the round's orders, a round ends after flashRoundMax at most.
	flashClients    = 32
	flashStockShare = 0.75
	flashRoundMax   = 5 * time.Second
	// historyDuration is how long allocations alternate between the
	// long-history and the fresh product.
	historyDuration = 4 * time.Second
)

// options are the benchmark's settings; every one is a flag.
type options struct {
	binary      string
	serviceEnv  []string
	configs     []runConfig
	concurrency int
	warmup      time.Duration
	round       time.Duration
	rounds      int

	skus     int
	rtEvents int

	scenarios scenarioSet

	flashOrders int
	flashRounds int

	historyLines int

	ceilingRound time.Duration

	databaseURL     string
	redisAddr       string
	natsURL         string
	sqlPollInterval string

	resultsPath  string
	markdownPath string
	logDir       string
	command      string
}

// runConfig is one store/broker combination.
type runConfig struct {
	Store  string `json:"store"`
	Broker string `json:"broker"`
}

func (c runConfig) Name() string     { return c.Store + "/" + c.Broker }
func (c runConfig) postgres() bool   { return c.Store == "postgres" || c.Broker == "sql" }
func (c runConfig) hasCeiling() bool { return c.Store == "postgres" }

// hasHotProductScenarios: the flash sale and the long history are about
// the PostgreSQL store (the in-memory store has no conflicts between
// processes and loads nothing), and two processes share a broker only
// when it is outside them.
func (c runConfig) hasHotProductScenarios() bool {
	return c.Store == "postgres" && c.Broker != "memory"
}

// The scenarios a run can measure (-scenarios).
const (
	scenarioUniform = "uniform"
	scenarioFlash   = "flash"
	scenarioHistory = "history"
)

var allScenarios = []string{scenarioUniform, scenarioFlash, scenarioHistory}

// scenarioSet is the scenarios asked for; list gives them in
// allScenarios' order.
type scenarioSet map[string]bool

func parseScenarios(s string) (scenarioSet, error) {
	set := scenarioSet{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !slices.Contains(allScenarios, part) {
			return nil, fmt.Errorf("scenario %q: want one of %s", part, strings.Join(allScenarios, ", "))
		}
		set[part] = true
	}
	if len(set) == 0 {
		return nil, errors.New("no scenario to run")
	}
	return set, nil
}

func (s scenarioSet) has(name string) bool { return s[name] }
func (s scenarioSet) all() bool            { return len(s) == len(allScenarios) }

func (s scenarioSet) list() []string {
	var out []string
	for _, name := range allScenarios {
		if s[name] {
			out = append(out, name)
		}
	}
	return out
}

func parseConfigs(s string) ([]runConfig, error) {
	var out []runConfig
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		store, broker, ok := strings.Cut(part, "/")
		if !ok {
			return nil, fmt.Errorf("configuration %q: want STORE/BROKER, e.g. postgres/redis", part)
		}
		switch {
		case store != "memory" && store != "postgres":
			return nil, fmt.Errorf("configuration %q: store must be memory or postgres", part)
		case !slices.Contains([]string{"memory", "redis", "sql", "nats"}, broker):
			return nil, fmt.Errorf("configuration %q: broker must be memory, redis, sql or nats", part)
		}
		out = append(out, runConfig{Store: store, Broker: broker})
	}
	if len(out) == 0 {
		return nil, errors.New("no configuration to run")
	}
	return out, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseOptions reads the flags; runtimeEnv is the services' GOGC and
// GOMAXPROCS, which -service-env can override.
func parseOptions(args []string, runtimeEnv []string, stderr io.Writer) (options, error) {
	o := options{serviceEnv: slices.Clone(runtimeEnv)}
	fs := flag.NewFlagSet("allocation-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configs := fs.String("configs", "memory/memory,postgres/redis,postgres/sql,postgres/nats", "comma-separated STORE/BROKER configurations to run")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run: uniform (mixed load, round trip, ceiling), flash (flash sale; PostgreSQL store with a Redis, SQL or NATS broker), history (allocation on a product with a long history)")
	fs.StringVar(&o.binary, "binary", "bin/allocation", "the service binary to benchmark")
	fs.Func("service-env", "extra KEY=VALUE for the service's environment, e.g. GOGC=100 (repeatable; GOGC=400 and GOMAXPROCS=max(4, cores) unless set)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		o.serviceEnv = append(o.serviceEnv, s)
		return nil
	})
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent closed-loop HTTP clients (and ceiling workers)")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before the measured rounds")
	fs.DurationVar(&o.round, "round", 5*time.Second, "length of one measured round")
	fs.IntVar(&o.rounds, "rounds", 4, "measured rounds; the median is reported")
	fs.IntVar(&o.skus, "skus", 200, "skus per round (each with 3 batches), 5 hot and 10 scarce ones included")
	fs.IntVar(&o.rtEvents, "rt-events", 200, "timed external event round trips")
	fs.IntVar(&o.flashOrders, "flash-orders", 3000, "orders of 1 unit per flash-sale round, at most")
	fs.IntVar(&o.flashRounds, "flash-rounds", 2, "flash-sale rounds per case; the median is reported")
	fs.IntVar(&o.historyLines, "history-lines", 50_000, "allocated lines of the product with a long history")
	fs.DurationVar(&o.ceilingRound, "ceiling-round", 4*time.Second, "length of one ceiling round (same warm-up and number of rounds)")
	fs.StringVar(&o.databaseURL, "database-url", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/allocation_test?sslmode=disable"), "PostgreSQL database in which schemas are created (env TEST_DATABASE_URL)")
	fs.StringVar(&o.redisAddr, "redis-addr", envOr("TEST_REDIS_ADDR", "127.0.0.1:6379"), "Redis address (env TEST_REDIS_ADDR)")
	fs.StringVar(&o.natsURL, "nats-url", envOr("TEST_NATS_URL", "nats://127.0.0.1:4222"), "NATS server with JetStream (env TEST_NATS_URL)")
	fs.StringVar(&o.sqlPollInterval, "sql-poll-interval", "", "SQL_POLL_INTERVAL for the service and the round-trip subscriber; empty keeps the service default")
	fs.StringVar(&o.resultsPath, "results", "bench/results/results.json", "JSON results file; empty writes none")
	fs.StringVar(&o.markdownPath, "markdown", "BENCHMARKS.md", "Markdown file whose results section is rewritten; empty writes none")
	fs.StringVar(&o.logDir, "log-dir", "", "directory for the services' logs; empty: a temporary one")
	fs.StringVar(&o.command, "command", "make bench", "the command reported as reproducing the results")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.configs, err = parseConfigs(*configs); err != nil {
		return options{}, err
	}
	if o.scenarios, err = parseScenarios(*scenarios); err != nil {
		return options{}, err
	}
	if !o.scenarios.all() {
		// A partial run would replace the full run's figures with a part
		// of them: it writes only what it is asked to.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, path := range map[string]*string{"results": &o.resultsPath, "markdown": &o.markdownPath} {
			if !set[name] {
				*path = ""
			}
		}
	}
	switch {
	case o.concurrency < 1:
		return options{}, errors.New("-concurrency must be at least 1")
	case o.rounds < 1:
		return options{}, errors.New("-rounds must be at least 1")
	case o.round <= 0 || o.warmup < 0 || o.ceilingRound <= 0:
		return options{}, errors.New("-round and -ceiling-round must be positive, -warmup not negative")
	case o.skus <= hotSKUs+scarceSKUs:
		return options{}, errors.New("-skus must exceed the 15 hot and scarce ones")
	case o.flashOrders < 1 || o.flashRounds < 1 || o.historyLines < 1:
		return options{}, errors.New("-flash-orders, -flash-rounds and -history-lines must be positive")
	}
	return o, nil
}
