// Package natsbroker is the NATS JetStream broker: a messagebus.PubSub
// (NewPubSub) and an app.PoisonQueue (NewPoisonQueue) on it.
//
// Each topic is a subject of the same name, stored in a stream of its own
// (StreamName); each consumer group reads it through a durable push
// consumer with a deliver group (ConsumerName), which any process
// provisions the same way, so several processes share a group's messages.
// The body of a message is its payload alone and its metadata are
// headers, so plain NATS clients take part; the UUID travels in Watermill's
// header and as Nats-Msg-Id, with which JetStream drops re-sends within
// its duplicate window.
package natsbroker
