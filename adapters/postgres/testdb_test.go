package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"

	"allocation/adapters/postgres"
	"allocation/app"
	"allocation/domain"
	"allocation/tests/testenv"
)

// waitTimeout bounds every wait for a relayed or polled message. It is long
// because watermill-sql shows a row only once every older transaction of the
// whole cluster has finished, and other tests' subscribers may hold one open
// for up to their 30 s ack deadline; normally messages arrive in
// milliseconds.
const waitTimeout = 60 * time.Second

// testPoolSize keeps tests running in parallel well under PostgreSQL's
// connection limit while still letting transactions contend.
const testPoolSize = 10

// newEmptySchema connects through the service's own Open to a schema of
// the test's own (testenv.DatabaseURL), so tests run in parallel and again
// without seeing each other's rows, outbox messages or consumer offsets.
func newEmptySchema(t testing.TB) *sql.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testenv.DatabaseURL(t))
	if err != nil {
		t.Fatalf("opening the test schema: %v", err)
	}
	db.SetMaxOpenConns(testPoolSize)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newTestDB is a migrated schema with the SQL outbox's topics created, as the
// service prepares it at start-up.
func newTestDB(t testing.TB) *sql.DB {
	t.Helper()
	db := newEmptySchema(t)
	ctx := context.Background()
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	if err := postgres.InitializeSQLTopics(ctx, db, postgres.EventTopics()); err != nil {
		t.Fatalf("initialising topics: %v", err)
	}
	return db
}

func newUnitOfWork(t testing.TB, db *sql.DB, outbox postgres.OutboxPublisherFactory) *postgres.PostgresUnitOfWork {
	t.Helper()
	if outbox == nil {
		outbox = postgres.SQLOutbox(watermill.NopLogger{})
	}
	uow, err := postgres.NewPostgresUnitOfWork(db, outbox, watermill.NopLogger{})
	if err != nil {
		t.Fatalf("creating unit of work: %v", err)
	}
	return uow
}

// newStore is a test database and a unit of work on it with the SQL outbox.
func newStore(t testing.TB) (*sql.DB, *postgres.PostgresUnitOfWork) {
	t.Helper()
	db := newTestDB(t)
	return db, newUnitOfWork(t, db, nil)
}

// allocateLine allocates a new line of qty for the order to the product.
func allocateLine(product *domain.Product, order string, qty int) error {
	line, err := domain.NewOrderLine(order, product.SKU(), qty)
	if err != nil {
		return err
	}
	_, err = product.Allocate(line)
	return err
}

func retryingRunner(uow app.UnitOfWork) app.TransactionRunner {
	return app.NewTransactionRunner(uow, app.ConflictRetryPolicy{MaxRetries: 10, InitialInterval: time.Millisecond, MaxInterval: 50 * time.Millisecond}, nil)
}

// unique makes skus, refs and order ids that no other test uses.
func unique(prefix string) string { return prefix + "-" + uuid.NewString()[:8] }

func addBatch(t testing.TB, uow app.UnitOfWork, ref, sku string, qty int, eta *time.Time) {
	t.Helper()
	err := app.NewAddBatchHandler(app.NewProductQueue(retryingRunner(uow))).Handle(context.Background(), &domain.CreateBatch{Ref: ref, SKU: sku, Qty: qty, ETA: eta})
	if err != nil {
		t.Fatalf("adding batch %s: %v", ref, err)
	}
}

// allocate allocates qty of sku, whose one batch is ref, to a new order and
// returns the event its commit stored.
func allocate(t testing.TB, db *sql.DB, uow app.UnitOfWork, ref, sku string, qty int) domain.Allocated {
	t.Helper()
	version := productVersion(t, db, sku)
	order := unique("o")
	if _, err := app.NewAllocateHandler(app.NewProductQueue(retryingRunner(uow))).Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: qty}); err != nil {
		t.Fatalf("allocating: %v", err)
	}
	return domain.Allocated{OrderID: order, SKU: sku, Qty: qty, BatchRef: ref, Version: version + 1}
}

func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func productVersion(t testing.TB, db *sql.DB, sku string) int {
	t.Helper()
	return queryInt(t, db, `SELECT version_number FROM products WHERE sku = $1`, sku)
}

// wantVersion checks the product's stored version.
func wantVersion(t testing.TB, db *sql.DB, sku string, want int) {
	t.Helper()
	if v := productVersion(t, db, sku); v != want {
		t.Errorf("version of %s = %d, want %d", sku, v, want)
	}
}

func date(y int, m time.Month, d int) *time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return &t
}

func begin(t *testing.T, uow app.UnitOfWork) app.Transaction {
	t.Helper()
	tx, err := uow.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func newProduct(t *testing.T, sku, ref string) *domain.Product {
	t.Helper()
	p, err := domain.NewProduct(sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddBatch(ref, 10, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// concurrently runs fn n times at once, released together, and returns
// each run's error.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
