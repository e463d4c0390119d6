package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"allocation/app"
	"allocation/domain"
)

type transaction struct {
	uow  *PostgresUnitOfWork
	tx   *sql.Tx
	seen map[string]*seenProduct
	done bool
}

func (t *transaction) Products() app.ProductRepository { return (*repository)(t) }

// Commit writes the products that changed (checking that the others did
// not change meanwhile), stores their events through the outbox and
// commits. On any error the database transaction is rolled back.
func (t *transaction) Commit(ctx context.Context) error {
	if t.done {
		return errors.New("transaction already finished")
	}
	t.done = true
	products := t.seenBySKU()
	published, err := t.writeAndPublish(ctx, products)
	if err != nil {
		return errors.Join(err, t.rollback())
	}
	if err := t.tx.Commit(); err != nil {
		return asConflict(fmt.Errorf("committing: %w", err), firstSKU(products))
	}
	if published > 0 && t.uow.afterCommit != nil {
		t.uow.afterCommit()
	}
	// Events are forgotten only now, so that a failed commit leaves the
	// products as they were.
	for _, s := range products {
		s.product.PopEvents()
	}
	return nil
}

func (t *transaction) Rollback(context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	return t.rollback()
}

func (t *transaction) rollback() error {
	err := t.tx.Rollback()
	// Cancelling the context of Begin has already rolled it back.
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// seenBySKU orders the products by sku: writing rows in one fixed order
// keeps two transactions touching the same products from deadlocking.
func (t *transaction) seenBySKU() []*seenProduct {
	products := make([]*seenProduct, 0, len(t.seen))
	for _, s := range t.seen {
		products = append(products, s)
	}
	sort.Slice(products, func(i, j int) bool { return products[i].product.SKU() < products[j].product.SKU() })
	return products
}

func firstSKU(products []*seenProduct) string {
	if len(products) == 0 {
		return ""
	}
	return products[0].product.SKU()
}

// writeAndPublish writes the products' changes and stores their events in
// the outbox; it returns how many events it stored.
func (t *transaction) writeAndPublish(ctx context.Context, products []*seenProduct) (int, error) {
	var (
		writes    productWrites
		unchanged []*seenProduct
		events    []domain.Event
	)
	// Product rows first: their version check also locks them, so the
	// batch and line writes below cannot interleave with another commit.
	for _, s := range products {
		if s.changed() {
			if err := writeProductRow(ctx, t.tx, s); err != nil {
				return 0, err
			}
			writes.add(s)
		} else {
			unchanged = append(unchanged, s)
		}
		events = append(events, s.product.Events()...)
	}
	if err := checkUnchanged(ctx, t.tx, unchanged); err != nil {
		return 0, err
	}
	if err := writes.exec(ctx, t.tx); err != nil {
		return 0, asConflict(err, firstSKU(products))
	}
	if err := t.publish(ctx, events); err != nil {
		return 0, asConflict(err, firstSKU(products))
	}
	return len(events), nil
}

// publish stores the events through an event bus on a publisher bound to
// this transaction; the bus is built per transaction because the
// publisher is.
func (t *transaction) publish(ctx context.Context, events []domain.Event) (err error) {
	if len(events) == 0 {
		return nil
	}
	publisher, err := t.uow.newOutboxPublisher(t.tx)
	if err != nil {
		return fmt.Errorf("creating outbox publisher: %w", err)
	}
	defer func() { err = errors.Join(err, publisher.Close()) }()
	bus, err := app.NewEventBus(publisher, t.uow.logger)
	if err != nil {
		return fmt.Errorf("creating outbox event bus: %w", err)
	}
	return app.NewBusEventPublisher(bus).PublishEvents(ctx, events)
}
