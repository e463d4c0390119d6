package service

import (
	"context"

	"allocation/adapters/memory"
	"allocation/adapters/postgres"
	"allocation/adapters/pubsub"
)

// openMemoryBroker opens Go channels in this process. With a PostgreSQL
// store, events go through the outbox table and the relay.
func openMemoryBroker(d brokerDeps) (brokerParts, error) {
	channel := pubsub.NewGoChannelPubSub(d.wmLogger)
	d.resources.add(channel.Close)
	ps := withTopicPrefix(channel, d.cfg.TopicPrefix)
	// Nobody else can read an in-memory poison topic: it is kept here,
	// subscribed until the service closes.
	lifetime, end := context.WithCancel(context.Background())
	d.resources.add(func() error { end(); return nil })
	sub, err := ps.Subscriber("allocation.poison-queue")
	if err != nil {
		return brokerParts{}, err
	}
	poison, err := memory.NewPoisonQueue(lifetime, sub, ps.Publisher(), memory.DefaultPoisonCapacity)
	if err != nil {
		return brokerParts{}, err
	}
	return d.relayedBroker(ps, poison, postgres.RelayDestination{Publisher: ps.Publisher()})
}
