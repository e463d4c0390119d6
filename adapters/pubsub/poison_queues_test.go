package pubsub

import (
	"testing"

	"allocation/adapters/messagebus"
	"allocation/app"
)

// Every broker's poison queue lists, pages and replays the same way.
func TestPoisonQueues(t *testing.T) {
	tests := []struct {
		broker string
		open   func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue)
		// unknownID is well-formed for the queue but never parked.
		unknownID string
	}{
		{"redis", func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue) {
			raw, prefix, q := newRedisPoisonFixture(t, topic)
			return raw, prefix, q
		}, "1-0"},
		{"sql", func(t *testing.T, topic string) (messagebus.PubSub, string, app.PoisonQueue) {
			raw, prefix, q := newSQLPoisonFixture(t, topic)
			return raw, prefix, q
		}, "999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.broker+"/list and replay", func(t *testing.T) {
			t.Parallel()
			raw, prefix, q := tt.open(t, poisonTestTopic)
			testPoisonQueueListAndReplay(t, raw, prefix, q, tt.unknownID)
		})
		t.Run(tt.broker+"/round trip", func(t *testing.T) {
			t.Parallel()
			raw, prefix, q := tt.open(t, "roundtrip")
			testPoisonQueueRoundTrip(t, raw, prefix, "roundtrip", q)
		})
	}
}
