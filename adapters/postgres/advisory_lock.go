package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Advisory lock keys. Start-up DDL takes one so that several processes
// starting at once do not race: concurrent CREATE TABLE IF NOT EXISTS of the
// same table can still fail with a unique violation in PostgreSQL's catalog.
const (
	migrationsLockKey int64 = 0x616c6c6f63_6d // "alloc", "m"
	// sqlTopicsLockKey is on purpose the key adapters/pubsub takes
	// (sqlSchemaLockKey) when its subscribers create topic tables, so that
	// both serialise on one lock when they create the same tables.
	sqlTopicsLockKey int64 = 0x616c6c6f63_01 // "alloc", 1
)

// withAdvisoryLock runs fn on one connection while holding a session-level
// advisory lock of the current database.
func withAdvisoryLock(ctx context.Context, db *sql.DB, key int64, fn func(conn *sql.Conn) error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("getting a connection: %w", err)
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("taking advisory lock %d: %w", key, err)
	}
	defer func() {
		// Unlock even when ctx is done: the connection goes back to the pool
		// and must not keep the lock.
		_, unlockErr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		if unlockErr != nil {
			err = errors.Join(err, fmt.Errorf("releasing advisory lock %d: %w", key, unlockErr), discardConn(conn))
		}
	}()
	return fn(conn)
}

// discardConn makes database/sql close the connection instead of pooling
// it; closing the session is what releases a lock we failed to release.
func discardConn(conn *sql.Conn) error {
	err := conn.Raw(func(any) error { return driver.ErrBadConn })
	if errors.Is(err, driver.ErrBadConn) {
		return nil
	}
	return err
}
