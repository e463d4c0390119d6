package pubsub

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/internal/pending"
)

// RedisPipelinedPublisher queues what it is given and adds it to the
// streams in one pipeline on Flush: one round trip for a batch, where
// redisstream's publisher makes one per message. Entries have the format
// of RedisEntryMarshaller, like every entry of RedisStreamsPubSub.
//
// It is for the outbox relay, which flushes before it records a batch as
// relayed (postgres.RelayDestination): a message counts as published only
// once Flush has returned nil. A failed Flush drops the queue; the relay
// then reads the batch again and queues it anew.
type RedisPipelinedPublisher struct {
	client *redis.Client
	prefix string
	maxLen int64
	outage *redisOutageLog
	queued pending.List[*redis.XAddArgs]
}

// PipelinedPublisher returns a pipelined publisher on the pub/sub's client,
// adding prefix to every topic (TOPIC_PREFIX).
func (p *RedisStreamsPubSub) PipelinedPublisher(prefix string) *RedisPipelinedPublisher {
	return &RedisPipelinedPublisher{client: p.client, prefix: prefix, maxLen: p.cfg.MaxLen, outage: p.outage}
}

func (p *RedisPipelinedPublisher) Publish(topic string, msgs ...*message.Message) error {
	stream := p.prefix + topic
	entries := make([]*redis.XAddArgs, 0, len(msgs))
	for _, msg := range msgs {
		values, err := RedisEntryMarshaller{}.Marshal(stream, msg)
		if err != nil {
			return fmt.Errorf("marshalling message %s for %s: %w", msg.UUID, stream, err)
		}
		entries = append(entries, &redis.XAddArgs{Stream: stream, Values: values, MaxLen: p.maxLen, Approx: p.maxLen > 0})
	}
	p.queued.Add(entries...)
	return nil
}

// Flush adds every queued message, in the order queued, in one pipeline.
func (p *RedisPipelinedPublisher) Flush(ctx context.Context) error {
	queued := p.queued.Take()
	if len(queued) == 0 {
		return nil
	}
	pipe := p.client.Pipeline()
	for _, args := range queued {
		pipe.XAdd(ctx, args)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		p.outage.failed("relaying the outbox", err)
		return fmt.Errorf("adding %d relayed messages to Redis: %w", len(queued), err)
	}
	p.outage.succeeded()
	return nil
}

// Close drops what was not flushed; the client is the pub/sub's.
func (p *RedisPipelinedPublisher) Close() error {
	p.queued.Take()
	return nil
}
