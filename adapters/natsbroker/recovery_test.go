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
			server := startNATSServer(t)
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
