// Package pubsub builds the broker chosen by configuration.
package pubsub

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// GoChannelPubSub is the in-memory broker. Every subscriber gets every
// message of its topic, which is what one consumer group per handler needs
// in a single process. Messages do not carry their Go context across
// (PreserveContext off): a handler must not run on an HTTP request's
// context, which is cancelled when the response is sent.
type GoChannelPubSub struct {
	channel *gochannel.GoChannel
}

func NewGoChannelPubSub(logger watermill.LoggerAdapter) *GoChannelPubSub {
	return &GoChannelPubSub{channel: gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, logger)}
}

func (p *GoChannelPubSub) Publisher() message.Publisher { return p.channel }

func (p *GoChannelPubSub) Subscriber(string) (message.Subscriber, error) { return p.channel, nil }

// ConcurrentSubscriber is the same channel: gochannel hands a subscription
// one message at a time.
func (p *GoChannelPubSub) ConcurrentSubscriber(group string) (message.Subscriber, error) {
	return p.Subscriber(group)
}

func (p *GoChannelPubSub) Close() error { return p.channel.Close() }
