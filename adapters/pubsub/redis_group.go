package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisGroupStartID is where a consumer group starts reading when it is
// created, at the first subscription or again after Redis lost it: the
// beginning of the stream. After a restart that kept nothing, nothing old is
// there to read again; but the stream may hold entries added before the
// group was recreated (the outbox relay re-adding what it could not add
// during the outage, another service's XADD to an inbound topic), and "$"
// would skip them for good. Re-reading entries a lost group had already
// handled only costs duplicates, which handlers drop.
const redisGroupStartID = "0"

// createRedisGroup creates the stream (MKSTREAM) and the consumer group,
// unless the group exists already.
func createRedisGroup(ctx context.Context, client redis.Cmdable, stream, group string) error {
	err := client.XGroupCreateMkStream(ctx, stream, group, redisGroupStartID).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("creating consumer group %s of stream %s: %w", group, stream, err)
	}
	return nil
}

// redisGroupMissing tells whether Redis answered that the stream or its
// consumer group does not exist: NOGROUP to a read, acknowledgement or
// claim, or the error a blocked read gets when its stream is deleted.
func redisGroupMissing(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	msg := reply.Error()
	return strings.HasPrefix(msg, "NOGROUP") || strings.Contains(msg, "no longer exists")
}
