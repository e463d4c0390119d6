package natsbroker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// subscriber reads the durable consumer of its group on each topic, with
// as many queue subscriptions as it may hand over messages at once. It
// owns its connection.
//
// Not watermill-nats' subscriber: that one closes a subscription's output
// channel while a delivery may still be sending to it (a data race, and a
// panic when the send wins).
type subscriber struct {
	conn          *nats.Conn
	js            nats.JetStreamContext
	group         string
	subscriptions int
	nackDelay     time.Duration
	provisioner   *provisioner
	logger        watermill.LoggerAdapter

	closeOnce sync.Once
	closing   chan struct{}
	running   sync.WaitGroup
}

var errSubscriberClosed = errors.New("nats subscriber closed")

func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, errSubscriberClosed
	default:
	}
	if err := s.provisioner.ensureConsumer(topic, s.group); err != nil {
		return nil, err
	}
	stream, consumer := StreamName(topic), ConsumerName(s.group)
	d := &deliveries{ctx: ctx, closing: s.closing, out: make(chan *message.Message), nackDelay: s.nackDelay, logger: s.logger}
	subs := make([]*nats.Subscription, 0, s.subscriptions)
	for range s.subscriptions {
		sub, err := s.js.QueueSubscribe(topic, consumer, d.deliver, nats.Bind(stream, consumer), nats.ManualAck())
		if err != nil {
			for _, sub := range subs {
				_ = sub.Unsubscribe()
			}
			return nil, err
		}
		subs = append(subs, sub)
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
		d.close()
	}()
	return d.out, nil
}

// SubscribeInitialize provisions the stream of topic and the group's
// consumer on it (Watermill's message.SubscribeInitializer).
func (s *subscriber) SubscribeInitialize(topic string) error {
	return s.provisioner.ensureConsumer(topic, s.group)
}

// Close ends every subscription; messages handed over and not acknowledged
// are delivered again after the ack wait.
func (s *subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.running.Wait()
	s.conn.Close()
	return nil
}

// deliveries hands one subscription's messages over on out and settles
// them as the handler does.
type deliveries struct {
	ctx       context.Context
	closing   <-chan struct{}
	out       chan *message.Message
	nackDelay time.Duration
	logger    watermill.LoggerAdapter

	// mu is held for reading by every delivery in progress, and for
	// writing to close out: nats.go may still run a callback after
	// Unsubscribe returns.
	mu     sync.RWMutex
	closed bool
}

func (d *deliveries) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	close(d.out)
}

// deliver is the subscription's callback; a message it does not settle
// is delivered again after the ack wait. The acknowledgement is not waited
// for: waiting would hold the subscription's next message for a round trip
// to the server at every hop, and a lost one only means a redelivery,
// which handlers drop as a duplicate.
func (d *deliveries) deliver(m *nats.Msg) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	msg, _ := marshaler{}.Unmarshal(m)
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	msg.SetContext(ctx)
	select {
	case d.out <- msg:
	case <-ctx.Done():
		return
	case <-d.closing:
		return
	}
	var err error
	select {
	case <-msg.Acked():
		err = m.Ack()
	case <-msg.Nacked():
		err = m.NakWithDelay(d.nackDelay)
	case <-ctx.Done():
	case <-d.closing:
	}
	if err != nil {
		d.logger.Error("Settling a NATS message (it will be delivered again)", err, watermill.LogFields{"message_uuid": msg.UUID, "subject": m.Subject})
	}
}
