package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"allocation/adapters/memory"
	"allocation/adapters/messagebus"
	"allocation/app"
)

func TestPoisonQueuePages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	q, err := memory.NewPoisonQueue(ctx, ps, ps, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := ps.Publish(messagebus.PoisonTopic, message.NewMessage(fmt.Sprint("m", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	var all []app.ParkedMessage
	for deadline := time.Now().Add(5 * time.Second); len(all) < 5; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("parked %d of 5", len(all))
		}
		all, _ = q.List(ctx, app.PoisonPage{})
	}
	page, _ := q.List(ctx, app.PoisonPage{Limit: 2})
	if len(page) != 2 || page[0].UUID != "m0" || page[1].UUID != "m1" {
		t.Fatalf("first page = %v", page)
	}
	// The cursor holds after its message is replayed.
	if _, err := q.Replay(ctx, []string{page[1].ID}); err != nil {
		t.Fatal(err)
	}
	page, _ = q.List(ctx, app.PoisonPage{After: page[1].ID, Limit: 2})
	if len(page) != 2 || page[0].UUID != "m2" || page[1].UUID != "m3" {
		t.Fatalf("second page = %v", page)
	}
	page, _ = q.List(ctx, app.PoisonPage{After: page[1].ID, Limit: 2})
	if len(page) != 1 || page[0].UUID != "m4" {
		t.Fatalf("last page = %v", page)
	}
	var cursor app.PoisonCursorError
	if _, err := q.List(ctx, app.PoisonPage{After: "x"}); !errors.As(err, &cursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}
