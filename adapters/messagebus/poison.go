package messagebus

import (
	"context"
	"errors"
	"fmt"
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

// ErrNoLongerParked is what a replay of one message returns when someone
// else replayed it meanwhile.
var ErrNoLongerParked = errors.New("no longer parked")

// ReplayParked is a poison queue's Replay: it chooses the parked messages
// (all when ids is empty; an unknown id fails the call before anything is
// replayed) and replays each with replayOne. A message that cannot be
// replayed stays parked; the others are still replayed, and the errors are
// joined. A message no longer parked is skipped, unless it was named.
func ReplayParked(ctx context.Context, ids []string,
	choose func(context.Context, []string) ([]app.ParkedMessage, error),
	replayOne func(context.Context, app.ParkedMessage) error,
) ([]string, error) {
	chosen, err := choose(ctx, ids)
	if err != nil {
		return nil, err
	}
	var replayed []string
	var errs []error
	for _, p := range chosen {
		err := replayOne(ctx, p)
		switch {
		case errors.Is(err, ErrNoLongerParked):
			if len(ids) > 0 {
				errs = append(errs, app.UnknownParkedMessageError{ID: p.ID})
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("replaying %s: %w", p.ID, err))
		default:
			replayed = append(replayed, p.ID)
		}
	}
	return replayed, errors.Join(errs...)
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
