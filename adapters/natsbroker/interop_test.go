package natsbroker

import (
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"allocation/adapters/pubsub"
	"allocation/contracts"
	"allocation/tests/testenv"
)

// plainJetStream is a client without Watermill, as another service's.
func plainJetStream(t *testing.T) nats.JetStreamContext {
	t.Helper()
	conn, err := nats.Connect(testNATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// `nats pub change_batch_quantity '{"batchref":"b1","qty":5}'` arrives as
// a message with the body as payload, headers as metadata, a UUID kept
// across redeliveries and the stream's order.
func TestPlainClientPublishesToTheService(t *testing.T) {
	t.Parallel()
	prefix := testenv.TopicPrefix()
	ps := pubsub.NewNamespacedPubSub(newTestPubSub(t, Config{NackDelay: time.Millisecond}, prefix), prefix)
	received := subscribe(t, mustSubscriber(t, ps, "allocation.ChangeBatchQuantityFromBroker"), contracts.ChangeBatchQuantityTopic)
	js := plainJetStream(t)
	const body = `{"batchref":"b1","qty":5}`
	for i, header := range []nats.Header{nil, {"correlation_id": {"corr-1"}}} {
		msg := &nats.Msg{Subject: prefix + contracts.ChangeBatchQuantityTopic, Data: []byte(body), Header: header}
		if _, err := js.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		got := receive(t, received)
		got.Nack()
		again := receive(t, received)
		again.Ack()
		if string(got.Payload) != body || got.UUID == "" || again.UUID != got.UUID {
			t.Errorf("message %d: got %s %q, then %s", i, got.UUID, got.Payload, again.UUID)
		}
		if middleware.MessageCorrelationID(got) != header.Get("correlation_id") {
			t.Errorf("message %d: correlation id %q, want %q", i, middleware.MessageCorrelationID(got), header.Get("correlation_id"))
		}
		var ms, seq uint64
		if _, err := fmt.Sscanf(got.Metadata.Get(contracts.BrokerOrderKey), "%d-%d", &ms, &seq); err != nil || seq != uint64(i+1) {
			t.Errorf("message %d: stream position %q, want sequence %d", i, got.Metadata.Get(contracts.BrokerOrderKey), i+1)
		}
	}
}

// line_allocated is readable without Watermill: the body is the payload,
// metadata are headers, the UUID is the Nats-Msg-Id, and a re-send of the
// same message (the relay's at least once) is dropped.
func TestPlainClientReadsWhatTheServicePublishes(t *testing.T) {
	t.Parallel()
	prefix := testenv.TopicPrefix()
	ps := pubsub.NewNamespacedPubSub(newTestPubSub(t, Config{}, prefix), prefix)
	msg := message.NewMessage(watermill.NewUUID(), []byte(`{"orderid":"o1","sku":"LAMP","qty":1,"batchref":"b1"}`))
	msg.Metadata.Set(middleware.CorrelationIDMetadataKey, "corr-2")
	msg.Metadata.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	for range 2 {
		if err := ps.Publisher().Publish(contracts.LineAllocatedTopic, msg.Copy()); err != nil {
			t.Fatal(err)
		}
	}
	js := plainJetStream(t)
	// Both publishes were acknowledged: the stream holds what it keeps.
	if info, err := js.StreamInfo(StreamName(prefix + contracts.LineAllocatedTopic)); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream after a re-send: %+v, %v; want 1 message", info, err)
	}
	sub, err := js.SubscribeSync(prefix+contracts.LineAllocatedTopic, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != string(msg.Payload) || got.Header.Get(nats.MsgIdHdr) != msg.UUID ||
		got.Header.Get("correlation_id") != "corr-2" || got.Header.Get("traceparent") != msg.Metadata.Get("traceparent") {
		t.Errorf("plain client read %q with headers %v", got.Data, got.Header)
	}
}
