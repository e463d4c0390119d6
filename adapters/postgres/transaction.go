package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"allocation/adapters/messagebus"
	"allocation/app"
	"allocation/domain"
)

type transaction struct {
	app.EventRecorder
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
		return asUnavailable(errors.Join(err, t.rollback()))
	}
	if err := t.tx.Commit(); err != nil {
		return asUnavailable(asConflict(fmt.Errorf("committing: %w", err), firstSKU(products)))
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
		writes productWrites
		events []domain.Event
	)
	recorded := t.Recorded
	// Products loaded were locked when loaded, so those only read cannot
	// have changed; new ones are inserted first, which is where two
	// transactions creating one sku meet.
	for _, s := range products {
		if s.changed() {
			var own productWrites
			own.add(s)
			if len(products) == 1 && !s.isNew && own.isOneAllocation() {
				if err := execOneAllocation(ctx, t.tx, s, &own); err != nil {
					return 0, err
				}
			} else {
				if err := writeProductRow(ctx, t.tx, s); err != nil {
					return 0, err
				}
				writes.add(s)
			}
		}
		events = append(events, s.product.Events()...)
	}
	if err := writes.exec(ctx, t.tx); err != nil {
		return 0, asConflict(err, firstSKU(products))
	}
	recorded = append(recorded, app.RecordedEvents{Ctx: ctx, Events: events})
	published, err := t.publish(recorded)
	if err != nil {
		return 0, asConflict(err, firstSKU(products))
	}
	return published, nil
}

// publish stores the events through an event bus on a publisher bound to
// this transaction, each with the correlation of its context; the bus is
// built per transaction because the publisher is.
func (t *transaction) publish(recorded []app.RecordedEvents) (published int, err error) {
	for _, r := range recorded {
		published += len(r.Events)
	}
	if published == 0 {
		return 0, nil
	}
	publisher, err := t.uow.newOutboxPublisher(t.tx)
	if err != nil {
		return 0, fmt.Errorf("creating outbox publisher: %w", err)
	}
	defer func() { err = errors.Join(err, publisher.Close()) }()
	bus, err := messagebus.NewEventBus(publisher, t.uow.logger)
	if err != nil {
		return 0, fmt.Errorf("creating outbox event bus: %w", err)
	}
	events := messagebus.NewBusEventPublisher(bus)
	for _, r := range recorded {
		if err := events.PublishEvents(r.Ctx, r.Events); err != nil {
			return 0, err
		}
	}
	return published, nil
}
