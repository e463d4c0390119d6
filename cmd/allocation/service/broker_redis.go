package service

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/messagebus"
	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
	"allocation/adapters/redispubsub"
	"allocation/contracts"
	"allocation/ports/httpapi"
)

// openRedisBroker opens Redis Streams. With a PostgreSQL store, the relay
// publishes the outbox through a pipeline: one round trip per batch.
func openRedisBroker(d brokerDeps) (brokerParts, error) {
	cfg := d.cfg
	streams, err := pubsub.NewRedisStreamsPubSub(pubsub.RedisStreamsConfig{
		Redis: redis.Options{Addr: cfg.RedisAddr},
		// Other services publish on the external stream: never trimmed.
		Trim: pubsub.RedisTrimConfig{
			Untrimmed:    []string{cfg.TopicPrefix + contracts.ChangeBatchQuantityTopic},
			PoisonStream: cfg.TopicPrefix + messagebus.PoisonTopic,
		},
		// Not demoted like Watermill's own info lines.
		StateLogger: watermill.NewSlogLogger(d.logger),
	}, d.wmLogger)
	if err != nil {
		return brokerParts{}, fmt.Errorf("connecting to Redis: %w", err)
	}
	d.resources.add(streams.Close)
	ps := withTopicPrefix(streams, cfg.TopicPrefix)
	client := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
	d.resources.add(client.Close)
	pipeline := streams.PipelinedPublisher(cfg.TopicPrefix)
	b, err := d.relayedBroker(ps, pubsub.NewRedisPoisonQueue(client, ps.Publisher(), cfg.TopicPrefix),
		postgres.RelayDestination{Publisher: pipeline, Flush: pipeline.Flush})
	if err != nil {
		return brokerParts{}, err
	}
	b.readiness = []httpapi.ReadinessCheck{{Name: "redis", Check: streams.Ready}}
	b.workers = []func(context.Context) error{streams.RunTrimmer}
	if cfg.RedisPubSubBridge {
		if err := addRedisPubSubBridge(&b, d); err != nil {
			return brokerParts{}, err
		}
	}
	return b, nil
}

// addRedisPubSubBridge lets services that speak Redis Pub/Sub (the book's)
// talk to this one beside the streams: a worker takes change_batch_quantity
// from its channel into its stream (one process per deployment at a time),
// and line_allocated is published on its channel once its stream has it.
func addRedisPubSubBridge(b *brokerParts, d brokerDeps) error {
	client := redispubsub.NewClient(redis.Options{Addr: d.cfg.RedisAddr})
	d.resources.add(client.Close)
	counters, err := d.metrics.NewRedisPubSubBridge()
	if err != nil {
		return err
	}
	bridge, err := redispubsub.NewInboundBridge(redispubsub.InboundBridgeConfig{
		Client:         client,
		Topics:         []string{contracts.ChangeBatchQuantityTopic},
		TopicPrefix:    d.cfg.TopicPrefix,
		Logger:         d.logger,
		OnAppended:     counters.Appended,
		OnAppendFailed: counters.AppendFailed,
		OnHolding:      counters.Holding,
	})
	if err != nil {
		return err
	}
	b.workers = append(b.workers, bridge.Run)
	channels, err := redispubsub.NewChannelPublisher(redispubsub.ChannelPublisherConfig{Client: client, TopicPrefix: d.cfg.TopicPrefix})
	if err != nil {
		return err
	}
	b.handlerPublisher = redispubsub.NewMirroringPublisher(b.handlerPublisher, channels, contracts.LineAllocatedTopic)
	return nil
}
