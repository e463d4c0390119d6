package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

const (
	// migrationsLockKey serialises migrations of processes starting at once.
	migrationsLockKey int64 = 0x616c6c6f63_6d // "alloc", "m"
	// outboxRelayLockKey is held by the one relay at work (relayBatch).
	outboxRelayLockKey int64 = 0x616c6c6f63_72 // "alloc", "r"
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
