package redispubsub

import (
	"errors"
	"fmt"
)

// NotLeaseHolderError is returned for an append refused because the bridge
// no longer holds the lease: another process took it over (and appends what
// it receives) or it expired.
type NotLeaseHolderError struct {
	Holder string
}

func (e NotLeaseHolderError) Error() string {
	return fmt.Sprintf("redis pub/sub bridge %s does not hold the lease", e.Holder)
}

// PublishError is a message that could not be published on its channel.
type PublishError struct {
	Channel, MessageUUID string
	Err                  error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publishing message %s on channel %s: %v", e.MessageUUID, e.Channel, e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// ErrNoMessageUUID: a message is published on a channel once per UUID, so
// one without a UUID cannot be.
var ErrNoMessageUUID = errors.New("message has no UUID")

// ConfigError is a bridge or publisher configured so that it cannot work.
type ConfigError struct{ Reason string }

func (e ConfigError) Error() string { return "redis pub/sub: " + e.Reason }
