// Package broker is the way in from other services' messages: external
// topics are decoded against their contracts and turned into commands.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
	"allocation/contracts"
	"allocation/domain"
)

// ChangeBatchQuantityHandlerName is the router handler's name; its
// consumer group is messagebus.ConsumerGroup of it.
const ChangeBatchQuantityHandlerName = "ChangeBatchQuantityFromBroker"

// ChangeBatchQuantityFunc runs the command, e.g.
// app.Application.ChangeBatchQuantity.Handle.
type ChangeBatchQuantityFunc func(ctx context.Context, cmd *domain.ChangeBatchQuantity) error

// ChangeBatchQuantityConsumer turns change_batch_quantity messages into
// ChangeBatchQuantity commands. A message that breaks the contract is
// rejected with a permanent error, so the router parks it in the poison
// queue at once, with the reason, instead of retrying it.
type ChangeBatchQuantityConsumer struct {
	handle    ChangeBatchQuantityFunc
	validator *contracts.Validator
	logger    *slog.Logger
	now       func() time.Time
}

func NewChangeBatchQuantityConsumer(handle ChangeBatchQuantityFunc, logger *slog.Logger) (*ChangeBatchQuantityConsumer, error) {
	if handle == nil {
		return nil, errors.New("change_batch_quantity consumer: no command handler")
	}
	if logger == nil {
		logger = slog.Default()
	}
	validator, err := contracts.NewValidator(contracts.ChangeBatchQuantityV1)
	if err != nil {
		return nil, err
	}
	return &ChangeBatchQuantityConsumer{handle: handle, validator: validator, logger: logger, now: time.Now}, nil
}

// AddTo registers the consumer on the router, reading the external topic
// with subscriber, which must belong to
// messagebus.ConsumerGroup(ChangeBatchQuantityHandlerName).
func (c *ChangeBatchQuantityConsumer) AddTo(router *message.Router, subscriber message.Subscriber) *message.Handler {
	return router.AddConsumerHandler(ChangeBatchQuantityHandlerName, contracts.ChangeBatchQuantityTopic, subscriber, c.Handle)
}

// Handle is the router handler (message.NoPublishHandlerFunc).
func (c *ChangeBatchQuantityConsumer) Handle(msg *message.Message) error {
	ctx := app.WithCorrelationID(msg.Context(), ensureCorrelationID(msg))
	sequence := c.ensureSequence(msg)
	cmd, err := c.decode(msg)
	if err != nil {
		return app.Permanent(err)
	}
	cmd.Sequence = sequence
	err = c.handle(ctx, cmd)
	var stale domain.StaleChangeError
	if errors.As(err, &stale) {
		// A late or replayed message: the newer change stands.
		c.logger.WarnContext(ctx, "dropped a change_batch_quantity older than the last one applied to its batch",
			"batchref", stale.Ref, "sequence", stale.Sequence, "applied", stale.Applied, "message_uuid", msg.UUID)
		return nil
	}
	return err
}

// ChangeSequenceKey is the metadata key of a change's place in the order
// of changes: written on first receipt, so that a parked copy, replayed
// later, keeps its place and cannot undo a newer change.
const ChangeSequenceKey = "change_sequence"

// ensureSequence returns the message's place in the order of changes: the
// one it was given on first receipt; else its place in the broker's order
// (contracts.BrokerOrderKey, "ms-seq"); else the time it is read, in the same
// form. Fixed-width numbers compare as strings.
func (c *ChangeBatchQuantityConsumer) ensureSequence(msg *message.Message) string {
	if s := msg.Metadata.Get(ChangeSequenceKey); s != "" {
		return s
	}
	var ms, seq uint64
	if _, err := fmt.Sscanf(msg.Metadata.Get(contracts.BrokerOrderKey), "%d-%d", &ms, &seq); err != nil {
		now := c.now()
		ms, seq = uint64(now.UnixMilli()), uint64(now.Nanosecond()%int(time.Millisecond))
	}
	s := fmt.Sprintf("%020d-%020d", ms, seq)
	msg.Metadata.Set(ChangeSequenceKey, s)
	return s
}

func (c *ChangeBatchQuantityConsumer) decode(msg *message.Message) (*domain.ChangeBatchQuantity, error) {
	if reason := msg.Metadata.Get(contracts.MalformedReasonKey); reason != "" {
		return nil, &InvalidMessageError{Topic: contracts.ChangeBatchQuantityTopic, Reason: reason}
	}
	if err := c.validator.Validate(msg.Payload); err != nil {
		return nil, &InvalidMessageError{Topic: contracts.ChangeBatchQuantityTopic, Reason: err.Error(), Err: err}
	}
	var payload contracts.ChangeBatchQuantityPayload
	if err := json.Unmarshal(msg.Payload, &payload); err != nil {
		// The schema accepted it, so this is a disagreement between the
		// schema and the payload type: still the message's fault.
		return nil, &InvalidMessageError{Topic: contracts.ChangeBatchQuantityTopic, Reason: err.Error(), Err: err}
	}
	qty, err := wholeNumber(payload.Qty)
	if err != nil {
		return nil, &InvalidMessageError{Topic: contracts.ChangeBatchQuantityTopic, Reason: "qty: " + err.Error(), Err: err}
	}
	return &domain.ChangeBatchQuantity{Ref: payload.BatchRef, Qty: qty}, nil
}

// wholeNumber reads an integer the schema has accepted, which may be
// written 5, 5.0 or 5e0.
func wholeNumber(n json.Number) (int, error) {
	f, err := n.Float64()
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("%s is not a whole number in range", n)
	}
	return int(f), nil
}

// ensureCorrelationID returns the message's correlation id, giving it one
// when it came without (outside clients need not send one): the message
// UUID, which is stable across redeliveries. One sent longer than
// app.MaxCorrelationIDBytes is cut to that size. It is also written to the
// message so that a poisoned copy carries it.
func ensureCorrelationID(msg *message.Message) string {
	if id := middleware.MessageCorrelationID(msg); id != "" {
		if bounded := app.BoundCorrelationID(id); bounded != id {
			// SetCorrelationID keeps an id already set.
			msg.Metadata.Set(middleware.CorrelationIDMetadataKey, bounded)
			return bounded
		}
		return id
	}
	id := msg.UUID
	if id == "" {
		id = watermill.NewUUID()
	}
	middleware.SetCorrelationID(id, msg)
	return id
}
