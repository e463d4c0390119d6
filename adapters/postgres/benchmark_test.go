package postgres_test

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
)

// BenchmarkAllocate measures one Allocate command end to end: load the
// product, allocate, write the line and the event, commit. Each product
// takes linesPerProduct lines, so the product loaded stays small as in a
// real store where old lines ship.
func BenchmarkAllocate(b *testing.B) {
	const linesPerProduct = 20
	for name, outbox := range map[string]postgres.OutboxPublisherFactory{
		"sql_outbox":     postgres.SQLOutbox(watermill.NopLogger{}),
		"relayed_outbox": postgres.RelayedOutbox,
	} {
		b.Run(name, func(b *testing.B) {
			db := newTestDB(b)
			uow := newUnitOfWork(b, db, outbox)
			handler := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow)))
			ctx := context.Background()
			var sku string
			for i := 0; i < b.N; i++ {
				if i%linesPerProduct == 0 {
					b.StopTimer()
					sku = unique("BENCH")
					addBatch(b, uow, unique("b"), sku, linesPerProduct, nil)
					b.StartTimer()
				}
				if _, err := handler.Handle(ctx, &domain.Allocate{OrderID: unique("o"), SKU: sku, Qty: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
