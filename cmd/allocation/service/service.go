// Package service glues configuration, adapters, the application and the
// ports together. It lives under cmd because it is the one place that
// imports everything; end-to-end and port tests use it to run the real
// wiring in-process.
package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"allocation/adapters/external"
	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/adapters/metrics"
	"allocation/adapters/notify"
	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/adapters/tracing"
	"allocation/app"
	"allocation/config"
	"allocation/contracts"
	"allocation/ports/broker"
	"allocation/ports/httpapi"
)

// Service is the wired service: the message bus and the HTTP handler.
type Service struct {
	Config  config.Config
	Logger  *slog.Logger
	Bus     *messagebus.MessageBus
	App     app.Application
	Handler http.Handler
	Metrics *metrics.Metrics
	Poison  app.PoisonQueue
	// PubSub is the configured broker (in-process tests publish on it).
	PubSub messagebus.PubSub

	db *sql.DB
	// handlerDB is the pool of event handlers' own writes (read model,
	// handled events, external events) on the SQL broker: asynchronous
	// commit, vouched for by the subscriber's synchronous acknowledgement
	// (postgres.OpenAsynchronousCommit). With other brokers the
	// acknowledgement is not in PostgreSQL, so those writes use db.
	handlerDB *sql.DB
	// wakeSubscribers tells the broker's subscribers that this process
	// committed messages through the outbox (SQL broker); nil otherwise.
	wakeSubscribers func()
	// handlerPublisher is what event handlers publish external events on
	// (pubsub.Broker.HandlerPublisher, with publisher metrics).
	handlerPublisher message.Publisher
	// relay is where the outbox relay publishes when the broker has a
	// publisher of its own for it (Redis: pipelined); zero otherwise.
	relay postgres.RelayDestination

	// lifetime ends when the service is closed; background subscriptions
	// that must exist before Start (the in-memory poison queue) use it.
	lifetime context.Context
	endLife  context.CancelFunc

	// readiness checks the store and broker behind GET /readyz.
	readiness []httpapi.ReadinessCheck

	// workers run beside the router (outbox relay, ...) until stopped.
	workers []func(ctx context.Context) error
	// closers release resources in reverse order of acquisition.
	closers []func() error

	cancel      context.CancelFunc
	wg          sync.WaitGroup
	errMu       sync.Mutex
	runErr      error
	routerError chan error
	failed      chan error
}

// addInboundConsumers subscribes to the external topics other services
// publish on (the book's Redis consumer).
func (s *Service) addInboundConsumers(ps messagebus.PubSub) error {
	consumer, err := broker.NewChangeBatchQuantityConsumer(s.App.ChangeBatchQuantity.Handle, s.Logger)
	if err != nil {
		return err
	}
	sub, err := ps.Subscriber(messagebus.ConsumerGroup(broker.ChangeBatchQuantityHandlerName))
	if err != nil {
		return err
	}
	consumer.AddTo(s.Bus.Router, sub)
	return nil
}

// outboxBacklogLimit is how long a committed event may wait for the outbox
// relay before /readyz says so: the relay polls every few milliseconds, so
// an event that old means the broker is away or the relay has stopped.
const outboxBacklogLimit = 30 * time.Second

// startupTimeout bounds connecting to and preparing the store and broker.
const startupTimeout = 30 * time.Second

// New builds the service from the configuration. Nothing runs until Start.
func New(cfg config.Config, logger *slog.Logger) (svc *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{Config: cfg, Logger: logger}
	s.lifetime, s.endLife = context.WithCancel(context.Background())
	s.closers = append(s.closers, func() error { s.endLife(); return nil })
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()
	wmLogger := newWatermillLogger(logger)

	s.Metrics = metrics.New()
	ps, err := s.newPubSub(wmLogger)
	if err != nil {
		return nil, err
	}
	ps, err = newInstrumentedPubSub(newTracedPubSub(ps, messagingSystem(cfg.Broker)), s.Metrics)
	if err != nil {
		return nil, err
	}
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:       ps,
		Logger:       wmLogger,
		Retry:        messagebus.HandlerRetryPolicy{MaxRetries: cfg.RetryMax, InitialInterval: cfg.RetryInitialInterval, MaxInterval: 2 * time.Second},
		CloseTimeout: cfg.ShutdownTimeout,
		Outage:       messagebus.DefaultOutagePolicy(),
		OnOutageWait: s.Metrics.WaitedForOutage,
		OnRetry:      s.Metrics.Retried,
		OnPoisoned:   s.Metrics.Poisoned,
		Middlewares:  []message.HandlerMiddleware{traceMessages(cfg.Broker), messagebus.LogMessages(logger)},
	})
	if err != nil {
		return nil, err
	}
	s.Metrics.InstrumentRouter(bus.Router)
	s.Bus = bus
	s.PubSub = ps

	uow, view, handled, err := s.newStore(ps, bus, wmLogger)
	if err != nil {
		return nil, err
	}
	var notifier app.Notifier = notify.NewLogNotifier(logger)
	if cfg.SMTPAddr != "" {
		notifier = notify.NewSMTPNotifier(cfg.SMTPAddr, cfg.SMTPFrom, []string{cfg.NotifyTo})
	}
	lineAllocated, err := external.NewLineAllocatedPublisher(s.handlerPublisher)
	if err != nil {
		return nil, err
	}
	s.App, err = app.NewApplication(app.Dependencies{
		UnitOfWork:     uow,
		View:           view,
		Notifier:       notifier,
		HandledEvents:  handled,
		Commands:       bus.CommandBus,
		ExternalEvents: lineAllocated,
		ConflictRetry:  app.DefaultConflictRetryPolicy(),
		OnConflict:     s.Metrics.Conflict,
		CommandTimeout: cfg.RequestTimeout,
	})
	if err != nil {
		return nil, err
	}
	if err := bus.AddHandlers(s.App.CommandHandlers(), s.App.EventHandlers()); err != nil {
		return nil, fmt.Errorf("registering handlers: %w", err)
	}
	if err := s.addInboundConsumers(ps); err != nil {
		return nil, err
	}
	for name := range bus.Router.Handlers() {
		s.Metrics.InitHandler(name)
	}
	s.Handler = httpapi.NewHandler(httpapi.Config{
		App:         s.App,
		Commands:    bus.CommandBus,
		Logger:      logger,
		Readiness:   s.readiness,
		Poison:      s.Poison,
		AdminToken:  cfg.AdminToken,
		Metrics:     s.Metrics.Handler(),
		Middlewares: []gin.HandlerFunc{otelgin.Middleware("allocation"), httpapi.ObserveRequests(s.Metrics)},
		// A command's transaction gets the same bound as the request
		// waiting for it.
		RequestTimeout: cfg.RequestTimeout,
	})
	httpapi.InitRoutes(s.Handler, s.Metrics)
	return s, nil
}

// newPubSub opens the configured broker; the SQL broker shares the
// store's database pool.
func (s *Service) newPubSub(logger watermill.LoggerAdapter) (messagebus.PubSub, error) {
	cfg := pubsub.BrokerConfig{
		Kind:             s.Config.Broker,
		RedisAddr:        s.Config.RedisAddr,
		SQLPollInterval:  s.Config.SQLPollInterval,
		IdlePollInterval: s.Config.IdlePollInterval,
		// Other services publish there without waking this process.
		ExternalTopics: []string{contracts.ChangeBatchQuantityTopic},
		TopicPrefix:    s.Config.TopicPrefix,
		// Not demoted like Watermill's own info lines.
		StateLogger: watermill.NewSlogLogger(s.Logger),
	}
	if s.Config.Broker == config.BrokerSQL {
		ctx, cancel := context.WithTimeout(s.lifetime, startupTimeout)
		defer cancel()
		db, err := s.database(ctx)
		if err != nil {
			return nil, err
		}
		cfg.DB = db
		handlerDB, err := s.openHandlerDatabase(ctx)
		if err != nil {
			return nil, err
		}
		cfg.HandlerDB = handlerDB
	}
	broker, err := pubsub.OpenBroker(s.lifetime, cfg, logger)
	if err != nil {
		return nil, err
	}
	s.handlerPublisher, err = s.Metrics.DecoratePublisher(tracing.DecoratePublisher(broker.HandlerPublisher, messagingSystem(s.Config.Broker)))
	if err != nil {
		return nil, errors.Join(err, broker.Close())
	}
	s.closers = append(s.closers, broker.Close)
	if s.Config.Broker == config.BrokerRedis && s.Config.RedisPubSubBridge {
		if err := s.addRedisPubSubBridge(); err != nil {
			return nil, err
		}
	}
	if broker.Ping != nil {
		s.readiness = append(s.readiness, httpapi.ReadinessCheck{Name: broker.PingName, Check: broker.Ping})
	}
	s.Poison = broker.Poison
	s.wakeSubscribers = broker.Wake
	s.workers = append(s.workers, broker.Workers...)
	s.relay = postgres.RelayDestination{Publisher: broker.RelayPublisher, Flush: broker.FlushRelay}
	return broker.PubSub, nil
}

func (s *Service) newStore(ps messagebus.PubSub, bus *messagebus.MessageBus, logger watermill.LoggerAdapter) (app.UnitOfWork, app.AllocationsView, app.HandledEvents, error) {
	switch s.Config.Store {
	case config.StoreMemory:
		return tracing.DecorateUnitOfWork(memory.NewUnitOfWork(messagebus.NewBusEventPublisher(bus.EventBus)), "memory"), memory.NewAllocationsView(),
			memory.NewHandledEvents(memory.DefaultHandledEventsCapacity), nil
	case config.StorePostgres:
		uow, view, err := s.newPostgresStore(ps, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		return tracing.DecorateUnitOfWork(uow, "postgresql"), view, postgres.NewPostgresHandledEvents(s.handlerWrites()), nil
	default:
		return nil, nil, nil, fmt.Errorf("STORE=%s is not supported", s.Config.Store)
	}
}

// newPostgresStore opens the database, migrates it and sets up the
// transactional outbox: with the SQL broker events are written straight
// to their topic tables in the command's transaction; with another broker
// they are written to the outbox table and a forwarder relays them.
func (s *Service) newPostgresStore(ps messagebus.PubSub, logger watermill.LoggerAdapter) (app.UnitOfWork, app.AllocationsView, error) {
	ctx, cancel := context.WithTimeout(s.lifetime, startupTimeout)
	defer cancel()
	db, err := s.database(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		return nil, nil, fmt.Errorf("migrating the database: %w", err)
	}
	outbox := postgres.RelayedOutbox
	var topics []string
	if s.Config.Broker == config.BrokerSQL {
		// Events go straight to their topic tables, under the prefix the
		// subscribers read.
		prefix := s.Config.TopicPrefix
		sqlOutbox := postgres.SQLOutbox(logger)
		outbox = func(tx *sql.Tx) (message.Publisher, error) {
			pub, err := sqlOutbox(tx)
			if err != nil {
				return nil, err
			}
			return pubsub.NewNamespacedPublisher(pub, prefix), nil
		}
		topics = nil
		for _, t := range postgres.EventTopics() {
			topics = append(topics, prefix+t)
		}
	}
	if err := postgres.InitializeSQLTopics(ctx, db, topics); err != nil {
		return nil, nil, fmt.Errorf("creating outbox tables: %w", err)
	}
	// What reads the committed events (the relay, or the SQL broker's
	// subscribers) polls at once after this process commits some, and
	// rarely while idle.
	commits := postgres.NewOutboxSignal()
	notify := commits.Notify
	if s.Config.Broker == config.BrokerSQL && s.wakeSubscribers != nil {
		notify = s.wakeSubscribers
	}
	uow, err := postgres.NewPostgresUnitOfWork(db, traceOutbox(outbox, messagingSystem(s.Config.Broker)), logger, postgres.WithCommitNotify(notify))
	if err != nil {
		return nil, nil, err
	}
	if s.Config.Broker != config.BrokerSQL {
		destination := postgres.RelayDestination{Publisher: ps.Publisher()}
		if s.relay.Publisher != nil {
			pub, err := s.Metrics.DecoratePublisher(tracing.DecoratePublisher(s.relay.Publisher, messagingSystem(s.Config.Broker)))
			if err != nil {
				return nil, nil, err
			}
			destination = postgres.RelayDestination{Publisher: pub, Flush: s.relay.Flush}
		}
		relay, err := postgres.NewOutboxRelay(db, destination, postgres.RelayPolling{
			Interval:     s.Config.OutboxPollInterval,
			IdleInterval: s.Config.IdlePollInterval,
			Signal:       commits,
		}, logger)
		if err != nil {
			return nil, nil, err
		}
		// A worker starts after the router runs: the in-memory broker drops
		// what is published to a topic nobody subscribes to yet. Cancelling
		// its context stops it; Close is not called as well, because on a
		// router that never ran or already stopped it waits for handlers
		// that will never finish.
		s.workers = append(s.workers, relay.Run)
		s.readiness = append(s.readiness, httpapi.ReadinessCheck{Name: "outbox", Check: postgres.OutboxReadiness(db, outboxBacklogLimit)})
	}
	return uow, postgres.NewPostgresAllocationsView(s.handlerWrites()), nil
}

// handlerWrites is the pool for event handlers' own writes: handlerDB on
// the SQL broker, else the store's.
func (s *Service) handlerWrites() *sql.DB {
	if s.handlerDB != nil {
		return s.handlerDB
	}
	return s.db
}

// openHandlerDatabase opens handlerDB (SQL broker, once, from newPubSub).
// A crash of PostgreSQL may lose the last writes committed through it, but
// only together with the acknowledgements of the events that caused them,
// which are then delivered and handled again; see
// postgres.OpenAsynchronousCommit.
func (s *Service) openHandlerDatabase(ctx context.Context) (*sql.DB, error) {
	db, err := postgres.OpenAsynchronousCommit(ctx, s.Config.DatabaseURL, postgres.WithResponseTimeout(s.Config.DatabaseTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL (event handlers' pool): %w", err)
	}
	s.handlerDB = db
	s.closers = append(s.closers, db.Close)
	return db, nil
}

// database opens the PostgreSQL pool once; store and SQL broker share it.
func (s *Service) database(ctx context.Context) (*sql.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	db, err := postgres.Open(ctx, s.Config.DatabaseURL, postgres.WithResponseTimeout(s.Config.DatabaseTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	s.db = db
	s.closers = append(s.closers, db.Close)
	s.readiness = append(s.readiness, httpapi.ReadinessCheck{Name: "postgres", Check: db.PingContext})
	return db, nil
}

// Start runs the router and the workers and returns once the router's
// subscribers are up, so that nothing is published to a topic nobody
// listens to yet. Errors after start are reported by Stop and Done.
func (s *Service) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.routerError = make(chan error, 1)
	s.failed = make(chan error, 1)
	go func() { s.routerError <- s.Bus.Router.Run(runCtx) }()
	select {
	case <-s.Bus.Router.Running():
	case err := <-s.routerError:
		cancel()
		return fmt.Errorf("message router: %w", err)
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// An error once the service is stopping is the stop itself
			// (a subscription cut short), not a failure.
			if err := w(runCtx); err != nil && runCtx.Err() == nil {
				s.recordError(err)
			}
		}()
	}
	return nil
}

// RouterDone is closed with the router's error when it stops by itself.
func (s *Service) RouterDone() <-chan error { return s.routerError }

func (s *Service) recordError(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.runErr = errors.Join(s.runErr, err)
	s.Logger.Error("background worker failed", "error", err)
	select {
	case s.failed <- err:
	default:
	}
}

// Failed receives the first error of a background worker (the outbox
// relay): the service cannot keep its promises without it and should stop,
// so that it is restarted.
func (s *Service) Failed() <-chan error { return s.failed }

// Stop stops the router (waiting for messages in flight), the workers,
// and releases every resource.
func (s *Service) Stop() error {
	var err error
	if s.Bus != nil && s.cancel != nil {
		err = s.Bus.Router.Close()
		s.cancel()
		s.wg.Wait()
	}
	// Commands already queued for a product still commit before the store
	// closes; new ones are refused.
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	err = errors.Join(err, s.App.Close(drainCtx))
	cancelDrain()
	s.errMu.Lock()
	err = errors.Join(err, s.runErr)
	s.errMu.Unlock()
	return errors.Join(err, s.close())
}

func (s *Service) close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}
