package httpapi

import (
	"context"
	"errors"
	"testing"
)

// A check that answered is reported as it answered even when the deadline
// has passed too by the time its answer is read (select alone would pick
// one of the two at random).
func TestAwaitCheckPrefersAnAnswerToThePassedDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	refused := errors.New("refused")
	for _, answer := range []error{nil, refused} {
		for range 200 {
			result := make(chan error, 1)
			result <- answer
			if err := awaitCheck(ctx, result); !errors.Is(err, answer) || (answer == nil && err != nil) {
				t.Fatalf("answer %v was reported as %v", answer, err)
			}
		}
	}
	if err := awaitCheck(ctx, make(chan error)); err == nil {
		t.Fatal("a check that never answered was reported as ready")
	}
}
