package pubsub

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"allocation/adapters/messagebus"
	"allocation/tests/testenv"
)

// Both brokers deliver a message with its UUID, payload and metadata.
func TestRoundTrip(t *testing.T) {
	for name, newTopic := range map[string]func(t *testing.T) (messagebus.PubSub, string){
		"redis": func(t *testing.T) (messagebus.PubSub, string) {
			_, prefix := testenv.RedisNamespace(t)
			return newTestRedisPubSub(t, RedisStreamsConfig{}), prefix + "roundtrip"
		},
		"sql": func(t *testing.T) (messagebus.PubSub, string) { return newSQLTopic(t, "rt") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ps, topic := newTopic(t)
			messages := subscribeGroup(t, ps, uniqueName("group"), topic)

			sent := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o1","sku":"LAMP","qty":10,"batchref":"b1"}`))
			middleware.SetCorrelationID("corr-"+name, sent)
			sent.Metadata.Set("name", "Allocated")
			if err := ps.Publisher().Publish(topic, sent); err != nil {
				t.Fatal(err)
			}
			got := receive(t, messages)
			got.Ack()
			if got.UUID != sent.UUID || string(got.Payload) != string(sent.Payload) {
				t.Errorf("got %s %s, want %s %s", got.UUID, got.Payload, sent.UUID, sent.Payload)
			}
			if got.Metadata.Get("name") != "Allocated" || middleware.MessageCorrelationID(got) != "corr-"+name {
				t.Errorf("metadata %v", got.Metadata)
			}
		})
	}
}
