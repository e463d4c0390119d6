package messagebus_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/messagebus"
	"allocation/adapters/natsbroker"
	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/tests/testenv"
)

// brokers lists every broker the handler suite runs on: the same tests,
// the same handlers, only the pub/sub differs.
func brokers() []brokerCase {
	return []brokerCase{
		{name: "memory", newPubSub: func(t *testing.T) messagebus.PubSub {
			ps := pubsub.NewGoChannelPubSub(watermill.NopLogger{})
			t.Cleanup(func() { _ = ps.Close() })
			return ps
		}},
		{name: "redis", newPubSub: func(t *testing.T) messagebus.PubSub {
			ps, err := pubsub.NewRedisStreamsPubSub(pubsub.RedisStreamsConfig{
				Redis: redis.Options{Addr: testenv.RedisAddr(t)},
				// Short, so that a test's closing consumers do not hold up
				// the next; still well above any handler's run time here.
				BlockTime: 100 * time.Millisecond,
			}, watermill.NopLogger{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ps.Close() })
			// Streams are shared by every test: a prefix keeps each apart.
			return pubsub.NewNamespacedPubSub(ps, testenv.TopicPrefix())
		}},
		{name: "sql", newPubSub: func(t *testing.T) messagebus.PubSub {
			db, err := postgres.Open(t.Context(), testenv.DatabaseURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			ps, err := pubsub.NewSQLPubSub(db, pubsub.SQLConfig{PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ps.Close() })
			return ps
		}},
		{name: "nats", newPubSub: func(t *testing.T) messagebus.PubSub {
			url, prefix := testenv.NATSNamespace(t)
			ps, err := natsbroker.NewPubSub(natsbroker.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ps.Close() })
			return pubsub.NewNamespacedPubSub(ps, prefix)
		}},
	}
}

// forEachBroker runs a test of the suite on every broker.
func forEachBroker(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, b := range brokers() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, newHarness(t, b))
		})
	}
}
