package pubsub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Ready checks what the service needs of Redis, not only that it answers:
// the consumer group of every running subscription exists. After Redis
// restarts empty it answers before the subscriptions have recreated their
// groups (within about two seconds), and until then nothing is consumed.
func (p *RedisStreamsPubSub) Ready(ctx context.Context) error {
	if err := p.client.Ping(ctx).Err(); err != nil {
		return err
	}
	subscribed := p.groups.snapshot()
	if len(subscribed) == 0 {
		return nil
	}
	pipe := p.client.Pipeline()
	cmds := make([]*redis.XInfoGroupsCmd, len(subscribed))
	for i, sg := range subscribed {
		cmds[i] = pipe.XInfoGroups(ctx, sg.stream)
	}
	_, _ = pipe.Exec(ctx) // each command's result is read below
	var missing []string
	for i, sg := range subscribed {
		groups, err := cmds[i].Result()
		var reply redis.Error
		if err != nil && !errors.As(err, &reply) {
			return err
		}
		// A missing stream (ERR no such key) misses all its groups.
		for _, want := range sg.groups {
			if !slices.ContainsFunc(groups, func(g redis.XInfoGroup) bool { return g.Name == want }) {
				missing = append(missing, sg.stream+"/"+want)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("consumer groups missing (being recreated): %s", strings.Join(missing, ", "))
	}
	return nil
}
