package pubsub

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"allocation/contracts"
)

// Any stream entry, written by any client, decodes to a message the
// handler can take or park: never a panic, never an error, always a UUID
// (the same on every read) and the entry id; an entry without a payload
// field is marked malformed with the reason.
func FuzzDecodeRedisEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, k1, v1, k2, v2, k3, v3 string) {
		values := map[string]any{k1: v1, k2: v2, k3: v3}
		entry := redis.XMessage{ID: id, Values: values}
		msg := decodeRedisEntry("stream", entry)
		if msg == nil || msg.UUID == "" {
			t.Fatalf("%v: message %v", values, msg)
		}
		if again := decodeRedisEntry("stream", entry); again.UUID != msg.UUID || again.Metadata.Get(contracts.MalformedReasonKey) != msg.Metadata.Get(contracts.MalformedReasonKey) {
			t.Fatalf("%v: decodes differently on a second read", values)
		}
		if msg.Metadata.Get(RedisEntryIDMetadataKey) != id {
			t.Fatalf("%v: entry id %q, want %q", values, msg.Metadata.Get(RedisEntryIDMetadataKey), id)
		}
		payload, hasPayload := values[RedisPayloadField]
		malformed := msg.Metadata.Get(contracts.MalformedReasonKey)
		switch {
		case !hasPayload && malformed == "":
			t.Fatalf("%v: no payload field, not marked malformed", values)
		case hasPayload && malformed != "":
			t.Fatalf("%v: marked malformed (%s) with a payload field", values, malformed)
		case hasPayload && string(msg.Payload) != payload.(string):
			t.Fatalf("%v: payload %q", values, msg.Payload)
		}
	})
}
