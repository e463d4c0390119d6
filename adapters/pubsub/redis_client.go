package pubsub

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// entryTaggingClient is the Redis client of one subscriber. It adds the
// entry ID and stream of every entry read to the entry's field values
// (taggedEntryIDField, taggedStreamField), the only way they reach
// redisstream's Unmarshaller. The subscriber owns it: redisstream closes
// its client when the subscriber closes.
type entryTaggingClient struct {
	*redis.Client
}

func (c entryTaggingClient) XReadGroup(ctx context.Context, a *redis.XReadGroupArgs) *redis.XStreamSliceCmd {
	cmd := c.Client.XReadGroup(ctx, a)
	streams := cmd.Val()
	for i := range streams {
		tagEntries(streams[i].Stream, streams[i].Messages)
	}
	return cmd
}

func (c entryTaggingClient) XClaim(ctx context.Context, a *redis.XClaimArgs) *redis.XMessageSliceCmd {
	cmd := c.Client.XClaim(ctx, a)
	tagEntries(a.Stream, cmd.Val())
	return cmd
}

func tagEntries(stream string, entries []redis.XMessage) {
	for i := range entries {
		if entries[i].Values == nil {
			// A claimed entry that was trimmed meanwhile comes without
			// fields; it still becomes a (malformed) message.
			entries[i].Values = map[string]any{}
		}
		entries[i].Values[taggedEntryIDField] = entries[i].ID
		entries[i].Values[taggedStreamField] = stream
	}
}

// sharedClient lends the pub/sub's client to the publisher without letting
// the publisher's Close close it: it is closed once, by the pub/sub.
type sharedClient struct {
	*redis.Client
}

func (sharedClient) Close() error { return nil }
