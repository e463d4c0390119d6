package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/natsbroker"
	"allocation/adapters/postgres"
	"allocation/config"
)

// dependency is a server the service needs before it can start.
type dependency struct {
	name  string
	check func(ctx context.Context) error
}

// dependencies lists what the configuration needs: PostgreSQL for the
// store or the SQL broker, Redis or NATS for their brokers.
func dependencies(cfg config.Config) []dependency {
	var deps []dependency
	if cfg.Store == config.StorePostgres || cfg.Broker == config.BrokerSQL {
		deps = append(deps, dependency{name: "postgres", check: func(ctx context.Context) error {
			db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithResponseTimeout(cfg.DatabaseTimeout))
			if err != nil {
				return err
			}
			return db.Close()
		}})
	}
	if cfg.Broker == config.BrokerRedis {
		deps = append(deps, dependency{name: "redis", check: func(ctx context.Context) error {
			client := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, MaxRetries: -1})
			return errors.Join(client.Ping(ctx).Err(), client.Close())
		}})
	}
	if cfg.Broker == config.BrokerNATS {
		deps = append(deps, dependency{name: "nats", check: func(ctx context.Context) error {
			return natsbroker.Ping(ctx, cfg.NATSURL)
		}})
	}
	return deps
}

// startupStatus is what start-up is waiting for, for /readyz meanwhile.
type startupStatus struct {
	mu      sync.Mutex
	waiting string
}

func (s *startupStatus) set(waiting string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting = waiting
}

func (s *startupStatus) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting == "" {
		return "starting"
	}
	return "starting: waiting for " + s.waiting
}

// StartupError names what start-up could not reach before its deadline.
type StartupError struct {
	Unreachable []string
	Timeout     time.Duration
	Err         error
}

func (e StartupError) Error() string {
	return fmt.Sprintf("could not reach %s within STARTUP_TIMEOUT (%s): %v", strings.Join(e.Unreachable, ", "), e.Timeout, e.Err)
}

func (e StartupError) Unwrap() error { return e.Err }

// startWhenReachable waits until every dependency answers, then builds and
// starts the service, trying again with backoff, a log line per attempt,
// while a dependency is away, up to cfg.StartupTimeout. It returns at once
// when ctx ends (SIGTERM during start-up).
func startWhenReachable(outer context.Context, cfg config.Config, logger *slog.Logger, status *startupStatus) (*Service, error) {
	ctx, cancel := context.WithTimeout(outer, cfg.StartupTimeout)
	defer cancel()
	policy := backoff.NewExponentialBackOff()
	policy.InitialInterval = 200 * time.Millisecond
	policy.MaxInterval = 5 * time.Second
	attempt := 0
	var (
		unreachable []string
		lastErr     error
	)
	svc, err := backoff.Retry(ctx, func() (svc *Service, err error) {
		defer func() { lastErr = err }()
		attempt++
		unreachable = nil
		var errs []error
		for _, dep := range dependencies(cfg) {
			if err := dep.check(ctx); err != nil {
				unreachable = append(unreachable, dep.name)
				errs = append(errs, fmt.Errorf("%s: %w", dep.name, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			status.set(strings.Join(unreachable, ", "))
			logger.Warn("waiting for dependencies", "attempt", attempt, "unreachable", strings.Join(unreachable, ", "), "error", err)
			return nil, err
		}
		status.set("")
		svc, err = New(cfg, logger)
		if err != nil {
			// A dependency that went away between the check and New is
			// checked again; anything else (bad configuration, a failed
			// migration) will not get better by waiting.
			logger.Warn("start-up failed", "attempt", attempt, "error", err)
			if ctx.Err() == nil && len(failingDependencies(ctx, cfg)) > 0 {
				return nil, err
			}
			return nil, backoff.Permanent(err)
		}
		if err := svc.Start(ctx); err != nil {
			return nil, errors.Join(err, svc.Stop())
		}
		return svc, nil
	}, backoff.WithBackOff(policy), backoff.WithMaxElapsedTime(0))
	switch {
	case err == nil:
		return svc, nil
	case outer.Err() != nil:
		return nil, fmt.Errorf("start-up interrupted: %w", outer.Err())
	case ctx.Err() != nil && len(unreachable) > 0:
		return nil, StartupError{Unreachable: unreachable, Timeout: cfg.StartupTimeout, Err: lastErr}
	case ctx.Err() != nil && lastErr != nil:
		return nil, fmt.Errorf("start-up did not finish within STARTUP_TIMEOUT (%s): %w", cfg.StartupTimeout, lastErr)
	}
	return nil, err
}

// failingDependencies names the dependencies that do not answer now.
func failingDependencies(ctx context.Context, cfg config.Config) []string {
	var failing []string
	for _, dep := range dependencies(cfg) {
		if dep.check(ctx) != nil {
			failing = append(failing, dep.name)
		}
	}
	return failing
}
