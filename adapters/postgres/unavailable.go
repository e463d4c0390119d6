package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/lib/pq"

	"allocation/app"
)

// databaseName is how errors and readiness name PostgreSQL.
const databaseName = "database"

// asUnavailable marks an error that means PostgreSQL could not be reached,
// dropped the connection, is shutting down or did not answer in time as
// app.UnavailableError: the request was fine and will succeed once the
// database is back, so callers answer 503 and messages are retried rather
// than parked. A commit that fails this way may or may not have been
// applied; every command is idempotent, so trying again is safe.
func asUnavailable(err error) error {
	if err == nil || app.IsUnavailable(err) || !databaseAway(err) {
		return err
	}
	return app.UnavailableError{Dependency: databaseName, Err: err}
}

func databaseAway(err error) bool {
	var (
		pqErr  *pq.Error
		netErr net.Error
	)
	switch {
	case errors.As(err, &pqErr):
		// Class 08: connection exception; 57P01-03: the server is shutting
		// down or starting; 53300: too many connections.
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" ||
			pqErr.Code == "57P03" || pqErr.Code == "53300"
	case errors.As(err, &netErr):
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}
