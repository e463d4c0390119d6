package redispubsub

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/pubsub"
)

// Defaults of InboundBridgeConfig.
const (
	// DefaultLeaseTTL is how long a dead holder keeps the lease, and so
	// how long Pub/Sub messages go unheard when it dies.
	DefaultLeaseTTL = 5 * time.Second
	// DefaultRenewInterval leaves a holder four renewals to miss before its
	// lease expires, and is how long a standby takes to notice a lease
	// released on shutdown.
	DefaultRenewInterval = time.Second
	// DefaultAppendTimeout bounds one append to a stream.
	DefaultAppendTimeout = 5 * time.Second
)

// Reasons an append fails, as counted by OnAppendFailed.
const (
	FailureNotHolder = "not_holder"
	FailureRedis     = "redis"
)

// InboundBridgeConfig configures an InboundBridge.
type InboundBridgeConfig struct {
	// Client talks to Redis (see NewClient); the caller owns it.
	Client *redis.Client
	// Topics are bridged: the channel TopicPrefix+topic into the stream of
	// the same name.
	Topics      []string
	TopicPrefix string
	// Holder names this process in the lease; empty means
	// pubsub.DefaultConsumerName().
	Holder string
	// LeaseTTL, RenewInterval and AppendTimeout default to the constants
	// above; RenewInterval must be shorter than LeaseTTL.
	LeaseTTL      time.Duration
	RenewInterval time.Duration
	AppendTimeout time.Duration
	Logger        *slog.Logger
	// OnAppended, OnAppendFailed (with FailureNotHolder or FailureRedis) and
	// OnHolding (after each attempt to take or renew the lease: whether
	// this bridge holds it and is subscribed) let the caller count; nil
	// ones are not called.
	OnAppended     func()
	OnAppendFailed func(reason string)
	OnHolding      func(bool)
}

// InboundBridge takes messages published on Redis Pub/Sub channels into
// the streams of the same names while it holds its deployment's lease;
// bridges of other processes wait on standby and take over when the
// holder releases the lease or dies. Only the holder is subscribed, so a
// message is appended once however many processes run, and its appends
// are fenced by the lease (see fencedAppendScript).
type InboundBridge struct {
	cfg   InboundBridgeConfig
	lease *Lease
}

func NewInboundBridge(cfg InboundBridgeConfig) (*InboundBridge, error) {
	if cfg.Client == nil {
		return nil, ConfigError{Reason: "inbound bridge: no Redis client"}
	}
	if len(cfg.Topics) == 0 {
		return nil, ConfigError{Reason: "inbound bridge: no topics"}
	}
	if cfg.Holder == "" {
		cfg.Holder = pubsub.DefaultConsumerName()
	}
	cfg.LeaseTTL = orDefault(cfg.LeaseTTL, DefaultLeaseTTL)
	cfg.RenewInterval = orDefault(cfg.RenewInterval, DefaultRenewInterval)
	cfg.AppendTimeout = orDefault(cfg.AppendTimeout, DefaultAppendTimeout)
	if cfg.RenewInterval >= cfg.LeaseTTL {
		return nil, ConfigError{Reason: "inbound bridge: the renew interval must be shorter than the lease"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "redis-pubsub-bridge", "holder", cfg.Holder)
	return &InboundBridge{cfg: cfg, lease: NewLease(cfg.Client, LeaseKey(cfg.TopicPrefix), cfg.Holder, cfg.LeaseTTL)}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run holds the lease and bridges while it does, until ctx ends; then it
// unsubscribes, appends what it had already received and releases the
// lease. Redis being away is waited out, never returned: Run returns nil.
func (b *InboundBridge) Run(ctx context.Context) error {
	run := &bridgeRun{InboundBridge: b}
	defer run.stop()
	tick := time.NewTicker(b.cfg.RenewInterval)
	defer tick.Stop()
	for {
		run.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// bridgeRun is the state of one Run.
type bridgeRun struct {
	*InboundBridge
	sub *subscription
	// heldUntil is when the lease ends unless renewed, counted from before
	// the request that took or renewed it.
	heldUntil time.Time
	// standby is set once this run has said it is on standby, so that it
	// says so once per change.
	standby bool
}

// step takes or renews the lease, then subscribes or unsubscribes to match.
func (r *bridgeRun) step(ctx context.Context) {
	asked := time.Now()
	holdCtx, cancel := context.WithTimeout(ctx, r.cfg.RenewInterval)
	held, holdErr := r.lease.Hold(holdCtx)
	cancel()
	switch {
	case holdErr != nil && ctx.Err() != nil:
		return
	case holdErr != nil:
		// Until the lease would have expired nobody else can have it.
		held = r.sub != nil && time.Now().Before(r.heldUntil)
		r.cfg.Logger.Warn("cannot take or renew the lease", "error", holdErr, "still_holding", held)
	case held:
		r.heldUntil = asked.Add(r.cfg.LeaseTTL)
	}
	switch {
	case held && r.sub == nil:
		sub, err := r.subscribe(ctx)
		if err != nil {
			r.cfg.Logger.Warn("holding the lease but cannot subscribe; giving it up", "error", err)
			r.release()
			break
		}
		r.sub, r.standby = sub, false
		r.cfg.Logger.Info("holding the lease: subscribed", "channels", r.channels())
	case !held && r.sub != nil:
		r.unsubscribe()
		r.cfg.Logger.Warn("lost the lease: unsubscribed")
	case !held && holdErr == nil && !r.standby:
		r.standby = true
		r.cfg.Logger.Info("on standby: another process holds the lease", "lease", r.lease.key)
	}
	if r.cfg.OnHolding != nil {
		r.cfg.OnHolding(r.sub != nil)
	}
}

// stop ends the run: unsubscribed first, so that nothing is appended after
// the lease is released. The release is asked of standbys too: it changes
// nothing unless this process still holds the lease.
func (r *bridgeRun) stop() {
	if r.sub != nil {
		r.unsubscribe()
	}
	r.release()
	if r.cfg.OnHolding != nil {
		r.cfg.OnHolding(false)
	}
}

func (r *bridgeRun) release() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.AppendTimeout)
	defer cancel()
	if err := r.lease.Release(ctx); err != nil {
		r.cfg.Logger.Warn("cannot release the lease; it expires by itself", "error", err, "ttl", r.cfg.LeaseTTL)
	}
}

func (r *bridgeRun) unsubscribe() {
	r.sub.close()
	r.sub = nil
}

func (b *InboundBridge) channels() []string {
	channels := make([]string, len(b.cfg.Topics))
	for i, topic := range b.cfg.Topics {
		channels[i] = b.cfg.TopicPrefix + topic
	}
	return channels
}

// appendMessage appends a received message to its stream, or logs and
// counts why not: Pub/Sub cannot deliver it again.
func (b *InboundBridge) appendMessage(msg *redis.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.AppendTimeout)
	defer cancel()
	stream := msg.Channel // channel and stream have the same name
	correlationID := uuid.NewString()
	id, err := appendFenced(ctx, b.lease, stream, msg.Payload, correlationID)
	if err != nil {
		reason := FailureRedis
		if errors.As(err, new(NotLeaseHolderError)) {
			reason = FailureNotHolder
		}
		b.cfg.Logger.Error("Pub/Sub message not appended to its stream", "channel", msg.Channel, "stream", stream, "error", err,
			"reason", reason, "payload", msg.Payload, "correlation_id", correlationID)
		if b.cfg.OnAppendFailed != nil {
			b.cfg.OnAppendFailed(reason)
		}
		return
	}
	b.cfg.Logger.Debug("Pub/Sub message appended to its stream", "stream", stream, "entry_id", id, "correlation_id", correlationID)
	if b.cfg.OnAppended != nil {
		b.cfg.OnAppended()
	}
}
