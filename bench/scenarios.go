package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// runHotProductScenarios runs issue 12's scenarios for one configuration
// into res: the long history, then the flash sale on one process and on
// two. They get a deployment of their own (a fresh schema, a topic prefix
// of their own), so that the uniform load's products and its event
// backlog are not in their way, and the second process shares it with
// the first, as a replica behind a load balancer would.
func runHotProductScenarios(ctx context.Context, o options, cfg runConfig, res *ConfigResult, stdout io.Writer) (err error) {
	d, err := newDeployment(ctx, o, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.cleanup()) }()
	logf(stdout, "%s: starting a service for the hot-product scenarios", cfg.Name())
	one, err := startService(ctx, o, cfg.Name()+"-hot-1", d.env)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, one.stop()) }()

	if o.scenarios.has(scenarioHistory) {
		if res.History, err = measureHistory(ctx, o, one.url, d.databaseURL); err != nil {
			return errors.Join(fmt.Errorf("long history: %w", err), one.logTail())
		}
		logHistory(stdout, cfg, res.History)
	}
	if !o.scenarios.has(scenarioFlash) {
		return nil
	}
	logf(stdout, "%s: flash sale, %d cases of %d rounds (each at most %s)", cfg.Name(), len(flashCases), o.flashRounds, flashRoundMax)
	procs := []*serviceProcess{one}
	for _, c := range flashCases {
		if c.processes > len(procs) {
			logf(stdout, "%s: starting a second service process on the same database and broker", cfg.Name())
			two, startErr := startService(ctx, o, cfg.Name()+"-hot-2", d.env)
			if startErr != nil {
				return startErr
			}
			defer func() { err = errors.Join(err, two.stop()) }()
			procs = append(procs, two)
		}
		f, flashErr := measureFlashSale(ctx, o, cfg, c, procs[:c.processes], stdout)
		if flashErr != nil {
			return errors.Join(fmt.Errorf("flash sale, %s: %w", c, flashErr), one.logTail())
		}
		res.Flash = append(res.Flash, *f)
	}
	return nil
}

// runConfiguration measures half of the ceiling's rounds on a fresh
// schema, starts the service for one configuration, measures it and cleans
// up after it, then measures the other half of the ceiling's rounds: the
// machine's speed drifts over tens of seconds (BENCHMARKS.md, Noise), and
// a ceiling taken on both sides of the service is taken at its speed on
// average, not only at the speed of the minute after it.
func runConfiguration(ctx context.Context, o options, cfg runConfig, stdout io.Writer) (res *ConfigResult, err error) {
	res = &ConfigResult{Name: cfg.Name(), Store: cfg.Store, Broker: cfg.Broker}
	withCeiling := cfg.hasCeiling()
	ceilingBefore := o.rounds / 2
	var ceiling *CeilingResult
	if withCeiling && ceilingBefore > 0 {
		logf(stdout, "%s: ceiling before the service (database/sql, no HTTP, no bus)", cfg.Name())
		if ceiling, err = measureCeiling(ctx, o, cfg, stdout, 1, ceilingBefore); err != nil {
			return nil, fmt.Errorf("ceiling: %w", err)
		}
	}
	d, err := newDeployment(ctx, o, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, d.cleanup()) }()
	databaseURL, prefix := d.databaseURL, d.prefix

	logf(stdout, "%s: starting the service", cfg.Name())
	svc, err := startService(ctx, o, cfg.Name(), d.env)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, svc.stop()) }()

	// The round trip first, on the quiet service: after the load it
	// would also measure the load's event backlog (measured apart below).
	var rt *RoundTripResult
	if cfg.Broker != "memory" {
		if rt, err = measureRoundTrip(ctx, o, cfg, svc.url, databaseURL, prefix); err != nil {
			return nil, errors.Join(fmt.Errorf("round trip: %w", err), svc.logTail())
		}
	}

	load := newLoad(o, svc.url)
	rounds, err := load.measure(ctx, cfg, stdout, svc)
	if err != nil {
		return nil, errors.Join(err, svc.logTail())
	}
	res.Rounds = rounds
	res.HTTP = summarize(rounds)
	logf(stdout, "%s: HTTP median %.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %.3f%%",
		cfg.Name(), res.HTTP.Throughput, res.HTTP.P50ms, res.HTTP.P99ms, 100*res.HTTP.ErrorRate)

	if res.Drain, err = measureDrain(ctx, o, cfg, svc.url, databaseURL, prefix); err != nil {
		return nil, errors.Join(fmt.Errorf("event backlog: %w", err), svc.logTail())
	}
	if res.Drain != nil {
		logf(stdout, "%s: events of the load all handled %s after it ended", cfg.Name(), res.Drain)
	}
	if err := svc.stop(); err != nil {
		return nil, err
	}
	if cfg.Broker == "memory" {
		if rt, err = measureRoundTrip(ctx, o, cfg, "", "", ""); err != nil {
			return nil, fmt.Errorf("round trip: %w", err)
		}
	}
	res.RoundTrip = rt
	if rt != nil {
		logf(stdout, "%s: round trip (%s) p50 %.2f ms, p99 %.2f ms over %d events", cfg.Name(), rt.Method, rt.P50ms, rt.P99ms, rt.Events)
	}

	if withCeiling {
		logf(stdout, "%s: ceiling after the service (database/sql, no HTTP, no bus)", cfg.Name())
		after, err := measureCeiling(ctx, o, cfg, stdout, ceilingBefore+1, o.rounds-ceilingBefore)
		if err != nil {
			return nil, fmt.Errorf("ceiling: %w", err)
		}
		if ceiling != nil {
			after.Rounds = append(ceiling.Rounds, after.Rounds...)
			after.Summary = summarize(after.Rounds)
		}
		ceiling = after
		res.Ceiling = ceiling
		if ceiling.Summary.Throughput > 0 {
			res.Ratio = res.HTTP.Throughput / ceiling.Summary.Throughput
		}
		logf(stdout, "%s: ceiling median %.0f tx/s, p50 %.2f ms, p99 %.2f ms; service/ceiling %.0f%%",
			cfg.Name(), ceiling.Summary.Throughput, ceiling.Summary.P50ms, ceiling.Summary.P99ms, 100*res.Ratio)
	}
	return res, nil
}
