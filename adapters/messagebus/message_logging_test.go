package messagebus_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/tests/testenv"
)

func TestLogMessagesNamesHandlerMessageAndCorrelation(t *testing.T) {
	var out testenv.LockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ps := pubsub.NewGoChannelPubSub(watermill.NopLogger{})
	defer ps.Close()
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{})
	var once sync.Once
	router.AddConsumerHandler("NotifyOutOfStock", "topic", ps.Publisher().(message.Subscriber), func(*message.Message) error {
		once.Do(func() { close(handled) })
		return errors.New("database away")
	}).AddMiddleware(messagebus.LogMessages(logger), middleware.Recoverer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()

	msg := message.NewMessage("uuid-1", nil)
	middleware.SetCorrelationID("corr-1", msg)
	if err := ps.Publisher().Publish("topic", msg); err != nil {
		t.Fatal(err)
	}
	<-handled
	eventually(t, "the log line", func() bool { return strings.Contains(out.String(), "message handling failed") })
	first, _, _ := strings.Cut(out.String(), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("log %q: %v", first, err)
	}
	for k, want := range map[string]any{
		"handler": "NotifyOutOfStock", "message_uuid": "uuid-1", "correlation_id": "corr-1",
		"level": "WARN", "error": "database away", "permanent": false, "topic": "topic",
	} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], want, first)
		}
	}
}
