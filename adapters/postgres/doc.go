// Package postgres is the PostgreSQL store: the unit of work and product
// repository (optimistic concurrency on products.version_number), the
// transactional outbox that writes recorded events in the same database
// transaction, and the allocations read model. It uses database/sql with
// lib/pq and no ORM.
package postgres
