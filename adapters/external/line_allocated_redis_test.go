package external_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/external"
	"allocation/adapters/pubsub"
	"allocation/app"
	"allocation/contracts"
	"allocation/tests/testenv"
)

// renamed publishes under another topic name, so that the test does not
// write to the real line_allocated stream of a shared Redis.
type renamed struct {
	message.Publisher
	topic string
}

func (r renamed) Publish(_ string, msgs ...*message.Message) error {
	return r.Publisher.Publish(r.topic, msgs...)
}

// What a consumer with nothing but redis-cli sees: XRANGE line_allocated.
func TestLineAllocatedOnRedisIsPlain(t *testing.T) {
	addr, prefix := testenv.RedisNamespace(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = client.Close() }()
	ctx := context.Background()
	ps, err := pubsub.NewRedisStreamsPubSub(pubsub.RedisStreamsConfig{Redis: redis.Options{Addr: addr}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ps.Close() }()
	stream := prefix + contracts.LineAllocatedTopic

	p, err := external.NewLineAllocatedPublisher(renamed{ps.Publisher(), stream})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishLineAllocated(app.WithCorrelationID(ctx, "corr-redis"), allocated); err != nil {
		t.Fatal(err)
	}

	entries, err := client.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	golden, err := os.ReadFile(goldenLineAllocated)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"payload":        strings.TrimSuffix(string(golden), "\n"),
		"correlation_id": "corr-redis",
		"uuid":           app.EventID(allocated),
		"md_contract":    string(contracts.LineAllocatedV1),
	} {
		if got := entries[0].Values[field]; got != want {
			t.Errorf("field %s = %v, want %q", field, got, want)
		}
	}
}
