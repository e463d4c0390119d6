package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// PubSub is the NATS JetStream broker: one stream per topic (subject =
// topic name), one durable push consumer per consumer group and topic,
// whose deliver group spreads the messages over the subscribers of every
// process. Messages are acknowledged explicitly; JetStream delivers one
// again after Config.AckWait without an acknowledgement. The server pushes
// to a group's subscriptions at random, not by load: a busy subscription
// keeps what it was pushed until it is free or the ack wait has passed.
type PubSub struct {
	cfg         Config
	conn        *nats.Conn
	provisioner *provisioner
	publisher   publisher
	stop        context.CancelFunc
	stopped     chan struct{}
}

// NewPubSub connects to cfg.URL; it fails when the server cannot be
// reached or has no JetStream. Later outages are ridden out: every
// connection reconnects, and streams and consumers are provisioned again.
func NewPubSub(cfg Config) (*PubSub, error) {
	cfg = cfg.withDefaults()
	reconnected := make(chan struct{}, 1)
	conn, err := connect(cfg, "publisher", nats.ReconnectHandler(func(*nats.Conn) {
		select {
		case reconnected <- struct{}{}:
		default:
		}
	}))
	if err != nil {
		return nil, err
	}
	js, err := conn.JetStream()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats jetstream: %w", err)
	}
	if _, err := js.AccountInfo(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nats jetstream at %s: %w", cfg.URL, err)
	}
	inner, err := wmnats.NewPublisherWithNatsConn(conn, wmnats.PublisherPublishConfig{
		Marshaler:         marshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		// The marshaler sets Nats-Msg-Id itself (deduplicationID).
		JetStream: wmnats.JetStreamConfig{},
	}, cfg.Logger)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &PubSub{cfg: cfg, conn: conn, provisioner: newProvisioner(js, cfg), stop: stop, stopped: make(chan struct{})}
	p.publisher = publisher{inner: inner, provisioner: p.provisioner}
	go p.reprovisionAfterReconnections(ctx, reconnected)
	return p, nil
}

// connect opens a connection that reconnects for ever.
func connect(cfg Config, role string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name("allocation " + role), nats.MaxReconnects(-1)}, opts...)
	conn, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats at %s: %w", cfg.URL, err)
	}
	return conn, nil
}

// reprovisionAfterReconnections provisions the streams and consumers again
// after each reconnection, retrying until the server's JetStream answers.
func (p *PubSub) reprovisionAfterReconnections(ctx context.Context, reconnected <-chan struct{}) {
	defer close(p.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-reconnected:
		}
		for {
			err := p.provisioner.reprovision()
			if err == nil {
				break
			}
			p.cfg.Logger.Error("Provisioning NATS streams and consumers again", err, nil)
			select {
			case <-ctx.Done():
				return
			case <-time.After(p.cfg.ReprovisionInterval):
			}
		}
	}
}

// Publisher publishes on the PubSub's connection.
func (p *PubSub) Publisher() message.Publisher { return p.publisher }

// Subscriber hands the group's messages over one at a time, in stream
// order within this process.
func (p *PubSub) Subscriber(consumerGroup string) (message.Subscriber, error) {
	return p.subscriber(consumerGroup, 1)
}

// ConcurrentSubscriber hands over up to Config.ConsumersPerGroup messages
// at once: as many queue subscriptions on the group's consumer.
func (p *PubSub) ConcurrentSubscriber(consumerGroup string) (message.Subscriber, error) {
	return p.subscriber(consumerGroup, p.cfg.ConsumersPerGroup)
}

func (p *PubSub) subscriber(group string, subscriptions int) (message.Subscriber, error) {
	conn, err := connect(p.cfg, "subscriber "+group)
	if err != nil {
		return nil, err
	}
	js, err := conn.JetStream()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &subscriber{
		conn: conn, js: js, group: group, subscriptions: subscriptions,
		nackDelay: p.cfg.NackDelay, provisioner: p.provisioner, logger: p.cfg.Logger,
		closing: make(chan struct{}),
	}, nil
}

// Conn is the PubSub's connection, for the poison queue.
func (p *PubSub) Conn() *nats.Conn { return p.conn }

// Ready reports whether the server is connected and still has every
// stream and consumer this process provisioned.
func (p *PubSub) Ready(ctx context.Context) error {
	if !p.conn.IsConnected() {
		return fmt.Errorf("nats at %s: %s", p.cfg.URL, p.conn.Status())
	}
	return p.provisioner.check(ctx)
}

// Close stops reprovisioning and closes the publisher's connection;
// subscribers close their own.
func (p *PubSub) Close() error {
	p.stop()
	<-p.stopped
	err := p.conn.Drain()
	if errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}

// Ping tells whether a NATS server with JetStream answers at url, for
// start-up to wait for it.
func Ping(ctx context.Context, url string) error {
	if url == "" {
		url = DefaultURL
	}
	opts := []nats.Option{nats.NoReconnect()}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(deadline)))
	}
	conn, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connecting to nats at %s: %w", url, err)
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err == nil {
		_, err = js.AccountInfo(nats.Context(ctx))
	}
	if err != nil {
		return fmt.Errorf("nats jetstream at %s: %w", url, err)
	}
	return nil
}
