package app

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// ConflictRetryPolicy says how often a command is run again after an
// optimistic-concurrency conflict. MaxRetries 0 turns retries off.
type ConflictRetryPolicy struct {
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// TransactionRunner runs a function in a transaction of the unit of work,
// rolls back whatever was not committed and runs it again on conflicts.
type TransactionRunner struct {
	uow    UnitOfWork
	policy ConflictRetryPolicy
	// onConflict is called on every conflict (metrics); may be nil.
	onConflict func()
}

func NewTransactionRunner(uow UnitOfWork, policy ConflictRetryPolicy, onConflict func()) TransactionRunner {
	return TransactionRunner{uow: uow, policy: policy, onConflict: onConflict}
}

// Run calls fn with a fresh transaction. fn must call tx.Commit to keep its
// work; whatever is not committed is rolled back when fn returns.
func (r TransactionRunner) Run(ctx context.Context, fn func(ctx context.Context, tx Transaction) error) error {
	if r.uow == nil {
		return errors.New("transaction runner has no unit of work")
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.policy.InitialInterval
	b.MaxInterval = r.policy.MaxInterval
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := r.runOnce(ctx, fn)
		var conflict ConcurrencyConflictError
		if errors.As(err, &conflict) {
			if r.onConflict != nil {
				r.onConflict()
			}
			return struct{}{}, err
		}
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(&firstRetryAtOnce{next: b}), backoff.WithMaxTries(uint(r.policy.MaxRetries+1)), backoff.WithMaxElapsedTime(0))
	var stop *backoff.PermanentError
	if errors.As(err, &stop) {
		return stop.Unwrap()
	}
	return err
}

func (r TransactionRunner) runOnce(ctx context.Context, fn func(ctx context.Context, tx Transaction) error) (err error) {
	tx, err := r.uow.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
	}()
	return fn(ctx, tx)
}

// firstRetryAtOnce retries the first conflict without waiting: a conflict
// is seen once the other transaction has committed, so the product can be
// loaded again at once and the retry usually succeeds. Only repeated
// conflicts (a hot product) back off, since waiting before the first
// retry put every conflicting request in the latency tail.
type firstRetryAtOnce struct {
	next    backoff.BackOff
	retried bool
}

func (b *firstRetryAtOnce) NextBackOff() time.Duration {
	if !b.retried {
		b.retried = true
		return 0
	}
	return b.next.NextBackOff()
}

func (b *firstRetryAtOnce) Reset() {
	b.retried = false
	b.next.Reset()
}
