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
