package natsbroker

import (
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// Config configures the NATS JetStream broker; zero values take the defaults.
type Config struct {
	// URL of the NATS server (or a comma-separated list of a cluster's).
	// Default DefaultURL.
	URL string
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream delivers it again, to this or another process.
	// Default DefaultAckWait.
	AckWait time.Duration
	// NackDelay is the pause before a nacked message is delivered again.
	// The router only nacks when even the poison queue could not take the
	// message (NATS is away), so redelivering at once would spin.
	// Default DefaultNackDelay.
	NackDelay time.Duration
	// ConsumersPerGroup is how many messages a ConcurrentSubscriber hands
	// over at once. Default DefaultConsumersPerGroup.
	ConsumersPerGroup int
	// DuplicateWindow is how long JetStream remembers a message's
	// Nats-Msg-Id to drop a re-send. Default DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// Replicas is how many servers of a cluster hold each stream (and its
	// consumers), so that it outlives the loss of fewer than half of them;
	// a single server takes only 1. Default 1.
	Replicas int
	// MaxAge drops messages older than this from every stream; 0 keeps
	// them until the stream is purged.
	MaxAge time.Duration
	// ReprovisionInterval is the pause between attempts to provision the
	// streams and consumers again after a reconnection. Default
	// DefaultReprovisionInterval.
	ReprovisionInterval time.Duration
	// Logger; nil: watermill.NopLogger.
	Logger watermill.LoggerAdapter
}

const (
	DefaultURL = "nats://127.0.0.1:4222"
	// DefaultAckWait leaves a live handler time for its retries (a few
	// seconds of backoff) before another process gets the message.
	DefaultAckWait             = 30 * time.Second
	DefaultNackDelay           = 500 * time.Millisecond
	DefaultConsumersPerGroup   = 4
	DefaultDuplicateWindow     = 2 * time.Minute
	DefaultReprovisionInterval = 500 * time.Millisecond
)

func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.NackDelay <= 0 {
		c.NackDelay = DefaultNackDelay
	}
	if c.ConsumersPerGroup <= 0 {
		c.ConsumersPerGroup = DefaultConsumersPerGroup
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.ReprovisionInterval <= 0 {
		c.ReprovisionInterval = DefaultReprovisionInterval
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
	return c
}
