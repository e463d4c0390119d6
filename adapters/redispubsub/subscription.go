package redispubsub

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// subscription is the holder's subscription to the bridged channels and
// the goroutine that appends what arrives, in order.
type subscription struct {
	pubsub *redis.PubSub
	done   chan struct{}
}

// subscribe returns once Redis has confirmed every channel, so that the
// caller can say truthfully that it listens.
func (b *InboundBridge) subscribe(ctx context.Context) (*subscription, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.AppendTimeout)
	defer cancel()
	channels := b.channels()
	ps := b.cfg.Client.Subscribe(ctx, channels...)
	// A message on a channel confirmed first may come before the next
	// confirmation; it is appended first.
	var early []*redis.Message
	for confirmed := 0; confirmed < len(channels); {
		reply, err := ps.Receive(ctx)
		if err != nil {
			_ = ps.Close()
			return nil, fmt.Errorf("subscribing to %v: %w", channels, err)
		}
		switch reply := reply.(type) {
		case *redis.Subscription:
			confirmed++
		case *redis.Message:
			early = append(early, reply)
		}
	}
	s := &subscription{pubsub: ps, done: make(chan struct{})}
	// Channel reconnects and subscribes again when the connection breaks
	// (its health check pings an idle one).
	messages := ps.Channel()
	go func() {
		defer close(s.done)
		for _, msg := range early {
			b.appendMessage(msg)
		}
		for msg := range messages {
			b.appendMessage(msg)
		}
	}()
	return s, nil
}

// close unsubscribes and waits until what had been received is appended.
func (s *subscription) close() {
	_ = s.pubsub.Close()
	<-s.done
}
