// Package redispubsub lets clients of Redis Pub/Sub, such as the book's,
// talk to a service whose own traffic runs on Redis Streams.
//
// Inbound, InboundBridge takes each message PUBLISHed on a channel into the
// stream of the same name, from where it is handled like any entry: one
// bridge per deployment subscribes at a time, chosen by a Lease, and its
// appends are fenced by that lease, so N processes append a message once.
// Outbound, ChannelPublisher PUBLISHes a message's bare payload on a
// channel once per message UUID, and MirroringPublisher does so for the
// topics it mirrors once their stream has the message.
//
// Pub/Sub keeps nothing: a message published while no bridge is subscribed
// (none running, or a holder that died and whose lease has not yet expired)
// is lost, and a client that is not subscribed when a message is published
// never sees it. That is why the service itself uses streams.
package redispubsub
