package pubsub

import (
	"context"
	"errors"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// parallelSubscriber lets one consumer group of this process handle several
// messages at once. Its subscribers are distinct consumers of the same
// group; it subscribes each and merges their channels. A subscriber sends
// its next message only once the last one is acknowledged, and the router
// handles every message on a goroutine of its own, so n subscribers give a
// handler up to n messages in flight.
//
// Why: a handler whose work waits on a round trip and a commit (the read
// model's upsert) handles at most one message per round trip, about a
// thousand a second here, fewer than the allocations a second the service
// takes; alone, its group falls ever further behind under load.
//
// Messages of one group may then be handled out of order, as they already
// are when several processes share a group: handlers do not depend on the
// order (the read model applies events by product version).
type parallelSubscriber struct {
	subscribers []message.Subscriber
}

func (p parallelSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	channels := make([]<-chan *message.Message, 0, len(p.subscribers))
	for _, s := range p.subscribers {
		ch, err := s.Subscribe(ctx, topic)
		if err != nil {
			// Those already subscribed stop on Close or when ctx ends.
			return nil, err
		}
		channels = append(channels, ch)
	}
	out := make(chan *message.Message)
	var wg sync.WaitGroup
	for _, ch := range channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range ch {
				select {
				case out <- msg:
				case <-ctx.Done():
					// Not acknowledged: its subscriber stops too, and the
					// message is delivered again later.
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out, nil
}

func (p parallelSubscriber) Close() error {
	var errs []error
	for _, s := range p.subscribers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
