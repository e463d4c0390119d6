package service

import (
	"github.com/redis/go-redis/v9"

	"allocation/adapters/redispubsub"
	"allocation/contracts"
)

// addRedisPubSubBridge lets services that speak Redis Pub/Sub (the book's)
// talk to this one beside the streams: a worker takes change_batch_quantity
// from its channel into its stream (one process per deployment at a time),
// and line_allocated is published on its channel once its stream has it.
func (s *Service) addRedisPubSubBridge() error {
	client := redispubsub.NewClient(redis.Options{Addr: s.Config.RedisAddr})
	s.closers = append(s.closers, client.Close)
	counters, err := s.Metrics.NewRedisPubSubBridge()
	if err != nil {
		return err
	}
	bridge, err := redispubsub.NewInboundBridge(redispubsub.InboundBridgeConfig{
		Client:         client,
		Topics:         []string{contracts.ChangeBatchQuantityTopic},
		TopicPrefix:    s.Config.TopicPrefix,
		Logger:         s.Logger,
		OnAppended:     counters.Appended,
		OnAppendFailed: counters.AppendFailed,
		OnHolding:      counters.Holding,
	})
	if err != nil {
		return err
	}
	s.workers = append(s.workers, bridge.Run)
	channels, err := redispubsub.NewChannelPublisher(redispubsub.ChannelPublisherConfig{Client: client, TopicPrefix: s.Config.TopicPrefix})
	if err != nil {
		return err
	}
	s.handlerPublisher = redispubsub.NewMirroringPublisher(s.handlerPublisher, channels, contracts.LineAllocatedTopic)
	return nil
}
