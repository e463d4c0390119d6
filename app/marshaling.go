package app

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"allocation/domain"
)

// eventIDNamespace makes event ids name-based UUIDs (v5) of the event's key.
var eventIDNamespace = uuid.MustParse("6f1c2a52-4d7e-4f0b-9a53-3c1b8c0d2e11")

// Marshaler is the JSON marshaler of every command and event, named by the
// bare struct name ("Allocate", "Allocated").
func Marshaler() cqrs.CommandEventMarshaler {
	return cqrs.JSONMarshaler{GenerateName: cqrs.StructName}
}

// EventID is the stable id of an event: the same fact always gets the same
// id, which is used as the message UUID so that consumers can drop
// duplicates.
func EventID(e domain.Event) string {
	return uuid.NewSHA1(eventIDNamespace, []byte(e.Key())).String()
}

// stampCorrelationID puts the correlation id of ctx on msg, or a new one
// when there is none (the message starts a new conversation).
func stampCorrelationID(ctx context.Context, msg *message.Message) {
	id := CorrelationIDFromContext(ctx)
	if id == "" {
		id = watermill.NewUUID()
	}
	middleware.SetCorrelationID(id, msg)
}

// NewEventBus builds an event bus on a publisher. The PostgreSQL store
// builds one per transaction on the transaction's publisher (the outbox).
func NewEventBus(publisher message.Publisher, logger watermill.LoggerAdapter) (*cqrs.EventBus, error) {
	return cqrs.NewEventBusWithConfig(publisher, cqrs.EventBusConfig{
		GeneratePublishTopic: func(p cqrs.GenerateEventPublishTopicParams) (string, error) {
			return EventTopic(p.EventName), nil
		},
		OnPublish: func(p cqrs.OnEventSendParams) error {
			if e, ok := p.Event.(domain.Event); ok {
				p.Message.UUID = EventID(e)
			}
			stampCorrelationID(p.Message.Context(), p.Message)
			return nil
		},
		Marshaler: Marshaler(),
		Logger:    logger,
	})
}

// NewCommandBus builds the command bus for asynchronous commands.
func NewCommandBus(publisher message.Publisher, logger watermill.LoggerAdapter) (*cqrs.CommandBus, error) {
	return cqrs.NewCommandBusWithConfig(publisher, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return CommandTopic(p.CommandName), nil
		},
		OnSend: func(p cqrs.CommandBusOnSendParams) error {
			stampCorrelationID(p.Message.Context(), p.Message)
			return nil
		},
		Marshaler: Marshaler(),
		Logger:    logger,
	})
}

// BusEventPublisher publishes recorded events on an event bus.
type BusEventPublisher struct {
	bus *cqrs.EventBus
}

func NewBusEventPublisher(bus *cqrs.EventBus) BusEventPublisher { return BusEventPublisher{bus: bus} }

func (p BusEventPublisher) PublishEvents(ctx context.Context, events []domain.Event) error {
	for _, e := range events {
		if err := p.bus.Publish(ctx, e); err != nil {
			return fmt.Errorf("publishing %T: %w", e, err)
		}
	}
	return nil
}
