package messagebus

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
)

// ParkedFromMessage describes a message read from the poison topic.
func ParkedFromMessage(id string, msg *message.Message, parkedAt time.Time) app.ParkedMessage {
	md := map[string]string{}
	for k, v := range msg.Metadata {
		md[k] = v
	}
	return app.ParkedMessage{
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
func ReplayMessage(p app.ParkedMessage) (topic string, msg *message.Message) {
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

// poisonCounter stamps the time a message is parked, bounds its reason
// (MaxPoisonReasonBytes: the error may quote megabytes of input) and
// counts it.
type poisonCounter struct {
	publisher  message.Publisher
	onPoisoned func(handler string)
}

func (p *poisonCounter) Publish(topic string, msgs ...*message.Message) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, m := range msgs {
		m.Metadata.Set(ParkedAtKey, now)
		m.Metadata.Set(middleware.ReasonForPoisonedKey, app.TruncateForLog(m.Metadata.Get(middleware.ReasonForPoisonedKey), app.MaxPoisonReasonBytes))
	}
	if err := p.publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	if p.onPoisoned != nil {
		for _, m := range msgs {
			p.onPoisoned(m.Metadata.Get(middleware.PoisonedHandlerKey))
		}
	}
	return nil
}

func (p *poisonCounter) Close() error { return nil }
