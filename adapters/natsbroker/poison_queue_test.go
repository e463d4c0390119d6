package natsbroker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/app"
	"allocation/tests/testenv"
)

const poisonTestTopic = "orders"

var parkedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

// poisonFixture is a broker namespace and its poison queue.
type poisonFixture struct {
	ps *pubsub.NamespacedPubSub
	q  *PoisonQueue
}

func newPoisonFixture(t *testing.T) poisonFixture {
	t.Helper()
	prefix := testenv.TopicPrefix()
	raw := newTestPubSub(t, Config{}, prefix)
	ps := pubsub.NewNamespacedPubSub(raw, prefix)
	q, err := NewPoisonQueue(raw.Conn(), ps.Publisher(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return poisonFixture{ps: ps, q: q}
}

// park publishes to the poison topic what the PoisonQueue middleware would.
func (f poisonFixture) park(t *testing.T, uuid, payload string) *message.Message {
	t.Helper()
	msg := message.NewMessage(uuid, []byte(payload))
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, "boom: "+payload)
	msg.Metadata.Set(middleware.PoisonedTopicKey, poisonTestTopic)
	msg.Metadata.Set(middleware.PoisonedHandlerKey, "orders.handler")
	msg.Metadata.Set(middleware.PoisonedSubscriberKey, "sub")
	msg.Metadata.Set(messagebus.ParkedAtKey, parkedAt.Add(time.Duration(len(payload))).Format(time.RFC3339Nano))
	msg.Metadata.Set(middleware.CorrelationIDMetadataKey, "corr-"+uuid)
	msg.Metadata.Set("custom", "kept")
	if err := f.ps.Publisher().Publish(messagebus.PoisonTopic, msg.Copy()); err != nil {
		t.Fatal(err)
	}
	return msg
}

func (f poisonFixture) list(t *testing.T, page app.PoisonPage) []app.ParkedMessage {
	t.Helper()
	parked, err := f.q.List(context.Background(), page)
	if err != nil {
		t.Fatal(err)
	}
	return parked
}

func TestPoisonQueueListsPagesAndReplays(t *testing.T) {
	t.Parallel()
	f := newPoisonFixture(t)
	if parked := f.list(t, app.PoisonPage{}); len(parked) != 0 {
		t.Fatalf("empty queue lists %v", parked)
	}
	// The same message parked twice (replayed, failed again) is two
	// entries: the duplicate window must not drop the second.
	id := watermill.NewUUID()
	first, again, other := f.park(t, id, `{"n":1}`), f.park(t, id, `{"n":10}`), f.park(t, watermill.NewUUID(), `{"n":2}`)
	parked := f.list(t, app.PoisonPage{})
	if len(parked) != 3 {
		t.Fatalf("listed %d messages, want 3: %+v", len(parked), parked)
	}
	p := parked[0]
	if p.ID != "1" || p.UUID != id || p.Topic != poisonTestTopic || p.Handler != "orders.handler" ||
		p.Reason != `boom: {"n":1}` || p.Payload != `{"n":1}` || p.ParkedAt.Format(time.RFC3339Nano) != first.Metadata.Get(messagebus.ParkedAtKey) ||
		p.CorrelationID != "corr-"+id || p.Metadata["custom"] != "kept" {
		t.Errorf("listed %+v", p)
	}
	for i, want := range []string{"1", "2", "3"} {
		after := ""
		if i > 0 {
			after = parked[i-1].ID
		}
		if page := f.list(t, app.PoisonPage{After: after, Limit: 1}); len(page) != 1 || page[0].ID != want {
			t.Errorf("page after %q = %+v, want %s", after, page, want)
		}
	}
	if page := f.list(t, app.PoisonPage{After: "3"}); len(page) != 0 {
		t.Errorf("page after the last = %+v", page)
	}
	var cursor app.PoisonCursorError
	if _, err := f.q.List(context.Background(), app.PoisonPage{After: "1-0"}); !errors.As(err, &cursor) {
		t.Errorf("List(after 1-0) = %v, want PoisonCursorError", err)
	}

	replayed := subscribe(t, mustSubscriber(t, f.ps, "replayed"), poisonTestTopic)
	for _, ids := range [][]string{{"0"}, {"01"}, {"x"}, {"4"}, {"2", "99"}} {
		var unknown app.UnknownParkedMessageError
		if got, err := f.q.Replay(context.Background(), ids); !errors.As(err, &unknown) || len(got) != 0 {
			t.Errorf("Replay(%v) = %v, %v; want UnknownParkedMessageError", ids, got, err)
		}
	}
	if got, err := f.q.Replay(context.Background(), []string{"2", "2"}); err != nil || len(got) != 1 || got[0] != "2" {
		t.Fatalf("Replay(2) = %v, %v", got, err)
	}
	checkReplayed(t, receive(t, replayed), again)
	if got, err := f.q.Replay(context.Background(), nil); err != nil || len(got) != 2 || got[0] != "1" || got[1] != "3" {
		t.Fatalf("Replay(all) = %v, %v", got, err)
	}
	// Both replays of one UUID arrive: a replay is not a duplicate.
	checkReplayed(t, receive(t, replayed), first)
	checkReplayed(t, receive(t, replayed), other)
	if parked := f.list(t, app.PoisonPage{}); len(parked) != 0 {
		t.Errorf("replayed messages still listed: %+v", parked)
	}
}

func mustSubscriber(t *testing.T, ps messagebus.PubSub, group string) message.Subscriber {
	t.Helper()
	sub, err := ps.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func checkReplayed(t *testing.T, got, want *message.Message) {
	t.Helper()
	got.Ack()
	if got.UUID != want.UUID || string(got.Payload) != string(want.Payload) {
		t.Errorf("replayed %s %s, want %s %s", got.UUID, got.Payload, want.UUID, want.Payload)
	}
	for _, key := range []string{middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, messagebus.ParkedAtKey} {
		if v, ok := got.Metadata[key]; ok {
			t.Errorf("replayed message keeps poison metadata %s=%q", key, v)
		}
	}
	if got.Metadata.Get("custom") != "kept" || middleware.MessageCorrelationID(got) != "corr-"+want.UUID {
		t.Errorf("replayed metadata %v lost the original keys", got.Metadata)
	}
}

// A message parked by a plain client (nats pub) without uuid nor
// parked_at lists with a stable UUID and the time it was stored.
func TestPoisonQueueListsPlainMessages(t *testing.T) {
	t.Parallel()
	f := newPoisonFixture(t)
	subject := f.q.subject
	if err := f.ps.Publisher().Publish(messagebus.PoisonTopic, message.NewMessage(watermill.NewUUID(), nil)); err != nil {
		t.Fatal(err) // provisions the stream
	}
	before := time.Now().Add(-time.Second)
	conn, err := nats.Connect(testNATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, _ := conn.JetStream()
	if _, err := js.PublishMsg(&nats.Msg{Subject: subject, Data: []byte(`{"x":1}`), Header: nats.Header{middleware.PoisonedTopicKey: {"t"}}}); err != nil {
		t.Fatal(err)
	}
	first, second := f.list(t, app.PoisonPage{After: "1"}), f.list(t, app.PoisonPage{After: "1"})
	if len(first) != 1 || first[0].UUID == "" || first[0].UUID != second[0].UUID || first[0].Topic != "t" || first[0].Payload != `{"x":1}` {
		t.Fatalf("listed %+v then %+v", first, second)
	}
	if at := first[0].ParkedAt; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("parked at %v, want the time it was stored", at)
	}
}

// A message goes through the real router: parked after its retries,
// replayed once its handler works again, within the duplicate window.
func TestPoisonQueueRoundTripThroughTheRouter(t *testing.T) {
	t.Parallel()
	f := newPoisonFixture(t)
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{
		PubSub:       f.ps,
		Retry:        messagebus.HandlerRetryPolicy{MaxRetries: 1, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond},
		CloseTimeout: waitTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	const handler, topic = "roundtrip.handler", "roundtrip"
	var healthy atomic.Bool
	var attempts atomic.Int64
	handled := make(chan *message.Message, 10)
	bus.Router.AddConsumerHandler(handler, topic, mustSubscriber(t, f.ps, handler), func(msg *message.Message) error {
		attempts.Add(1)
		if !healthy.Load() {
			return errors.New("database away (transient)")
		}
		handled <- msg
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- bus.Router.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	<-bus.Router.Running()

	msg := message.NewMessage(watermill.NewUUID(), []byte(`{"qty": 5}`))
	middleware.SetCorrelationID("corr-roundtrip", msg)
	if err := f.ps.Publisher().Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
	var parked []app.ParkedMessage
	testenv.Eventually(t, waitTimeout, "message parked", func() bool {
		parked = f.list(t, app.PoisonPage{})
		return len(parked) == 1
	})
	if p := parked[0]; p.UUID != msg.UUID || p.Topic != topic || p.Handler != handler || p.CorrelationID != "corr-roundtrip" || p.Reason == "" {
		t.Errorf("parked %+v", p)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts before parking, want 2 (1 retry)", n)
	}
	healthy.Store(true)
	if ids, err := f.q.Replay(context.Background(), []string{parked[0].ID}); err != nil || len(ids) != 1 {
		t.Fatalf("Replay = %v, %v", ids, err)
	}
	got := receive(t, handled)
	if got.UUID != msg.UUID || string(got.Payload) != string(msg.Payload) || middleware.MessageCorrelationID(got) != "corr-roundtrip" {
		t.Errorf("handled %s %s %v", got.UUID, got.Payload, got.Metadata)
	}
	if parked := f.list(t, app.PoisonPage{}); len(parked) != 0 {
		t.Errorf("still parked after a successful replay: %+v", parked)
	}
}
