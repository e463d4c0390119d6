package service

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// lifecycle is what runs once the service has started.
type lifecycle struct {
	cancel     context.CancelFunc
	workers    *errgroup.Group
	routerDone chan error
	failed     chan error
}

// Start runs the router and then the workers, and returns once the
// router's subscribers are up: the in-memory broker drops what is
// published to a topic nobody subscribes to yet. Errors after start are
// reported by Stop, RouterDone and Failed.
func (s *Service) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	run := &lifecycle{cancel: cancel, routerDone: make(chan error, 1), failed: make(chan error, 1)}
	s.run = run
	go func() { run.routerDone <- s.Bus.Router.Run(runCtx) }()
	select {
	case <-s.Bus.Router.Running():
	case err := <-run.routerDone:
		cancel()
		return fmt.Errorf("message router: %w", err)
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
	workers, workersCtx := errgroup.WithContext(runCtx)
	run.workers = workers
	for _, work := range s.workers {
		workers.Go(func() error {
			// An error once the service is stopping, or another worker
			// failed, is that stop (a subscription cut short).
			if err := work(workersCtx); err != nil && workersCtx.Err() == nil {
				s.Logger.Error("background worker failed", "error", err)
				return err
			}
			return nil
		})
	}
	go func() {
		if err := workers.Wait(); err != nil {
			run.failed <- err
		}
	}()
	return nil
}

// RouterDone receives the router's error when it stops by itself.
func (s *Service) RouterDone() <-chan error {
	if s.run == nil {
		return nil
	}
	return s.run.routerDone
}

// Failed receives the error of a background worker (the outbox relay):
// the service cannot keep its promises without it and should stop, so
// that it is restarted.
func (s *Service) Failed() <-chan error {
	if s.run == nil {
		return nil
	}
	return s.run.failed
}

// Stop stops the router (waiting for messages in flight) and the workers,
// lets the commands already queued for a product commit (new ones are
// refused), and releases every resource.
func (s *Service) Stop() error {
	var err error
	if s.run != nil {
		err = s.Bus.Router.Close()
		s.run.cancel()
		if s.run.workers != nil {
			err = errors.Join(err, s.run.workers.Wait())
		}
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	err = errors.Join(err, s.App.Close(drainCtx))
	cancelDrain()
	return errors.Join(err, s.resources.close())
}
