package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// provisioner creates the streams and durable consumers the process uses
// and remembers them, to create them again when the server lost them
// (restarted without its store) and to check them for readiness.
type provisioner struct {
	js  nats.JetStreamManager
	cfg Config

	mu sync.Mutex
	// Every stream (by topic) and consumer ever provisioned, true when
	// provisioned since the last reconnection.
	streams   map[string]bool
	consumers map[consumerKey]bool
}

type consumerKey struct{ topic, group string }

func newProvisioner(js nats.JetStreamManager, cfg Config) *provisioner {
	return &provisioner{js: js, cfg: cfg, streams: map[string]bool{}, consumers: map[consumerKey]bool{}}
}

func (p *provisioner) streamConfig(topic string) *nats.StreamConfig {
	return &nats.StreamConfig{
		Name:       StreamName(topic),
		Subjects:   []string{topic},
		Retention:  nats.LimitsPolicy,
		Storage:    nats.FileStorage,
		Duplicates: p.cfg.DuplicateWindow,
		MaxAge:     p.cfg.MaxAge,
		Replicas:   p.cfg.Replicas,
	}
}

func (p *provisioner) consumerConfig(topic, group string) *nats.ConsumerConfig {
	stream, name := StreamName(topic), ConsumerName(group)
	return &nats.ConsumerConfig{
		Durable:        name,
		DeliverSubject: deliverSubject(stream, name),
		DeliverGroup:   name,
		DeliverPolicy:  nats.DeliverAllPolicy,
		AckPolicy:      nats.AckExplicitPolicy,
		AckWait:        p.cfg.AckWait,
	}
}

// ensureStream provisions the stream of topic once (again after a
// reconnection).
func (p *provisioner) ensureStream(topic string) error {
	return once(&p.mu, p.streams, topic, func() error {
		if err := checkSubject(topic); err != nil {
			return err
		}
		return p.addStream(topic)
	})
}

// ensureConsumer provisions the stream of topic and the durable consumer
// of group on it.
func (p *provisioner) ensureConsumer(topic, group string) error {
	if err := p.ensureStream(topic); err != nil {
		return err
	}
	return once(&p.mu, p.consumers, consumerKey{topic, group}, func() error { return p.addConsumer(topic, group) })
}

// once runs add unless done[key], and marks it done when add succeeds.
func once[K comparable](mu *sync.Mutex, done map[K]bool, key K, add func() error) error {
	mu.Lock()
	ok := done[key]
	mu.Unlock()
	if ok {
		return nil
	}
	if err := add(); err != nil {
		return err
	}
	mu.Lock()
	done[key] = true
	mu.Unlock()
	return nil
}

// addStream creates the stream, or updates it when it exists with
// another configuration (a changed duplicate window or age).
func (p *provisioner) addStream(topic string) error {
	cfg := p.streamConfig(topic)
	_, err := p.js.AddStream(cfg)
	if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		_, err = p.js.UpdateStream(cfg)
	}
	if err != nil {
		return fmt.Errorf("provisioning stream %s of %s: %w", cfg.Name, topic, err)
	}
	return nil
}

// addConsumer creates the consumer, or updates it when it exists with
// another configuration (a changed ack wait).
func (p *provisioner) addConsumer(topic, group string) error {
	stream, cfg := StreamName(topic), p.consumerConfig(topic, group)
	_, err := p.js.AddConsumer(stream, cfg)
	if err != nil {
		if _, updateErr := p.js.UpdateConsumer(stream, cfg); updateErr == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("provisioning consumer %s on stream %s: %w", cfg.Durable, stream, err)
	}
	return nil
}

// reprovision provisions again every stream and consumer provisioned so
// far: after a restart without its store the server has none of them.
// Those that fail stay known, to be provisioned by the next attempt.
func (p *provisioner) reprovision() error {
	p.mu.Lock()
	markAll(p.streams, false)
	markAll(p.consumers, false)
	topics, consumers := keys(p.streams), keys(p.consumers)
	p.mu.Unlock()
	var errs []error
	for _, t := range topics {
		errs = append(errs, p.ensureStream(t))
	}
	for _, c := range consumers {
		errs = append(errs, p.ensureConsumer(c.topic, c.group))
	}
	return errors.Join(errs...)
}

// forgetStream makes the next ensureStream of topic ask the server.
func (p *provisioner) forgetStream(topic string) {
	p.mu.Lock()
	p.streams[topic] = false
	p.mu.Unlock()
}

// check reports the first stream or consumer provisioned so far that the
// server does not have.
func (p *provisioner) check(ctx context.Context) error {
	p.mu.Lock()
	topics := keys(p.streams)
	consumers := keys(p.consumers)
	p.mu.Unlock()
	for _, t := range topics {
		if _, err := p.js.StreamInfo(StreamName(t), nats.Context(ctx)); err != nil {
			return fmt.Errorf("stream %s of %s: %w", StreamName(t), t, err)
		}
	}
	for _, c := range consumers {
		if _, err := p.js.ConsumerInfo(StreamName(c.topic), ConsumerName(c.group), nats.Context(ctx)); err != nil {
			return fmt.Errorf("consumer %s on stream %s: %w", ConsumerName(c.group), StreamName(c.topic), err)
		}
	}
	return nil
}

func keys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func markAll[K comparable](m map[K]bool, v bool) {
	for k := range m {
		m[k] = v
	}
}
