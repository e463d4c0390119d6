package pubsub

import (
	"fmt"
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

// restingSubscription subscribes to a new topic and waits until the
// subscriber rests (it has polled, found nothing, and waits for a wake-up).
func restingSubscription(t *testing.T, ps *SQLPubSub) (string, *sqlSubscriber, <-chan *message.Message) {
	t.Helper()
	topic := uniqueName("rest")
	dropSQLTopic(t, ps, topic)
	sub, err := ps.Subscriber(uniqueName("group"))
	if err != nil {
		t.Fatal(err)
	}
	messages := subscribe(t, sub, topic)
	s := sub.(*sqlSubscriber)
	eventually(t, "the subscriber resting", func() bool { return s.backoff.IdleWaits() > 0 })
	return topic, s, messages
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

// A resting subscriber wakes when its pub/sub publishes, or, for messages
// committed another way (the transactional outbox, another process), when
// Wake is called.
func TestSQLSubscriberRestsUntilWoken(t *testing.T) {
	for _, byOther := range []bool{false, true} {
		t.Run(fmt.Sprintf("published by another=%v", byOther), func(t *testing.T) {
			t.Parallel()
			ps := newIdlingSQLPubSub(t, "")
			topic, _, messages := restingSubscription(t, ps)
			if byOther {
				// The other's publishes do not wake ps's subscribers.
				publishAndReceive(t, newIdlingSQLPubSub(t, ""), topic, messages, ps.Wake)
				return
			}
			publishAndReceive(t, ps, topic, messages, nil)
		})
	}
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
	_, s, _ := restingSubscription(t, newIdlingSQLPubSub(t, ""))
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
