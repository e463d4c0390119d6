package app

import (
	"context"
	"fmt"
	"time"
)

// ParkedMessage is a message in the poison queue with why it is there.
type ParkedMessage struct {
	// ID identifies the message in the poison queue (broker specific).
	ID            string            `json:"id"`
	UUID          string            `json:"uuid"`
	Topic         string            `json:"topic"`
	Handler       string            `json:"handler"`
	Reason        string            `json:"reason"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	ParkedAt      time.Time         `json:"parked_at"`
	Payload       string            `json:"payload"`
	Metadata      map[string]string `json:"metadata"`
}

// PoisonQueue lists parked messages and sends them back to the topic they
// failed on. Replaying removes what was replayed from the queue.
type PoisonQueue interface {
	// List returns one page of parked messages, oldest first: at most
	// page.Limit of them (DefaultPoisonPageLimit when 0), the first after
	// the message with ID page.After ("" from the start; the message need
	// not be parked any more). An After that cannot be an ID of this queue
	// is a PoisonCursorError.
	List(ctx context.Context, page PoisonPage) ([]ParkedMessage, error)
	// Replay sends back the messages with the given ids, or every parked
	// message when ids is empty, and returns the ids replayed.
	Replay(ctx context.Context, ids []string) ([]string, error)
}

// PoisonPage is one page of the poison queue: the next page starts after
// the last ID of this one, and a page shorter than Limit is the last.
type PoisonPage struct {
	After string
	Limit int
}

// Page sizes of PoisonQueue.List: a parked message can be as large as the
// largest message (a 1 MB payload), so a page is bounded.
const (
	DefaultPoisonPageLimit = 100
	MaxPoisonPageLimit     = 1000
)

// EffectiveLimit is Limit bounded to 1..MaxPoisonPageLimit, 0 meaning
// DefaultPoisonPageLimit.
func (p PoisonPage) EffectiveLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPoisonPageLimit
	case p.Limit > MaxPoisonPageLimit:
		return MaxPoisonPageLimit
	}
	return p.Limit
}

// PoisonCursorError is a page's After that cannot be an ID of the queue.
type PoisonCursorError struct{ After string }

func (e PoisonCursorError) Error() string {
	return fmt.Sprintf("after: %q is not an id of this poison queue", TruncateForLog(e.After, 64))
}

// UnknownParkedMessageError is returned when replaying an id that is not parked.
type UnknownParkedMessageError struct{ ID string }

func (e UnknownParkedMessageError) Error() string { return "no parked message with id " + e.ID }
