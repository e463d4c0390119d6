package redispubsub

import "github.com/ThreeDotsLabs/watermill/message"

// MirroringPublisher publishes every message through streams and, for the
// mirrored topics, then through channels too: a message reaches its
// channel only once its stream has it, and a failure of either is
// returned, so that the handler is retried (the stream's consumers drop the
// repeated entry by its UUID, the channel publisher publishes it once).
type MirroringPublisher struct {
	streams  message.Publisher
	channels message.Publisher
	mirrored map[string]bool
}

func NewMirroringPublisher(streams, channels message.Publisher, topics ...string) *MirroringPublisher {
	mirrored := make(map[string]bool, len(topics))
	for _, topic := range topics {
		mirrored[topic] = true
	}
	return &MirroringPublisher{streams: streams, channels: channels, mirrored: mirrored}
}

func (p *MirroringPublisher) Publish(topic string, msgs ...*message.Message) error {
	if err := p.streams.Publish(topic, msgs...); err != nil {
		return err
	}
	if !p.mirrored[topic] {
		return nil
	}
	return p.channels.Publish(topic, msgs...)
}

// Close closes nothing: both publishers belong to whoever made them.
func (p *MirroringPublisher) Close() error { return nil }
