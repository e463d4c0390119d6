package service

import (
	"fmt"

	"allocation/adapters/natsbroker"
	"allocation/adapters/postgres"
	"allocation/ports/httpapi"
)

// openNATSBroker opens NATS JetStream. With a PostgreSQL store, the relay
// publishes the outbox asynchronously and waits for JetStream's
// acknowledgements once per batch; the message UUID is the Nats-Msg-Id,
// so JetStream drops a relay's re-sends within its duplicate window.
func openNATSBroker(d brokerDeps) (brokerParts, error) {
	cfg := d.cfg
	jetStream, err := natsbroker.NewPubSub(natsbroker.Config{URL: cfg.NATSURL, Replicas: cfg.NATSReplicas, Logger: d.wmLogger})
	if err != nil {
		return brokerParts{}, fmt.Errorf("connecting to NATS: %w", err)
	}
	d.resources.add(jetStream.Close)
	ps := withTopicPrefix(jetStream, cfg.TopicPrefix)
	pipeline, err := jetStream.PipelinedPublisher(cfg.TopicPrefix)
	if err != nil {
		return brokerParts{}, err
	}
	poison, err := natsbroker.NewPoisonQueue(jetStream.Conn(), ps.Publisher(), cfg.TopicPrefix)
	if err != nil {
		return brokerParts{}, err
	}
	b, err := d.relayedBroker(ps, poison, postgres.RelayDestination{Publisher: pipeline, Flush: pipeline.Flush})
	if err != nil {
		return brokerParts{}, err
	}
	b.readiness = []httpapi.ReadinessCheck{{Name: "nats", Check: jetStream.Ready}}
	return b, nil
}
