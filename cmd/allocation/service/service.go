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
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"allocation/adapters/external"
	"allocation/adapters/messagebus"
	"allocation/adapters/metrics"
	"allocation/adapters/notify"
	"allocation/app"
	"allocation/config"
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

	// db is the store's and SQL broker's pool, handlerWrites the event
	// handlers' (nil without PostgreSQL).
	db, handlerWrites *sql.DB
	// workers run beside the router (outbox relay, Redis trimmer, ...).
	workers   []func(ctx context.Context) error
	resources *resources
	run       *lifecycle
}

// startupTimeout bounds connecting to and preparing the store and broker.
const startupTimeout = 30 * time.Second

// New builds the service from the configuration. Nothing runs until Start.
func New(cfg config.Config, logger *slog.Logger) (svc *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &resources{}
	defer func() {
		if err != nil {
			err = errors.Join(err, res.close())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	wmLogger := newWatermillLogger(logger)
	m := metrics.New()

	db, err := openDatabase(ctx, cfg, res)
	if err != nil {
		return nil, err
	}
	deps := brokerDeps{cfg: cfg, db: db, metrics: m, logger: logger, wmLogger: wmLogger, resources: res}
	brk, err := openBroker(ctx, deps)
	if err != nil {
		return nil, err
	}
	ps, err := deps.instrumentPubSub(brk.pubSub)
	if err != nil {
		return nil, err
	}
	bus, err := newMessageBus(cfg, ps, m, logger, wmLogger)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, db, brk, bus.EventBus, wmLogger)
	if err != nil {
		return nil, err
	}
	application, err := newApplication(cfg, st, bus, brk.handlerPublisher, m, logger)
	if err != nil {
		return nil, err
	}
	if err := bus.AddHandlers(application.CommandHandlers(), application.EventHandlers()); err != nil {
		return nil, fmt.Errorf("registering handlers: %w", err)
	}
	if err := addInboundConsumers(bus, ps, application, logger); err != nil {
		return nil, err
	}
	for name := range bus.Router.Handlers() {
		m.InitHandler(name)
	}
	handler := newHTTPHandler(cfg, application, bus, brk.poison, m, logger, append(append(databaseReadiness(db), brk.readiness...), st.readiness...))
	return &Service{
		Config: cfg, Logger: logger, Bus: bus, App: application, Handler: handler, Metrics: m, Poison: brk.poison, PubSub: ps,
		db: db, handlerWrites: handlerWrites(db, brk),
		workers:   append(brk.workers, st.workers...),
		resources: res,
	}, nil
}

// newMessageBus builds the router, its middleware and the buses on ps.
func newMessageBus(cfg config.Config, ps messagebus.PubSub, m *metrics.Metrics, logger *slog.Logger, wmLogger watermill.LoggerAdapter) (*messagebus.MessageBus, error) {
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:       ps,
		Logger:       wmLogger,
		Retry:        messagebus.HandlerRetryPolicy{MaxRetries: cfg.RetryMax, InitialInterval: cfg.RetryInitialInterval, MaxInterval: cfg.RetryMaxInterval},
		CloseTimeout: cfg.ShutdownTimeout,
		Outage:       messagebus.OutagePolicy{MaxElapsed: cfg.OutageMaxElapsed, MaxInterval: cfg.OutageMaxInterval},
		OnOutageWait: m.WaitedForOutage,
		OnRetry:      m.Retried,
		OnPoisoned:   m.Poisoned,
		Middlewares:  []message.HandlerMiddleware{traceMessages(cfg.Broker), messagebus.LogMessages(logger)},
	})
	if err != nil {
		return nil, err
	}
	m.InstrumentRouter(bus.Router)
	return bus, nil
}

// newHTTPHandler builds the HTTP port.
func newHTTPHandler(cfg config.Config, application app.Application, bus *messagebus.MessageBus, poison app.PoisonQueue, m *metrics.Metrics, logger *slog.Logger, readiness []httpapi.ReadinessCheck) http.Handler {
	handler := httpapi.NewHandler(httpapi.Config{
		App:         application,
		Commands:    bus.CommandBus,
		Logger:      logger,
		Readiness:   readiness,
		Poison:      poison,
		AdminToken:  cfg.AdminToken,
		Metrics:     m.Handler(),
		Middlewares: []gin.HandlerFunc{otelgin.Middleware("allocation"), httpapi.ObserveRequests(m)},
		// A command's transaction gets the same bound as the request
		// waiting for it.
		RequestTimeout: cfg.RequestTimeout,
	})
	httpapi.InitRoutes(handler, m)
	return handler
}

// databaseReadiness checks the PostgreSQL pool, when there is one.
func databaseReadiness(db *sql.DB) []httpapi.ReadinessCheck {
	if db == nil {
		return nil
	}
	return []httpapi.ReadinessCheck{{Name: "postgres", Check: db.PingContext}}
}

// newApplication builds the service layer on the store and the bus.
func newApplication(cfg config.Config, st store, bus *messagebus.MessageBus, handlerPublisher message.Publisher, m *metrics.Metrics, logger *slog.Logger) (app.Application, error) {
	var notifier app.Notifier = notify.NewLogNotifier(logger)
	if cfg.SMTPAddr != "" {
		notifier = notify.NewSMTPNotifier(cfg.SMTPAddr, cfg.SMTPFrom, []string{cfg.NotifyTo})
	}
	lineAllocated, err := external.NewLineAllocatedPublisher(handlerPublisher)
	if err != nil {
		return app.Application{}, err
	}
	return app.NewApplication(app.Dependencies{
		UnitOfWork:     st.uow,
		View:           st.view,
		Notifier:       notifier,
		HandledEvents:  st.handled,
		Commands:       bus.CommandBus,
		ExternalEvents: lineAllocated,
		ConflictRetry: app.ConflictRetryPolicy{
			MaxRetries: cfg.ConflictRetries, InitialInterval: cfg.ConflictRetryInitialInterval, MaxInterval: cfg.ConflictRetryMaxInterval,
		},
		OnConflict:     m.Conflict,
		CommandTimeout: cfg.RequestTimeout,
	})
}

// addInboundConsumers subscribes to the external topics other services
// publish on (the book's Redis consumer).
func addInboundConsumers(bus *messagebus.MessageBus, ps messagebus.PubSub, application app.Application, logger *slog.Logger) error {
	consumer, err := broker.NewChangeBatchQuantityConsumer(application.ChangeBatchQuantity.Handle, logger)
	if err != nil {
		return err
	}
	sub, err := ps.Subscriber(messagebus.ConsumerGroup(broker.ChangeBatchQuantityHandlerName))
	if err != nil {
		return err
	}
	consumer.AddTo(bus.Router, sub)
	return nil
}
