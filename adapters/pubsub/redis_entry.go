package pubsub

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"allocation/contracts"
)

// Field names of a Redis stream entry. The format is plain on purpose: an
// outside client with nothing but redis-cli can write an entry
// (XADD topic * payload '{...}') and read one (XRANGE topic - +).
//
//	payload         the message payload, raw bytes (JSON)
//	uuid            the message UUID; optional on entries written by others
//	correlation_id  the correlation id; optional
//	traceparent     the W3C trace context (traceparent header format); optional
//	tracestate      the W3C tracestate, when there is one; optional
//	md_<key>        every other metadata key, one field each
//
// Any other field is ignored on read, except watermill's default
// _watermill_message_uuid, taken as the UUID when there is no uuid field.
// An md_ copy of a plain field (md_correlation_id, md_traceparent, as
// older versions wrote the trace context) is read too; the plain field
// wins.
const (
	RedisPayloadField       = "payload"
	RedisUUIDField          = "uuid"
	RedisCorrelationIDField = "correlation_id"
	RedisTraceparentField   = "traceparent"
	RedisTracestateField    = "tracestate"
	RedisMetadataPrefix     = "md_"
)

// redisPlainFields maps the metadata keys written as plain fields to their
// field names; the trace context keys are the W3C names the propagator
// writes into the metadata (adapters/tracing).
var redisPlainFields = map[string]string{
	middleware.CorrelationIDMetadataKey: RedisCorrelationIDField,
	"traceparent":                       RedisTraceparentField,
	"tracestate":                        RedisTracestateField,
}

// redisPlainFieldKeys is the inverse of redisPlainFields.
var redisPlainFieldKeys = func() map[string]string {
	keys := make(map[string]string, len(redisPlainFields))
	for key, field := range redisPlainFields {
		keys[field] = key
	}
	return keys
}()

// RedisEntryIDMetadataKey is the ID of the stream entry a message was read
// from, set on every message the subscriber hands out (an operator can find
// the entry; it is not written back when the message is published again).
const RedisEntryIDMetadataKey = contracts.BrokerOrderKey

// entryUUIDNamespace makes the UUIDs of entries without a uuid field
// name-based (v5) UUIDs of stream and entry ID: redelivering the entry, or
// a dead consumer's entry claimed by another, keeps the same UUID, so
// handlers can de-duplicate.
var entryUUIDNamespace = uuid.MustParse("2b0e4f4e-8d7a-4a53-9b84-51c0a4a1f6e3")

// RedisEntryMarshaller writes the plain entry format above (the
// marshaller of redisstream's publisher); decodeRedisEntry reads it.
type RedisEntryMarshaller struct{}

func (RedisEntryMarshaller) Marshal(_ string, msg *message.Message) (map[string]any, error) {
	values := map[string]any{
		RedisUUIDField:    msg.UUID,
		RedisPayloadField: []byte(msg.Payload),
	}
	for key, value := range msg.Metadata {
		if field, plain := redisPlainFields[key]; plain {
			values[field] = value
			continue
		}
		if key == RedisEntryIDMetadataKey {
			continue // where it was read, not part of the message
		}
		values[RedisMetadataPrefix+key] = value
	}
	return values, nil
}

// decodeRedisEntry reads an entry of stream. It never fails: a malformed
// entry becomes a message marked with contracts.MalformedReasonKey, for the
// handler to reject and the poison queue to park, never an error that
// would end the subscription and leave the entry pending for ever.
func decodeRedisEntry(stream string, entry redis.XMessage) *message.Message {
	values := entry.Values
	var problems []string
	metadata := message.Metadata{}
	var payload []byte
	var msgUUID string
	hasPayload := false

	// Sorted, so that the reason of a malformed entry reads the same on
	// every delivery.
	fields := make([]string, 0, len(values))
	for field := range values {
		fields = append(fields, field)
	}
	sort.Strings(fields)

	for _, field := range fields {
		value, ok := fieldString(values[field])
		if !ok {
			problems = append(problems, fmt.Sprintf("field %q is not a string but %T", field, values[field]))
			continue
		}
		switch {
		case field == RedisPayloadField:
			payload, hasPayload = []byte(value), true
		case field == RedisUUIDField:
			msgUUID = value
		case field == redisstream.UUIDHeaderKey && msgUUID == "":
			// Written by watermill's default marshaller (its msgpack
			// metadata is not read): keep the producer's UUID.
			msgUUID = value
		case redisPlainFieldKeys[field] != "":
			metadata.Set(redisPlainFieldKeys[field], value)
		case strings.HasPrefix(field, RedisMetadataPrefix):
			key := strings.TrimPrefix(field, RedisMetadataPrefix)
			// The plain field wins over an md_ copy of it.
			if _, plain := redisPlainFields[key]; plain && values[redisPlainFields[key]] != nil {
				continue
			}
			metadata.Set(key, value)
		}
	}
	if !hasPayload {
		problems = append(problems, fmt.Sprintf("entry has no %q field", RedisPayloadField))
	}

	if msgUUID == "" {
		msgUUID = derivedEntryUUID(stream, entry.ID)
	}
	metadata.Set(RedisEntryIDMetadataKey, entry.ID)
	if len(problems) > 0 {
		metadata.Set(contracts.MalformedReasonKey, "malformed redis stream entry: "+strings.Join(problems, "; "))
	}

	msg := message.NewMessage(msgUUID, payload)
	msg.Metadata = metadata
	return msg
}

// derivedEntryUUID is the UUID of an entry that came without one.
func derivedEntryUUID(stream, entryID string) string {
	return uuid.NewSHA1(entryUUIDNamespace, []byte(stream+"/"+entryID)).String()
}

// fieldString reads a field value. go-redis gives strings; the other cases
// keep a surprising reply from turning into an error.
func fieldString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	default:
		return "", false
	}
}
