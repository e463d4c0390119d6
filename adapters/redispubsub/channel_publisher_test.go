package redispubsub_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/redispubsub"
	"allocation/contracts"
	"allocation/tests/testenv"
)

// listen SUBSCRIBEs to channel as a plain Pub/Sub client, returning once
// Redis has confirmed it.
func listen(t *testing.T, client *redis.Client, channel string) <-chan *redis.Message {
	t.Helper()
	ps := client.Subscribe(context.Background(), channel)
	t.Cleanup(func() { _ = ps.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	return ps.Channel()
}

// receiveUntil collects the payloads that arrive up to and including last.
func receiveUntil(t *testing.T, messages <-chan *redis.Message, last string) []string {
	t.Helper()
	var got []string
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-messages:
			got = append(got, m.Payload)
			if m.Payload == last {
				return got
			}
		case <-deadline:
			t.Fatalf("%q did not arrive within %s; got %q", last, waitTimeout, got)
		}
	}
}

func newChannelPublisher(t *testing.T, client *redis.Client, prefix string, window time.Duration) *redispubsub.ChannelPublisher {
	t.Helper()
	p, err := redispubsub.NewChannelPublisher(redispubsub.ChannelPublisherConfig{Client: client, TopicPrefix: prefix, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A message published again (a retried handler, a redelivered event) or
// by several publishers at once reaches the channel once, as its bare
// payload. Redis delivers a subscriber's messages in the order it ran the
// publishes, so a duplicate would arrive before the last message.
func TestChannelPublisherPublishesTheBarePayloadOncePerMessage(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	publisher := newChannelPublisher(t, d.client, d.prefix, time.Minute)
	received := listen(t, d.client, d.prefix+contracts.LineAllocatedTopic)

	first := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o1","sku":"LAMP","qty":10,"batchref":"b1"}`))
	middleware.SetCorrelationID("corr-1", first)
	first.Metadata.Set(contracts.ContractKey, string(contracts.LineAllocatedV1))
	for range 2 {
		if err := publisher.Publish(contracts.LineAllocatedTopic, first); err != nil {
			t.Fatal(err)
		}
	}
	second := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o1","sku":"LAMP","qty":10,"batchref":"b2"}`))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := publisher.Publish(contracts.LineAllocatedTopic, second.Copy()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	last := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o2","sku":"LAMP","qty":1,"batchref":"b1"}`))
	if err := publisher.Publish(contracts.LineAllocatedTopic, last); err != nil {
		t.Fatal(err)
	}

	got := receiveUntil(t, received, string(last.Payload))
	want := []string{string(first.Payload), string(second.Payload), string(last.Payload)}
	if len(got) != len(want) {
		t.Fatalf("channel got %q, want each message once: %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// A message's UUID is remembered for the window only: the keys do not pile up.
func TestChannelPublisherForgetsAMessageAfterTheWindow(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	publisher := newChannelPublisher(t, d.client, d.prefix, 100*time.Millisecond)
	received := listen(t, d.client, d.prefix+contracts.LineAllocatedTopic)
	msg := message.NewMessage(uuid.NewString(), []byte(`{"orderid":"o1"}`))
	if err := publisher.Publish(contracts.LineAllocatedTopic, msg); err != nil {
		t.Fatal(err)
	}
	receiveUntil(t, received, string(msg.Payload))
	eventually(t, "the window to end", func() bool {
		return d.client.Exists(context.Background(), d.prefix+"allocation.redis-pubsub-bridge.published."+contracts.LineAllocatedTopic+"."+msg.UUID).Val() == 0
	})
	if err := publisher.Publish(contracts.LineAllocatedTopic, msg); err != nil {
		t.Fatal(err)
	}
	receiveUntil(t, received, string(msg.Payload))
}

func TestChannelPublisherRefusesAMessageWithoutUUID(t *testing.T) {
	client := redispubsub.NewClient(redis.Options{Addr: "127.0.0.1:1"})
	defer func() { _ = client.Close() }()
	publisher := newChannelPublisher(t, client, "", 0)
	err := publisher.Publish(contracts.LineAllocatedTopic, message.NewMessage("", []byte(`{}`)))
	var publishErr *redispubsub.PublishError
	if !errors.As(err, &publishErr) || !errors.Is(err, redispubsub.ErrNoMessageUUID) {
		t.Fatalf("err = %v, want a PublishError for the missing UUID", err)
	}
}

// Redis away: the publish fails with the channel and message named, so
// that the handler is retried.
func TestChannelPublisherReportsRedisAway(t *testing.T) {
	client := redispubsub.NewClient(redis.Options{Addr: testenv.FreeAddr(t)})
	defer func() { _ = client.Close() }()
	publisher := newChannelPublisher(t, client, "", 0)
	msg := message.NewMessage(uuid.NewString(), []byte(`{}`))
	err := publisher.Publish(contracts.LineAllocatedTopic, msg)
	var publishErr *redispubsub.PublishError
	if !errors.As(err, &publishErr) || publishErr.MessageUUID != msg.UUID || publishErr.Channel != contracts.LineAllocatedTopic {
		t.Fatalf("err = %v, want a PublishError naming the message and channel", err)
	}
}
