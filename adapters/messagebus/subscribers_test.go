package messagebus_test

import (
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"allocation/adapters/messagebus"
	"allocation/domain"
)

// recordingPubSub notes which kind of subscriber each consumer group got.
type recordingPubSub struct {
	channel *gochannel.GoChannel
	mu      sync.Mutex
	calls   []string
}

func (p *recordingPubSub) Publisher() message.Publisher { return p.channel }

func (p *recordingPubSub) Subscriber(group string) (message.Subscriber, error) {
	p.record("ordered " + group)
	return p.channel, nil
}

func (p *recordingPubSub) ConcurrentSubscriber(group string) (message.Subscriber, error) {
	p.record("concurrent " + group)
	return p.channel, nil
}

func (p *recordingPubSub) record(call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, call)
}

func TestEventHandlersGetConcurrentSubscribersAndCommandHandlersOrderedOnes(t *testing.T) {
	ps := &recordingPubSub{channel: gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})}
	t.Cleanup(func() { _ = ps.channel.Close() })
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{PubSub: ps})
	if err != nil {
		t.Fatal(err)
	}
	err = bus.AddHandlers([]cqrs.CommandHandler{
		cqrs.NewCommandHandler("AllocateHandler", noop[domain.Allocate]),
		cqrs.NewCommandHandler("CreateBatchHandler", noop[domain.CreateBatch]),
		cqrs.NewCommandHandler("ChangeBatchQuantityHandler", noop[domain.ChangeBatchQuantity]),
	}, []cqrs.EventHandler{
		cqrs.NewEventHandler("UpdateView", noop[domain.Allocated]),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := append([]string(nil), ps.calls...)
	sort.Strings(got)
	want := []string{
		"concurrent " + messagebus.ConsumerGroup("UpdateView"),
		"ordered " + messagebus.ConsumerGroup("AllocateHandler"),
		"ordered " + messagebus.ConsumerGroup("ChangeBatchQuantityHandler"),
		"ordered " + messagebus.ConsumerGroup("CreateBatchHandler"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("subscribers made:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
