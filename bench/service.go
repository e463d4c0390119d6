package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/lib/pq"
)

// The service's names that the bench reads and writes from outside, as
// other services and operators see them (TestServiceStillUsesTheseNames
// checks them against the service's source).
const (
	changeBatchQuantityTopic = "change_batch_quantity"
	lineAllocatedTopic       = "line_allocated"
	allocatedEventTopic      = "allocation.events.Allocated"
	outOfStockEventTopic     = "allocation.events.OutOfStock"
	// redisPayloadField is the field of a Redis stream entry holding the
	// message.
	redisPayloadField = "payload"
)

// lineAllocated is the part of the line_allocated message the bench reads.
type lineAllocated struct {
	OrderID  string `json:"orderid"`
	BatchRef string `json:"batchref"`
}

// openDB connects as the service does: lib/pq sending a query with its
// arguments in one round trip (binary_parameters), and idle connections
// kept for concurrent workers.
func openDB(ctx context.Context, databaseURL string) (*sql.DB, error) {
	cfg, err := pq.NewConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("PostgreSQL (run scripts/ensure-services.sh allocation_test): %w", err), db.Close())
	}
	return db, nil
}

// withSearchPath makes every connection of the URL use the schema (lib/pq
// sends URL parameters it does not know as run-time settings).
func withSearchPath(databaseURL, schema string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return databaseURL + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
