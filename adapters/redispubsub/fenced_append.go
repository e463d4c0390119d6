package redispubsub

import (
	"context"

	"github.com/redis/go-redis/v9"

	"allocation/adapters/pubsub"
)

// notHolderReply starts the error fencedAppendScript answers with when the
// lease is not the caller's.
const notHolderReply = "NOTHOLDER"

// fencedAppendScript adds an entry to a stream only while the lease is the
// caller's, in one step: a bridge whose lease passed to another process
// while it was still subscribed cannot append what the new holder appends
// too.
//
//	KEYS[1] the lease, KEYS[2] the stream
//	ARGV[1] the holder, ARGV[2..] the entry's fields and values
var fencedAppendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('` + notHolderReply + ` lease held by another bridge or by none')
end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
`)

// appendFenced adds payload to stream as an entry in the plain format of
// pubsub.RedisEntryMarshaller (a payload field, as
// "XADD stream * payload ..." would), with a correlation id, while lease
// is held. It returns the entry's ID.
func appendFenced(ctx context.Context, lease *Lease, stream, payload, correlationID string) (string, error) {
	id, err := fencedAppendScript.Run(ctx, lease.client, []string{lease.key, stream},
		lease.holder,
		pubsub.RedisPayloadField, payload,
		pubsub.RedisCorrelationIDField, correlationID,
	).Text()
	if redis.HasErrorPrefix(err, notHolderReply) {
		return "", NotLeaseHolderError{Holder: lease.holder}
	}
	return id, err
}
