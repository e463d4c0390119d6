package pubsub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// A group's concurrent subscriber in one process holds several messages at
// once; its ordered one holds one.
func TestRedisStreamsGroupHandlesSeveralMessagesAtOnce(t *testing.T) {
	t.Parallel()
	ps := newTestRedisPubSub(t, RedisStreamsConfig{ConsumerName: "par", ConsumersPerGroup: 3, ReadAhead: 1})
	admin := newTestRedisClient(t)
	topic, group := uniqueName("parallel"), uniqueName("group")
	t.Cleanup(func() { admin.Del(context.Background(), topic) })
	const n = 12
	for i := range n {
		if err := ps.Publisher().Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := ps.ConcurrentSubscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, sub, topic)

	// A lone redisstream subscriber sends its next message only once the
	// last is acknowledged: three unacknowledged ones are three in flight.
	held := []*message.Message{receive(t, ch), receive(t, ch), receive(t, ch)}
	consumers, err := admin.XInfoConsumers(context.Background(), topic, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(consumers) != 1 || consumers[0].Name != "par" || consumers[0].Pending < 3 {
		t.Fatalf("consumers of the group: %+v; want one, par, with the 3 held messages pending", consumers)
	}

	got := map[string]bool{}
	for _, m := range held {
		got[string(m.Payload)] = true
		m.Ack()
	}
	for len(got) < n {
		m := receive(t, ch)
		got[string(m.Payload)] = true
		m.Ack()
	}
	eventually(t, "every entry acknowledged", func() bool {
		p, err := admin.XPending(context.Background(), topic, group).Result()
		return err == nil && p.Count == 0
	})
}

// fakeSubscriber hands out what is put on its channel and counts closes.
type fakeSubscriber struct {
	ch     chan *message.Message
	once   sync.Once
	closed int
	mu     sync.Mutex
}

func (f *fakeSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return f.ch, nil
}

func (f *fakeSubscriber) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	f.once.Do(func() { close(f.ch) })
	return nil
}

func TestParallelSubscriberClosesItsChannelWhenEverySubscriberHasClosed(t *testing.T) {
	a, b := &fakeSubscriber{ch: make(chan *message.Message, 1)}, &fakeSubscriber{ch: make(chan *message.Message, 1)}
	p := parallelSubscriber{subscribers: []message.Subscriber{a, b}}
	out, err := p.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	b.ch <- message.NewMessage("from-b", nil)
	select {
	case m := <-out:
		if m.UUID != "from-b" {
			t.Fatalf("got %s", m.UUID)
		}
	case <-time.After(waitTimeout):
		t.Fatal("message of the second subscriber not merged")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if a.closed != 1 || b.closed != 1 {
		t.Fatalf("closes: %d, %d; want each subscriber closed once", a.closed, b.closed)
	}
	select {
	case _, ok := <-out:
		if ok {
			t.Fatal("a message after close")
		}
	case <-time.After(waitTimeout):
		t.Fatal("merged channel still open after every subscriber closed")
	}
}
