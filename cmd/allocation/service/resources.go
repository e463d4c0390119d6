package service

import "errors"

// resources are what the service opened, released in reverse order.
type resources struct{ closers []func() error }

func (r *resources) add(close func() error) { r.closers = append(r.closers, close) }

func (r *resources) close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}
