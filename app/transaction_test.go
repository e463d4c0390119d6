package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"allocation/app"
	"allocation/domain"
)

// flakyUoW fails the first commits with a conflict.
type flakyUoW struct {
	conflicts int
	commits   int
	rollbacks int
	rbErr     error
}

func (u *flakyUoW) Begin(context.Context) (app.Transaction, error) { return &flakyTx{u: u}, nil }

type flakyTx struct {
	u         *flakyUoW
	committed bool
}

func (t *flakyTx) Products() app.ProductRepository              { return nil }
func (t *flakyTx) RecordEvents(context.Context, []domain.Event) {}
func (t *flakyTx) Commit(context.Context) error {
	if t.u.conflicts > 0 {
		t.u.conflicts--
		return app.ConcurrencyConflictError{SKU: "X"}
	}
	t.u.commits++
	t.committed = true
	return nil
}
func (t *flakyTx) Rollback(context.Context) error {
	if !t.committed {
		t.u.rollbacks++
	}
	return t.u.rbErr
}

func commitFn(ctx context.Context, tx app.Transaction) error { return tx.Commit(ctx) }

var fastRetries = app.ConflictRetryPolicy{MaxRetries: 3, InitialInterval: time.Microsecond, MaxInterval: time.Microsecond}

func TestRunnerRetriesConflicts(t *testing.T) {
	u := &flakyUoW{conflicts: 2}
	conflicts := 0
	if err := app.NewTransactionRunner(u, fastRetries, func() { conflicts++ }).Run(context.Background(), commitFn); err != nil {
		t.Fatal(err)
	}
	if u.commits != 1 || conflicts != 2 || u.rollbacks != 2 {
		t.Fatalf("commits=%d conflicts=%d rollbacks=%d", u.commits, conflicts, u.rollbacks)
	}
}

func TestRunnerGivesUpAfterMaxRetries(t *testing.T) {
	u := &flakyUoW{conflicts: 10}
	err := app.NewTransactionRunner(u, fastRetries, nil).Run(context.Background(), commitFn)
	var conflict app.ConcurrencyConflictError
	if !errors.As(err, &conflict) || u.conflicts != 10-4 {
		t.Fatalf("err = %v, conflicts left = %d", err, u.conflicts)
	}
}

func TestRunnerWithoutRetriesSurfacesTheConflict(t *testing.T) {
	u := &flakyUoW{conflicts: 1}
	err := app.NewTransactionRunner(u, app.ConflictRetryPolicy{}, nil).Run(context.Background(), commitFn)
	var conflict app.ConcurrencyConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunnerDoesNotRetryOtherErrorsAndKeepsRollbackErrors(t *testing.T) {
	u := &flakyUoW{rbErr: errors.New("rollback failed")}
	boom := errors.New("boom")
	calls := 0
	err := app.NewTransactionRunner(u, fastRetries, nil).Run(context.Background(), func(context.Context, app.Transaction) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || !errors.Is(err, u.rbErr) || calls != 1 {
		t.Fatalf("err = %v, calls = %d", err, calls)
	}
}

func TestRunnerRetriesTheFirstConflictAtOnce(t *testing.T) {
	// A wait before the first retry would outlast the context's deadline.
	slow := app.ConflictRetryPolicy{MaxRetries: 1, InitialInterval: time.Hour, MaxInterval: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := &flakyUoW{conflicts: 1}
	if err := app.NewTransactionRunner(u, slow, nil).Run(ctx, commitFn); err != nil {
		t.Fatalf("first retry did not run at once: %v", err)
	}
	if u.commits != 1 {
		t.Fatalf("commits=%d, want 1", u.commits)
	}
}
