package app

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// ParkedMessage is a message in the poison queue with why it is there.
type ParkedMessage struct {
	// ID identifies the message in the poison queue (broker specific).
	ID            string            `json:"id"`
	UUID          string            `json:"uuid"`
	Topic         string            `json:"topic"`
	Handler       string            `json:"handler"`
	Reason        string            `json:"reason"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	ParkedAt      time.Time         `json:"parked_at"`
	Payload       string            `json:"payload"`
	Metadata      map[string]string `json:"metadata"`
}

// PoisonQueue lists parked messages and sends them back to the topic they
// failed on. Replaying removes what was replayed from the queue.
type PoisonQueue interface {
	List(ctx context.Context) ([]ParkedMessage, error)
	// Replay sends back the messages with the given ids, or every parked
	// message when ids is empty, and returns the ids replayed.
	Replay(ctx context.Context, ids []string) ([]string, error)
}

// ParkedFromMessage describes a message read from the poison topic.
func ParkedFromMessage(id string, msg *message.Message, parkedAt time.Time) ParkedMessage {
	md := map[string]string{}
	for k, v := range msg.Metadata {
		md[k] = v
	}
	return ParkedMessage{
		ID:            id,
		UUID:          msg.UUID,
		Topic:         msg.Metadata.Get(middleware.PoisonedTopicKey),
		Handler:       msg.Metadata.Get(middleware.PoisonedHandlerKey),
		Reason:        msg.Metadata.Get(middleware.ReasonForPoisonedKey),
		CorrelationID: middleware.MessageCorrelationID(msg),
		ParkedAt:      parkedAt,
		Payload:       string(msg.Payload),
		Metadata:      md,
	}
}

// ReplayMessage rebuilds the original message from a parked one: same
// UUID (so consumers that de-duplicate still can), payload and metadata,
// without the poison queue's own keys.
func ReplayMessage(p ParkedMessage) (topic string, msg *message.Message) {
	msg = message.NewMessage(p.UUID, []byte(p.Payload))
	for k, v := range p.Metadata {
		switch k {
		case middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey, ParkedAtKey:
			continue
		}
		msg.Metadata.Set(k, v)
	}
	return p.Topic, msg
}

// ParkedAtKey is the metadata key with the time a message was parked.
const ParkedAtKey = "parked_at"

// UnknownParkedMessageError is returned when replaying an id that is not parked.
type UnknownParkedMessageError struct{ ID string }

func (e UnknownParkedMessageError) Error() string { return "no parked message with id " + e.ID }
