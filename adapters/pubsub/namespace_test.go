package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

func TestNamespacedPubSubKeepsNamespacesApart(t *testing.T) {
	shared := NewGoChannelPubSub(watermill.NopLogger{})
	defer shared.Close()
	a, b := NewNamespacedPubSub(shared, "a."), NewNamespacedPubSub(shared, "b.")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subA, _ := a.Subscriber("g")
	subB, _ := b.Subscriber("g")
	msgsA, err := subA.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	msgsB, err := subB.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publisher().Publish("topic", message.NewMessage("m1", []byte("for b"))); err != nil {
		t.Fatal(err)
	}
	if err := a.Publisher().Publish("topic", message.NewMessage("m2", []byte("for a"))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		msgs <-chan *message.Message
		want string
	}{{msgsA, "m2"}, {msgsB, "m1"}} {
		select {
		case m := <-c.msgs:
			if m.UUID != c.want {
				t.Errorf("got %s, want %s", m.UUID, c.want)
			}
			m.Ack()
		case <-ctx.Done():
			t.Fatal("message not delivered")
		}
	}
}

// A prefix must not cost the event handlers their concurrency.
func TestNamespacedPubSubPassesConcurrentSubscribersOn(t *testing.T) {
	inner := newTestRedisPubSub(t, RedisStreamsConfig{ConsumersPerGroup: 3})
	ns := NewNamespacedPubSub(inner, "ns.")
	sub, err := ns.ConcurrentSubscriber(uniqueName("g"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	inside, ok := sub.(namespacedSubscriber)
	if !ok {
		t.Fatalf("not namespaced: %T", sub)
	}
	if s, ok := inside.Subscriber.(*RedisStreamSubscriber); !ok || s.cfg.Handlers != 3 {
		t.Fatalf("inner subscriber %T, want the concurrent one handing out 3 at once", inside.Subscriber)
	}
}
