package messagebus

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	gojson "github.com/goccy/go-json"

	"allocation/app"
	"allocation/domain"
)

// Marshaler is the JSON marshaler of every command and event, named by the
// bare struct name ("Allocate", "Allocated").
func Marshaler() cqrs.CommandEventMarshaler {
	return jsonMarshaler{names: cqrs.JSONMarshaler{GenerateName: cqrs.StructName}}
}

// jsonMarshaler is Watermill's JSONMarshaler (same payloads, same "name"
// metadata) on goccy/go-json, a drop-in encoding/json that costs the
// in-memory service less CPU (BENCHMARKS.md). A payload that does not
// decode is a permanent error: no retry can fix it.
type jsonMarshaler struct {
	names cqrs.JSONMarshaler
}

func (m jsonMarshaler) Marshal(v any) (*message.Message, error) {
	b, err := gojson.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(watermill.NewUUID(), b)
	msg.Metadata.Set("name", m.names.Name(v))
	return msg, nil
}

func (jsonMarshaler) Unmarshal(msg *message.Message, v any) error {
	if err := gojson.Unmarshal(msg.Payload, v); err != nil {
		return app.Permanent(fmt.Errorf("decoding %s payload: %w", msg.Metadata.Get("name"), err))
	}
	return nil
}

func (m jsonMarshaler) Name(v any) string { return m.names.Name(v) }

func (m jsonMarshaler) NameFromMessage(msg *message.Message) string {
	return m.names.NameFromMessage(msg)
}

// stampCorrelationID puts the correlation id of ctx on msg, or a new one
// when there is none (the message starts a new conversation).
func stampCorrelationID(ctx context.Context, msg *message.Message) {
	id := app.CorrelationIDFromContext(ctx)
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
				p.Message.UUID = app.EventID(e)
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
