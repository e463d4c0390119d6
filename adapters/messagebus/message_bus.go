package messagebus

import (
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
)

// HandlerRetryPolicy is how a failing message handler is retried before
// its message is parked in the poison queue. Permanent errors skip it.
type HandlerRetryPolicy struct {
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// MessageBusConfig configures the message bus.
type MessageBusConfig struct {
	PubSub PubSub
	Logger watermill.LoggerAdapter
	Retry  HandlerRetryPolicy
	// Outage is how long a handler waits for a dependency that is away
	// before its error counts as a failure; zero turns waiting off.
	Outage OutagePolicy
	// CloseTimeout bounds how long closing the router waits for handlers.
	CloseTimeout time.Duration
	// OnRetry and OnPoisoned are hooks for metrics; may be nil.
	OnRetry    func()
	OnPoisoned func(handler string)
	// OnOutageWait is called on every attempt that found a dependency away.
	OnOutageWait func()
	// Middlewares run inside the poison queue and retry, around every
	// handler attempt (logging, metrics).
	Middlewares []message.HandlerMiddleware
}

// MessageBus is the router with the command and event buses and their
// processors. Handlers are added with AddHandlers, then Router.Run starts it.
type MessageBus struct {
	Router           *message.Router
	CommandBus       *cqrs.CommandBus
	EventBus         *cqrs.EventBus
	commandProcessor *cqrs.CommandProcessor
	eventProcessor   *cqrs.EventProcessor
}

// NewMessageBus builds the router with its middleware and the buses.
func NewMessageBus(cfg MessageBusConfig) (*MessageBus, error) {
	if cfg.PubSub == nil {
		return nil, errors.New("message bus: no pub/sub")
	}
	if cfg.Logger == nil {
		cfg.Logger = watermill.NopLogger{}
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	publisher := cfg.PubSub.Publisher()
	if err := addMiddlewares(router, cfg, publisher); err != nil {
		return nil, err
	}
	commandBus, err := NewCommandBus(publisher, cfg.Logger)
	if err != nil {
		return nil, err
	}
	eventBus, err := NewEventBus(publisher, cfg.Logger)
	if err != nil {
		return nil, err
	}
	commandProcessor, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return CommandTopic(p.CommandName), nil
		},
		SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return cfg.PubSub.Subscriber(ConsumerGroup(p.HandlerName))
		},
		Marshaler: Marshaler(),
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	eventProcessor, err := cqrs.NewEventProcessorWithConfig(router, cqrs.EventProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.EventProcessorGenerateSubscribeTopicParams) (string, error) {
			return EventTopic(p.EventName), nil
		},
		// Events of one group may be handled concurrently; commands keep
		// their order.
		SubscriberConstructor: func(p cqrs.EventProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return cfg.PubSub.ConcurrentSubscriber(ConsumerGroup(p.HandlerName))
		},
		Marshaler: Marshaler(),
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &MessageBus{
		Router:           router,
		CommandBus:       commandBus,
		EventBus:         eventBus,
		commandProcessor: commandProcessor,
		eventProcessor:   eventProcessor,
	}, nil
}

// addMiddlewares puts the failure rules around every handler. Order
// matters: the first middleware is the outermost. The handler workers come
// first so that the whole chain runs on them. PoisonQueue must see the
// error only after Retry has given up (Watermill issues 580, 645).
func addMiddlewares(router *message.Router, cfg MessageBusConfig, publisher message.Publisher) error {
	poison, err := middleware.PoisonQueue(&poisonCounter{publisher: publisher, onPoisoned: cfg.OnPoisoned}, PoisonTopic)
	if err != nil {
		return err
	}
	router.AddMiddleware(
		handlerWorkers(),
		poison,
		retry(cfg),
		// Inside Retry: while the database or broker is away the message
		// waits for it and counts no retries; Retry and PoisonQueue see
		// the error only once the outage outlasts the policy.
		waitOutDependencies(cfg.Outage, cfg.OnOutageWait),
		middleware.Recoverer,
		middleware.CorrelationID,
	)
	router.AddMiddleware(cfg.Middlewares...)
	return nil
}

// retry retries what may succeed later with exponential backoff; the
// error's kind says which errors are permanent.
func retry(cfg MessageBusConfig) message.HandlerMiddleware {
	return middleware.Retry{
		MaxRetries:          cfg.Retry.MaxRetries,
		InitialInterval:     cfg.Retry.InitialInterval,
		MaxInterval:         cfg.Retry.MaxInterval,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ResetContextOnRetry: true,
		ShouldRetry: func(p middleware.RetryParams) bool {
			retry := !app.IsPermanent(p.Err)
			if retry && cfg.OnRetry != nil {
				cfg.OnRetry()
			}
			return retry
		},
		// No logger: LogMessages reports every failed attempt with the
		// message's correlation id, which Retry's own log line lacks.
	}.Middleware
}

// AddHandlers registers the handlers. Every command must have exactly one
// handler; start-up fails otherwise.
func (b *MessageBus) AddHandlers(commands []cqrs.CommandHandler, events []cqrs.EventHandler) error {
	if err := checkOneHandlerPerCommand(commands); err != nil {
		return err
	}
	if err := b.commandProcessor.AddHandlers(commands...); err != nil {
		return err
	}
	return b.eventProcessor.AddHandlers(events...)
}
