package service

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/adapters/postgres"
	"allocation/adapters/tracing"
	"allocation/app"
	"allocation/config"
	"allocation/ports/httpapi"
)

// outboxBacklogLimit is how long a committed event may wait for the outbox
// relay before /readyz says so: the relay polls every few milliseconds, so
// an event that old means the broker is away or the relay has stopped.
const outboxBacklogLimit = 30 * time.Second

// store is where products live and what event handlers write to.
type store struct {
	uow       app.UnitOfWork
	view      app.AllocationsView
	handled   app.HandledEvents
	readiness []httpapi.ReadinessCheck
	// workers run beside the router (the outbox relay).
	workers []func(context.Context) error
}

// openDatabase opens the PostgreSQL pool the store and the SQL broker
// share; nil when neither needs it.
func openDatabase(ctx context.Context, cfg config.Config, r *resources) (*sql.DB, error) {
	if cfg.Store != config.StorePostgres && cfg.Broker != config.BrokerSQL {
		return nil, nil
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithResponseTimeout(cfg.DatabaseTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	r.add(db.Close)
	return db, nil
}

// openStore opens the configured store; in-memory, its unit of work
// publishes events on the bus after commit.
func openStore(ctx context.Context, cfg config.Config, db *sql.DB, brk brokerParts, events *cqrs.EventBus, logger watermill.LoggerAdapter) (store, error) {
	switch cfg.Store {
	case config.StoreMemory:
		return store{
			uow:     tracing.DecorateUnitOfWork(memory.NewUnitOfWork(messagebus.NewBusEventPublisher(events)), "memory"),
			view:    memory.NewAllocationsView(),
			handled: memory.NewHandledEvents(memory.DefaultHandledEventsCapacity),
		}, nil
	case config.StorePostgres:
		return openPostgresStore(ctx, cfg, db, brk, logger)
	}
	return store{}, fmt.Errorf("STORE=%s is not supported", cfg.Store)
}

// openPostgresStore migrates the database and sets up the transactional
// outbox the broker asks for: the outbox table and a relay, or the SQL
// broker's topic tables.
func openPostgresStore(ctx context.Context, cfg config.Config, db *sql.DB, brk brokerParts, logger watermill.LoggerAdapter) (store, error) {
	if err := postgres.Migrate(ctx, db); err != nil {
		return store{}, fmt.Errorf("migrating the database: %w", err)
	}
	if err := postgres.InitializeSQLTopics(ctx, db, brk.outboxTopics); err != nil {
		return store{}, fmt.Errorf("creating outbox tables: %w", err)
	}
	// What reads the committed events (the relay, or the SQL broker's
	// subscribers) polls at once after this process commits some, and
	// rarely while idle.
	commits := postgres.NewOutboxSignal()
	notify := commits.Notify
	if brk.wake != nil {
		notify = brk.wake
	}
	uow, err := postgres.NewPostgresUnitOfWork(db, traceOutbox(brk.outbox, messagingSystem(cfg.Broker)), logger, postgres.WithCommitNotify(notify))
	if err != nil {
		return store{}, err
	}
	handlerWrites := handlerWrites(db, brk)
	s := store{
		uow:     tracing.DecorateUnitOfWork(uow, "postgresql"),
		view:    postgres.NewPostgresAllocationsView(handlerWrites),
		handled: postgres.NewPostgresHandledEvents(handlerWrites),
	}
	if brk.relay == nil {
		return s, nil
	}
	relay, err := postgres.NewOutboxRelay(db, *brk.relay, postgres.RelayPolling{
		Interval:     cfg.OutboxPollInterval,
		IdleInterval: cfg.IdlePollInterval,
		Signal:       commits,
	}, logger)
	if err != nil {
		return store{}, err
	}
	s.workers = append(s.workers, relay.Run)
	s.readiness = append(s.readiness, httpapi.ReadinessCheck{Name: "outbox", Check: postgres.OutboxReadiness(db, outboxBacklogLimit)})
	return s, nil
}

// handlerWrites is the pool of event handlers' own writes: the broker's
// when it brings one, else the store's.
func handlerWrites(db *sql.DB, brk brokerParts) *sql.DB {
	if brk.handlerDB != nil {
		return brk.handlerDB
	}
	return db
}
