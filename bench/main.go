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
// run, dropped afterwards, and a unique topic prefix on Redis and NATS,
// whose streams are deleted afterwards. It only talks to 127.0.0.1.
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
		return nil, errors.New("no configuration runs the scenarios asked for (flash and history need STORE=postgres with BROKER=redis, sql or nats)")
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
