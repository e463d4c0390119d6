package postgres_test

import (
	"context"
	"testing"

	"allocation/adapters/postgres"
)

// Processes starting together all migrate; each must succeed and the
// schema end up applied once.
func TestMigrateConcurrentlyAndRepeatedly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newEmptySchema(t)
	const runs = 6

	errs := concurrently(runs, func(int) error {
		if err := postgres.Migrate(ctx, db); err != nil {
			return err
		}
		return postgres.InitializeSQLTopics(ctx, db, postgres.EventTopics())
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	applied := queryInt(t, db, `SELECT count(*) FROM schema_migrations`)
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	if again := queryInt(t, db, `SELECT count(*) FROM schema_migrations`); again != applied || applied == 0 {
		t.Errorf("schema_migrations has %d rows, then %d; want the same non-zero count", applied, again)
	}
	for _, table := range []string{"products", "batches", "allocations", "allocations_view", "outbox"} {
		queryInt(t, db, `SELECT count(*) FROM `+table)
	}
}
