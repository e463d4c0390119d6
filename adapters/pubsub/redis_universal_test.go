package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/redis/go-redis/v9"
)

// universalGroup is the consumer group of the suite's plain constructor:
// every subscriber it makes is a new consumer of that one group (the
// suite's topics are new per test, so groups never mix).
const universalGroup = "universal"

// Watermill's universal pub/sub suite against the real Redis, in a topic
// namespace of its own. Features, honestly:
//   - consumer groups: yes; exactly once: no (at least once).
//   - order: a Subscriber hands out one message at a time in stream order,
//     so with a single subscriber of a group the order holds; it does not
//     across consumers (a claimed entry of a stopped consumer comes late).
//   - persistent: yes. A new subscriber of the same group does not get
//     what the group already handled (a new group does; TestConsumerGroups).
//
// The event handlers' concurrent subscriber hands out several messages at
// once: no order, the rest as for the plain one.
func TestRedisStreamsPassesWatermillsUniversalSuite(t *testing.T) {
	for name, tt := range map[string]struct {
		subscriber func(*RedisStreamsPubSub, string) (message.Subscriber, error)
		features   tests.Features
	}{
		"subscriber": {(*RedisStreamsPubSub).Subscriber, tests.Features{
			ConsumerGroups:                      true,
			ExactlyOnceDelivery:                 false,
			GuaranteedOrder:                     true,
			GuaranteedOrderWithSingleSubscriber: true,
			Persistent:                          true,
			NewSubscriberReceivesOldMessages:    false,
		}},
		"concurrent subscriber": {(*RedisStreamsPubSub).ConcurrentSubscriber, tests.Features{
			ConsumerGroups:      true,
			ExactlyOnceDelivery: false,
			GuaranteedOrder:     false,
			Persistent:          true,
		}},
	} {
		t.Run(name, func(t *testing.T) { runUniversalSuite(t, tt.subscriber, tt.features) })
	}
}

func runUniversalSuite(t *testing.T, subscriber func(*RedisStreamsPubSub, string) (message.Subscriber, error), features tests.Features) {
	prefix := uniqueName("universal") + "."
	admin := newTestRedisClient(t)
	t.Cleanup(func() { deleteKeys(t, admin, prefix) })
	cfg := RedisStreamsConfig{
		// Entries read ahead by a closed subscriber are claimed by the next
		// within the suite's timeouts.
		MaxIdleTime:   time.Second,
		ClaimInterval: 200 * time.Millisecond,
		// Its nack tests nack hundreds of times.
		NackResendSleep: 10 * time.Millisecond,
		BlockTime:       100 * time.Millisecond,
	}
	constructor := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		consumer := cfg
		consumer.ConsumerName = "c-" + watermill.NewShortUUID()
		ps := newTestRedisPubSub(t, consumer)
		sub, err := subscriber(ps, group)
		if err != nil {
			t.Fatal(err)
		}
		return NewNamespacedPublisher(ps.Publisher(), prefix), namespacedSubscriber{Subscriber: sub, prefix: prefix}
	}
	tests.TestPubSub(t, features, func(t *testing.T) (message.Publisher, message.Subscriber) {
		return constructor(t, universalGroup)
	}, constructor)
}

// deleteKeys deletes every key under prefix.
func deleteKeys(t *testing.T, admin *redis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		admin.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("deleting the keys under %s: %v", prefix, err)
	}
}
