package natsbroker

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/tests/testenv"
)

// The server restarted, with or without its store: the publisher, the
// subscriber and readiness recover by themselves.
func TestPubSubRecoversFromServerRestarts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loseStore bool
	}{
		{"with its store", false},
		{"without its store", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server := testenv.StartNATSServer(t)
			ps := newTestPubSub(t, Config{URL: server.URL}, "")
			received := subscribe(t, mustSubscriber(t, ps, "group"), "orders")
			publish := func(payload string) {
				t.Helper()
				msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
				testenv.Eventually(t, waitTimeout, "publishing "+payload, func() bool {
					return ps.Publisher().Publish("orders", msg) == nil
				})
			}
			expect := func(payload string) {
				t.Helper()
				got := receive(t, received)
				got.Ack()
				if string(got.Payload) != payload {
					t.Fatalf("received %q, want %q", got.Payload, payload)
				}
			}
			ready := func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				return ps.Ready(ctx) == nil
			}

			publish("before")
			expect("before")
			server.Kill()
			if tc.loseStore {
				server.LoseStore()
			}
			testenv.Eventually(t, waitTimeout, "not ready while the server is away", func() bool { return !ready() })
			server.Start()
			publish("after")
			expect("after")
			testenv.Eventually(t, waitTimeout, "ready again", ready)
		})
	}
}

// The relay's pipelined publisher stores a batch in order, also after the
// server lost its store (the batch published again when Flush failed).
func TestPipelinedPublisherRecoversALostStream(t *testing.T) {
	t.Parallel()
	server := testenv.StartNATSServer(t)
	ps := newTestPubSub(t, Config{URL: server.URL}, "")
	pipeline, err := ps.PipelinedPublisher("p.")
	if err != nil {
		t.Fatal(err)
	}
	received := subscribe(t, mustSubscriber(t, ps, "group"), "p.orders")
	batch := func(payloads ...string) []*message.Message {
		var msgs []*message.Message
		for _, p := range payloads {
			msgs = append(msgs, message.NewMessage(watermill.NewUUID(), []byte(p)))
		}
		return msgs
	}
	relay := func(msgs []*message.Message) error {
		if err := pipeline.Publish("orders", msgs...); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return pipeline.Flush(ctx)
	}
	expect := func(payloads ...string) {
		t.Helper()
		for _, want := range payloads {
			got := receive(t, received)
			got.Ack()
			if string(got.Payload) != want {
				t.Fatalf("received %q, want %q", got.Payload, want)
			}
		}
	}

	if err := relay(batch("1", "2", "3")); err != nil {
		t.Fatal(err)
	}
	expect("1", "2", "3")
	server.Kill()
	server.LoseStore()
	server.Start()
	again := batch("4", "5")
	testenv.Eventually(t, waitTimeout, "relaying a batch after the server lost its store", func() bool {
		return relay(again) == nil
	})
	expect("4", "5")
}

func TestPingTellsWhetherJetStreamAnswers(t *testing.T) {
	t.Parallel()
	server := testenv.StartNATSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Ping(ctx, server.URL); err != nil {
		t.Errorf("Ping of a running server: %v", err)
	}
	server.Kill()
	if err := Ping(ctx, server.URL); err == nil {
		t.Error("Ping of a killed server succeeded")
	}
}
