package pubsub

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"allocation/adapters/internal/groupcommit"
)

// groupCommittingClient is the publisher's client: XADDs made at the same
// time by different goroutines (the 4 handlers of a consumer group
// publishing line_allocated, commands being sent) share one pipeline, one
// round trip (groupcommit). Each XADD returns when its pipeline is done,
// with its own result, so Publish means what it meant: the entry is in the
// stream. Its Close does not close the pub/sub's client, which the pub/sub
// closes once.
type groupCommittingClient struct {
	*redis.Client
	adds *groupcommit.Writer[*pendingXAdd]
}

type pendingXAdd struct {
	args *redis.XAddArgs
	id   string
	err  error
}

// xaddTimeout bounds one pipeline of XADDs.
const xaddTimeout = 10 * time.Second

func newGroupCommittingClient(client *redis.Client) groupCommittingClient {
	c := groupCommittingClient{Client: client}
	c.adds = groupcommit.New(xaddTimeout, c.addAll)
	return c
}

func (c groupCommittingClient) XAdd(ctx context.Context, a *redis.XAddArgs) *redis.StringCmd {
	add := &pendingXAdd{args: a}
	if err := c.adds.Do(ctx, add); err != nil {
		return redis.NewStringResult("", err)
	}
	return redis.NewStringResult(add.id, add.err)
}

func (c groupCommittingClient) addAll(ctx context.Context, adds []*pendingXAdd) error {
	pipe := c.Client.Pipeline()
	cmds := make([]*redis.StringCmd, len(adds))
	for i, add := range adds {
		cmds[i] = pipe.XAdd(ctx, add.args)
	}
	// Each XADD gets its own result; none fails because another did (the
	// batch is never retried as a whole, which would add the others twice).
	_, _ = pipe.Exec(ctx)
	for i, add := range adds {
		add.id, add.err = cmds[i].Result()
	}
	return nil
}

func (groupCommittingClient) Close() error { return nil }
