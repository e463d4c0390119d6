package app

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// namedSubscriber says which constructor made it.
type namedSubscriber struct{ made string }

func (namedSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return nil, nil
}
func (namedSubscriber) Close() error { return nil }

type orderedOnlyPubSub struct{}

func (orderedOnlyPubSub) Publisher() message.Publisher { return nil }
func (orderedOnlyPubSub) Subscriber(group string) (message.Subscriber, error) {
	return namedSubscriber{"ordered " + group}, nil
}

type concurrentPubSub struct{ orderedOnlyPubSub }

func (concurrentPubSub) ConcurrentSubscriber(group string) (message.Subscriber, error) {
	return namedSubscriber{"concurrent " + group}, nil
}

func TestEventHandlersGetConcurrentSubscribersWhereTheBrokerHasThem(t *testing.T) {
	for _, tc := range []struct {
		name string
		ps   PubSub
		want string
	}{
		{"broker with concurrent subscribers", concurrentPubSub{}, "concurrent g"},
		{"broker without", orderedOnlyPubSub{}, "ordered g"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := eventSubscriber(tc.ps, "g")
			if err != nil {
				t.Fatal(err)
			}
			if got := sub.(namedSubscriber).made; got != tc.want {
				t.Fatalf("event subscriber made by %q, want %q", got, tc.want)
			}
		})
	}
}
