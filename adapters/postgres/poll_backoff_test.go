package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/adapters/postgres"
)

func TestBatchingBackoff(t *testing.T) {
	const (
		poll   = 2 * time.Millisecond
		gather = 3 * time.Millisecond
		retry  = time.Second
	)
	b := postgres.NewBatchingBackoff(poll, gather, retry)
	tests := []struct {
		name  string
		noMsg bool
		err   error
		want  time.Duration
	}{
		{name: "messages found: let the next ones gather", want: gather},
		{name: "nothing found: poll again later", noMsg: true, want: poll},
		{name: "error: retry later", err: errors.New("connection refused"), want: retry},
		{name: "deadlock: retry at once", err: errors.New("could not serialize access due to concurrent update"), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.HandleError(watermill.NopLogger{}, tt.noMsg, tt.err); got != tt.want {
				t.Fatalf("wait %v, want %v", got, tt.want)
			}
		})
	}
}
