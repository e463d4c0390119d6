package redispubsub

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/internal/groupcommit"
)

// DefaultPublishWindow is how long a published message's UUID is
// remembered. A message is published again when its handler is retried
// (seconds) or its event is redelivered after the stream's MaxIdleTime
// (10 s); a minute covers both with room to spare.
const DefaultPublishWindow = time.Minute

// publishTimeout bounds one pipeline of publishes.
const publishTimeout = 5 * time.Second

// publishOnceScript publishes a payload unless a message of the same UUID
// was published on the channel within the window: marking and publishing
// in one step, so that a retried handler, a redelivered event or two
// processes handling it at once publish it once. It returns the number of
// subscribers reached, or -1 for a duplicate.
//
//	KEYS[1] the message's published key
//	ARGV[1] the window in ms, ARGV[2] the channel, ARGV[3] the payload
var publishOnceScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then
  return -1
end
return redis.call('PUBLISH', ARGV[2], ARGV[3])
`)

// ChannelPublisherConfig configures a ChannelPublisher.
type ChannelPublisherConfig struct {
	// Client talks to Redis (see NewClient); the caller owns it.
	Client *redis.Client
	// TopicPrefix prefixes channels and keys, like stream names.
	TopicPrefix string
	// Window defaults to DefaultPublishWindow.
	Window time.Duration
}

// ChannelPublisher is a message.Publisher for Redis Pub/Sub clients: it
// PUBLISHes each message's payload, bare, on the channel TopicPrefix+topic,
// once per message UUID within the window. Metadata, correlation id
// included, stays behind: a channel carries nothing but the payload.
// Publishes made at the same time share one pipeline (groupcommit).
type ChannelPublisher struct {
	cfg       ChannelPublisherConfig
	publishes *groupcommit.Writer[*pendingPublish]
}

type pendingPublish struct {
	key, channel string
	payload      []byte
	err          error
}

func NewChannelPublisher(cfg ChannelPublisherConfig) (*ChannelPublisher, error) {
	if cfg.Client == nil {
		return nil, ConfigError{Reason: "channel publisher: no Redis client"}
	}
	cfg.Window = orDefault(cfg.Window, DefaultPublishWindow)
	p := &ChannelPublisher{cfg: cfg}
	p.publishes = groupcommit.New(publishTimeout, p.publishAll)
	return p, nil
}

func (p *ChannelPublisher) Publish(topic string, msgs ...*message.Message) error {
	channel := p.cfg.TopicPrefix + topic
	for _, msg := range msgs {
		if msg.UUID == "" {
			return &PublishError{Channel: channel, Err: ErrNoMessageUUID}
		}
		pending := &pendingPublish{
			key:     publishedKey(p.cfg.TopicPrefix, topic, msg.UUID),
			channel: channel,
			payload: msg.Payload,
		}
		err := p.publishes.Do(msg.Context(), pending)
		if err == nil {
			err = pending.err
		}
		if err != nil {
			return &PublishError{Channel: channel, MessageUUID: msg.UUID, Err: err}
		}
	}
	return nil
}

// publishAll sends the publishes in one pipeline, each with its own result.
func (p *ChannelPublisher) publishAll(ctx context.Context, publishes []*pendingPublish) error {
	pipe := p.cfg.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(publishes))
	for i, pub := range publishes {
		// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
		cmds[i] = publishOnceScript.Eval(ctx, pipe, []string{pub.key}, p.cfg.Window.Milliseconds(), pub.channel, pub.payload)
	}
	_, _ = pipe.Exec(ctx) // each command's error is its own, read below
	for i, pub := range publishes {
		pub.err = cmds[i].Err()
	}
	return nil
}

// Close closes nothing: the client is the caller's.
func (p *ChannelPublisher) Close() error { return nil }
