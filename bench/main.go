// Command allocation-bench measures the allocation service end to end: it
// starts the real service binary for each store/broker configuration,
// drives closed-loop HTTP load at a fixed concurrency on a realistic mix of
// skus, times the external event round trip (change_batch_quantity in,
// line_allocated out) and, for PostgreSQL, measures the ceiling: the same
// database work issued directly through database/sql. It writes a JSON
// results file and the results section of BENCHMARKS.md.
//
//	allocation-bench -binary bin/allocation                 # the benchmark (make bench)
//	allocation-bench -scenarios flash,history               # only issue 12's scenarios (about a minute)
//
// Scenarios (-scenarios): uniform is the mixed load with the event round
// trip, the event backlog and the ceiling; flash is the flash sale (one
// and five hot skus, one and two service processes on one database);
// history is allocation latency on a product with a long history against
// a fresh one. A run of fewer than all of them writes no results or
// Markdown unless asked to (-results, -markdown): it would replace the full
// run's figures with a part of them.
//
// Everything it creates is its own: a fresh PostgreSQL schema per service
// run, dropped afterwards, and a unique topic prefix on Redis, whose
// streams are deleted afterwards. It only talks to 127.0.0.1.
//
// It talks to the service only as other programs do (HTTP, the brokers,
// the database), so it has a module of its own and the service's module
// does not carry its dependencies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	settings := runtimeSettings(os.Getenv, runtime.GOMAXPROCS(0))
	applyRuntimeSettings(settings)
	os.Exit(benchMain(os.Args[1:], settings, os.Stdout, os.Stderr))
}

// runtimeSettings are the GOGC and GOMAXPROCS that README recommends for
// a small machine (at least 4 Ps, as the service shares its cores with
// PostgreSQL and Redis), as KEY=VALUE, each unless the environment sets
// it; procs is Go's default.
func runtimeSettings(getenv func(string) string, procs int) []string {
	var env []string
	if getenv("GOGC") == "" {
		env = append(env, "GOGC=400")
	}
	if getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(max(4, procs)))
	}
	return env
}

// applyRuntimeSettings gives the load generator and the ceiling's client
// the services' settings, so that the ceiling is not handicapped.
func applyRuntimeSettings(env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "GOGC":
			debug.SetGCPercent(n)
		case "GOMAXPROCS":
			runtime.GOMAXPROCS(n)
		}
	}
}

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
		case broker != "memory" && broker != "redis" && broker != "sql":
			return nil, fmt.Errorf("configuration %q: broker must be memory, redis or sql", part)
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
	configs := fs.String("configs", "memory/memory,postgres/redis,postgres/sql", "comma-separated STORE/BROKER configurations to run")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run: uniform (mixed load, round trip, ceiling), flash (flash sale; PostgreSQL store with Redis or SQL broker), history (allocation on a product with a long history)")
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

func benchMain(args []string, runtimeEnv []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, runtimeEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "allocation-bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	results, err := run(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "allocation-bench: %v\n", err)
		return 1
	}
	if err := writeOutputs(o, results, stdout); err != nil {
		fmt.Fprintf(stderr, "allocation-bench: %v\n", err)
		return 1
	}
	return 0
}

// run measures every configuration in turn; nothing overlaps, so each
// configuration has the whole machine.
func run(ctx context.Context, o options, stdout io.Writer) (*Results, error) {
	started := time.Now()
	if o.logDir == "" {
		dir, err := os.MkdirTemp("", "allocation-bench-")
		if err != nil {
			return nil, err
		}
		o.logDir = dir
	}
	results := &Results{
		Machine:  describeMachine(ctx, o),
		Settings: settingsOf(o),
		Command:  o.command,
		Started:  started.UTC().Format(time.RFC3339),
	}
	logf(stdout, "machine: %s, %d cores, %s; %s; %s", results.Machine.CPU, results.Machine.Cores, results.Machine.Go, results.Machine.PostgreSQL, results.Machine.Redis)
	logf(stdout, "service logs in %s", o.logDir)
	results.SpeedAtStart = probeAndLog(stdout, "at start")
	for _, cfg := range o.configs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := &ConfigResult{Name: cfg.Name(), Store: cfg.Store, Broker: cfg.Broker}
		if o.scenarios.has(scenarioUniform) {
			var err error
			if res, err = runConfiguration(ctx, o, cfg, stdout); err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.Name(), err)
			}
		}
		if cfg.hasHotProductScenarios() && (o.scenarios.has(scenarioFlash) || o.scenarios.has(scenarioHistory)) {
			if err := runHotProductScenarios(ctx, o, cfg, res, stdout); err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.Name(), err)
			}
		}
		if res.uniform() || res.Flash != nil || res.History != nil {
			results.Configs = append(results.Configs, *res)
		}
	}
	if len(results.Configs) == 0 {
		return nil, errors.New("no configuration runs the scenarios asked for (flash and history need STORE=postgres with BROKER=redis or sql)")
	}
	results.SpeedAtEnd = probeAndLog(stdout, "at end")
	results.Seconds = time.Since(started).Seconds()
	return results, nil
}

// probeAndLog probes the machine's speed; a failed probe is logged and
// leaves the figure out.
func probeAndLog(stdout io.Writer, when string) *SpeedProbe {
	p, err := probeSpeed()
	if err != nil {
		logf(stdout, "speed probe %s failed: %v", when, err)
		return nil
	}
	logf(stdout, "speed %s: %s", when, p)
	return &p
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
