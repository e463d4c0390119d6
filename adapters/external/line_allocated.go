// Package external publishes the facts other services subscribe to, in
// the shape of their contracts (package contracts), never the internal
// events themselves.
package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
	"allocation/contracts"
	"allocation/domain"
)

// LineAllocatedPublisher implements app.ExternalEventPublisher: every
// Allocated becomes a line_allocated message.
type LineAllocatedPublisher struct {
	publisher message.Publisher
}

func NewLineAllocatedPublisher(publisher message.Publisher) (*LineAllocatedPublisher, error) {
	if publisher == nil {
		return nil, errors.New("line_allocated publisher: no message publisher")
	}
	return &LineAllocatedPublisher{publisher: publisher}, nil
}

// PublishLineAllocated publishes the allocation with the message UUID
// app.EventID(e), the same for every redelivery of the same fact, so that
// consumers can drop duplicates, and the correlation id of ctx.
func (p *LineAllocatedPublisher) PublishLineAllocated(ctx context.Context, e domain.Allocated) error {
	msg, err := LineAllocatedMessage(ctx, e)
	if err != nil {
		return err
	}
	if err := p.publisher.Publish(contracts.LineAllocatedTopic, msg); err != nil {
		return fmt.Errorf("publishing %s for order %s: %w", contracts.LineAllocatedTopic, e.OrderID, err)
	}
	return nil
}

// LineAllocatedMessage builds the line_allocated message of an allocation.
// The payload is built field by field from the contract type, so fields
// added to domain.Allocated (such as Version) stay internal.
func LineAllocatedMessage(ctx context.Context, e domain.Allocated) (*message.Message, error) {
	payload, err := json.Marshal(contracts.LineAllocatedPayload{
		OrderID:  e.OrderID,
		SKU:      e.SKU,
		Qty:      e.Qty,
		BatchRef: e.BatchRef,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", contracts.LineAllocatedV1, err)
	}
	msg := message.NewMessage(app.EventID(e), payload)
	correlationID := app.CorrelationIDFromContext(ctx)
	if correlationID == "" {
		// Every message carries one; this one starts a conversation.
		correlationID = watermill.NewUUID()
	}
	middleware.SetCorrelationID(correlationID, msg)
	msg.Metadata.Set(contracts.ContractKey, string(contracts.LineAllocatedV1))
	msg.SetContext(ctx)
	return msg, nil
}
