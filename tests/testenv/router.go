package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// RunRouter runs a Watermill router until the test ends, returning once it
// is running; an error it stops with fails the test.
func RunRouter(t testing.TB, router *message.Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	select {
	case <-router.Running():
	case err := <-done:
		t.Fatalf("router did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start within 10s")
	}
}
