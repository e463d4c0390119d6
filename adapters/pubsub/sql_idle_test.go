package pubsub

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// idleForever is an idle poll interval no test outlives: what a resting
// subscriber receives within a test, it receives because it was woken.
const idleForever = time.Hour

func newIdlingSQLPubSub(t *testing.T, alwaysPolled string) *SQLPubSub {
	t.Helper()
	ps, err := NewSQLPubSub(openTestDB(t), SQLConfig{
		PollInterval:     10 * time.Millisecond,
		IdlePollInterval: idleForever,
		AlwaysPolled:     func(topic string) bool { return topic == alwaysPolled },
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return ps
}

// restingSubscription subscribes to topic and waits until the subscriber
// rests (it has polled, found nothing, and waits for a wake-up).
func restingSubscription(t *testing.T, ps *SQLPubSub, topic string) (*sqlSubscriber, <-chan *message.Message) {
	t.Helper()
	sub, err := ps.Subscriber(uniqueName("group"))
	if err != nil {
		t.Fatal(err)
	}
	messages := subscribe(t, sub, topic)
	s := sub.(*sqlSubscriber)
	eventually(t, "the subscriber resting", func() bool { return s.backoff.IdleWaits() > 0 })
	return s, messages
}

// publishAndReceive publishes a message through publisher, calls then
// (when set), and waits for the message on messages.
func publishAndReceive(t *testing.T, publisher *SQLPubSub, topic string, messages <-chan *message.Message, then func()) {
	t.Helper()
	sent := message.NewMessage(watermill.NewUUID(), []byte(`{}`))
	if err := publisher.Publisher().Publish(topic, sent); err != nil {
		t.Fatal(err)
	}
	if then != nil {
		then()
	}
	if got := receive(t, messages); got.UUID != sent.UUID {
		t.Fatalf("received %s, want %s", got.UUID, sent.UUID)
	}
}

func TestSQLSubscriberRestsUntilThisPubSubPublishes(t *testing.T) {
	t.Parallel()
	ps := newIdlingSQLPubSub(t, "")
	topic := uniqueName("rest")
	dropSQLTopic(t, ps, topic)
	_, messages := restingSubscription(t, ps, topic)

	publishAndReceive(t, ps, topic, messages, nil)
}

// Messages committed another way (the transactional outbox, another
// process) reach a resting subscriber once Wake is called.
func TestSQLSubscriberRestingIsWokenByWake(t *testing.T) {
	t.Parallel()
	ps := newIdlingSQLPubSub(t, "")
	other := newIdlingSQLPubSub(t, "") // its publishes do not wake ps's subscribers
	topic := uniqueName("wake")
	dropSQLTopic(t, ps, topic)
	_, messages := restingSubscription(t, ps, topic)

	publishAndReceive(t, other, topic, messages, ps.Wake)
}

// Other programs publish on external topics without waking anyone: their
// subscribers never rest.
func TestSQLSubscriberOfAnAlwaysPolledTopicNeverRests(t *testing.T) {
	t.Parallel()
	topic := uniqueName("ext")
	ps := newIdlingSQLPubSub(t, topic)
	other := newIdlingSQLPubSub(t, "")
	dropSQLTopic(t, ps, topic)
	sub, err := ps.Subscriber(uniqueName("group"))
	if err != nil {
		t.Fatal(err)
	}
	messages := subscribe(t, sub, topic)
	// A subscriber allowed to rest would rest after its first empty poll.
	backoff := sub.(*sqlSubscriber).backoff
	eventually(t, "three empty polls", func() bool { return backoff.Polls() >= 3 })
	if n := backoff.IdleWaits(); n != 0 {
		t.Fatalf("the subscriber of an external topic rested %d times", n)
	}

	publishAndReceive(t, other, topic, messages, nil)
}

// Closing a resting subscriber does not wait for its idle interval.
func TestSQLSubscriberRestingClosesAtOnce(t *testing.T) {
	t.Parallel()
	ps := newIdlingSQLPubSub(t, "")
	topic := uniqueName("close")
	dropSQLTopic(t, ps, topic)
	s, _ := restingSubscription(t, ps, topic)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("closing a resting subscriber took over %s", waitTimeout)
	}
}
