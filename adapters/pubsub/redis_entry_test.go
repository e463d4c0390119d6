package pubsub

import (
	"maps"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"allocation/contracts"
)

// asStoredByRedis turns marshalled values into what go-redis reads back:
// every field value a string.
func asStoredByRedis(t *testing.T, values map[string]any) map[string]any {
	t.Helper()
	stored := map[string]any{}
	for k, v := range values {
		switch v := v.(type) {
		case string:
			stored[k] = v
		case []byte:
			stored[k] = string(v)
		default:
			t.Fatalf("field %s is %T, which Redis would not store as given", k, v)
		}
	}
	return stored
}

func TestRedisEntryMarshallerRoundTrip(t *testing.T) {
	m := RedisEntryMarshaller{}
	msg := message.NewMessage("5d1c7e1e-2d7c-4a0e-8f47-1f1d1a2b3c4d", []byte(`{"batchref":"b1","qty":5}`))
	msg.Metadata.Set(middleware.CorrelationIDMetadataKey, "corr-1")
	msg.Metadata.Set("name", "Allocated")
	msg.Metadata.Set("reason_poisoned", "boom: it broke")
	msg.Metadata.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	msg.Metadata.Set("tracestate", "vendor=opaque")

	values, err := m.Marshal("topic", msg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"uuid":               msg.UUID,
		"payload":            `{"batchref":"b1","qty":5}`,
		"correlation_id":     "corr-1",
		"md_name":            "Allocated",
		"md_reason_poisoned": "boom: it broke",
		"traceparent":        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":         "vendor=opaque",
	}
	stored := asStoredByRedis(t, values)
	if len(stored) != len(want) {
		t.Errorf("fields %v, want %v", stored, want)
	}
	for k, v := range want {
		if stored[k] != v {
			t.Errorf("field %s = %v, want %q", k, stored[k], v)
		}
	}

	got := decodeRedisEntry("topic", redis.XMessage{ID: "1-0", Values: stored})
	if got.UUID != msg.UUID || string(got.Payload) != string(msg.Payload) {
		t.Errorf("got %s %s, want %s %s", got.UUID, got.Payload, msg.UUID, msg.Payload)
	}
	wantMetadata := maps.Clone(msg.Metadata)
	wantMetadata[RedisEntryIDMetadataKey] = "1-0"
	if !maps.Equal(got.Metadata, wantMetadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, wantMetadata)
	}

	// Where a message was read is not written back with it.
	again, err := m.Marshal("topic", got)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again[RedisMetadataPrefix+RedisEntryIDMetadataKey]; ok {
		t.Errorf("the entry ID was marshalled: %v", again)
	}
}

func TestRedisEntryWithoutUUIDGetsOneDerivedFromTheEntry(t *testing.T) {
	entry := func() redis.XMessage {
		return redis.XMessage{ID: "1700000000000-0", Values: map[string]any{"payload": `{}`}}
	}
	first := decodeRedisEntry("change_batch_quantity", entry())
	again := decodeRedisEntry("change_batch_quantity", entry())
	if first.UUID != again.UUID {
		t.Errorf("redelivery changed the UUID: %s, then %s", first.UUID, again.UUID)
	}
	if _, err := uuid.Parse(first.UUID); err != nil {
		t.Errorf("UUID %q: %v", first.UUID, err)
	}
	if got := first.Metadata.Get(RedisEntryIDMetadataKey); got != "1700000000000-0" {
		t.Errorf("%s = %q", RedisEntryIDMetadataKey, got)
	}
	other := entry()
	other.ID = "1700000000000-1"
	if second := decodeRedisEntry("change_batch_quantity", other); second.UUID == first.UUID {
		t.Error("two entries share a UUID")
	}
	if first.Metadata.Get(contracts.MalformedReasonKey) != "" {
		t.Errorf("well-formed entry marked malformed: %v", first.Metadata)
	}
}

func TestRedisEntryMalformedBecomesAMarkedMessage(t *testing.T) {
	tests := []struct {
		name        string
		values      map[string]any
		reason      string
		wantPayload string
	}{
		{"no payload field", map[string]any{"foo": "bar"}, `no "payload" field`, ""},
		{"no fields at all", nil, `no "payload" field`, ""},
		{"payload not a string", map[string]any{"payload": 42}, `field "payload" is not a string`, ""},
		{"metadata not a string", map[string]any{"payload": "{}", "md_x": []int{1}}, `field "md_x" is not a string`, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := decodeRedisEntry("s", redis.XMessage{ID: "1-1", Values: tt.values})
			reason := msg.Metadata.Get(contracts.MalformedReasonKey)
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason %q, want it to mention %q", reason, tt.reason)
			}
			if string(msg.Payload) != tt.wantPayload {
				t.Errorf("payload %q, want %q", msg.Payload, tt.wantPayload)
			}
			if msg.UUID == "" {
				t.Error("no UUID")
			}
		})
	}
}

func TestRedisEntryCorrelationFieldWinsOverMetadataCopy(t *testing.T) {
	msg := decodeRedisEntry("s", redis.XMessage{ID: "1-1", Values: map[string]any{
		"payload": "{}", "correlation_id": "plain", "md_correlation_id": "copy",
	}})
	if got := middleware.MessageCorrelationID(msg); got != "plain" {
		t.Errorf("correlation id %q, want plain", got)
	}
}

// The W3C trace context is two plain fields an outside producer can write
// with redis-cli; entries of older versions (md_traceparent) still read.
func TestRedisEntryTraceContextFields(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		values map[string]any
		want   map[string]string
	}{
		{"plain fields", map[string]any{"payload": "{}", "traceparent": parent, "tracestate": "a=b"},
			map[string]string{"traceparent": parent, "tracestate": "a=b"}},
		{"traceparent alone", map[string]any{"payload": "{}", "traceparent": parent},
			map[string]string{"traceparent": parent, "tracestate": ""}},
		{"md_ copies of older versions", map[string]any{"payload": "{}", "md_traceparent": parent, "md_tracestate": "a=b"},
			map[string]string{"traceparent": parent, "tracestate": "a=b"}},
		{"plain field wins", map[string]any{"payload": "{}", "traceparent": parent, "md_traceparent": "00-11111111111111111111111111111111-1111111111111111-01"},
			map[string]string{"traceparent": parent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := decodeRedisEntry("s", redis.XMessage{ID: "1-1", Values: tt.values})
			for key, want := range tt.want {
				if got := msg.Metadata.Get(key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			values, err := RedisEntryMarshaller{}.Marshal("s", msg)
			if err != nil {
				t.Fatal(err)
			}
			for field := range values {
				if strings.HasPrefix(field, RedisMetadataPrefix+"trace") {
					t.Errorf("written again as %s: %v", field, values)
				}
			}
			if values["traceparent"] != parent {
				t.Errorf("traceparent field %v, want %s", values["traceparent"], parent)
			}
		})
	}
}
