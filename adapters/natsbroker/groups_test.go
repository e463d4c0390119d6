package natsbroker

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/pubsub"
	"allocation/tests/testenv"
)

// Two processes in one consumer group share its messages: each message
// goes to one of them, and one left unacknowledged by a process that
// stopped goes to the other after the ack wait.
func TestProcessesShareTheGroupsMessages(t *testing.T) {
	t.Parallel()
	prefix := testenv.TopicPrefix()
	cfg := Config{AckWait: time.Second}
	first := pubsub.NewNamespacedPubSub(newTestPubSub(t, cfg, prefix), prefix)
	second := pubsub.NewNamespacedPubSub(newTestPubSub(t, cfg, prefix), prefix)
	stopped := mustSubscriber(t, first, "group")
	lost := message.NewMessage(watermill.NewUUID(), []byte("lost"))
	if err := first.Publisher().Publish("orders", lost); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, subscribe(t, stopped, "orders")); got.UUID != lost.UUID {
		t.Fatalf("received %s, want %s", got.UUID, lost.UUID)
	}
	_ = stopped.Close() // without acknowledging
	fromFirst := subscribe(t, mustSubscriber(t, first, "group"), "orders")
	fromSecond := subscribe(t, mustSubscriber(t, second, "group"), "orders")

	const n = 40
	for i := range n {
		if err := second.Publisher().Publish("orders", message.NewMessage(watermill.NewUUID(), []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int{}
	byProcess := [2]int{}
	for len(counts) < n+1 {
		var msg *message.Message
		select {
		case msg = <-fromFirst:
			byProcess[0]++
		case msg = <-fromSecond:
			byProcess[1]++
		case <-time.After(waitTimeout):
			t.Fatalf("received %d distinct messages of %d within %s", len(counts), n+1, waitTimeout)
		}
		msg.Ack()
		counts[msg.UUID]++
	}
	if counts[lost.UUID] == 0 {
		t.Error("the unacknowledged message was not delivered again")
	}
	if byProcess[0] == 0 || byProcess[1] == 0 {
		t.Errorf("messages by process %v: one process did all the work", byProcess)
	}
	for uuid, c := range counts {
		if c > 1 && uuid != lost.UUID {
			t.Errorf("message %s delivered %d times", uuid, c)
		}
	}
}
