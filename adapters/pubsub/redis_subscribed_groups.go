package pubsub

import (
	"maps"
	"slices"
	"sync"
)

// redisSubscribedGroups counts the running subscriptions of a pub/sub by
// stream and consumer group: what readiness checks exist in Redis and
// what the trimmer looks after.
type redisSubscribedGroups struct {
	mu     sync.Mutex
	groups map[string]map[string]int
}

func newRedisSubscribedGroups() *redisSubscribedGroups {
	return &redisSubscribedGroups{groups: map[string]map[string]int{}}
}

func (g *redisSubscribedGroups) add(stream, group string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups[stream] == nil {
		g.groups[stream] = map[string]int{}
	}
	g.groups[stream][group]++
}

func (g *redisSubscribedGroups) remove(stream, group string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups[stream][group]--; g.groups[stream][group] <= 0 {
		delete(g.groups[stream], group)
	}
	if len(g.groups[stream]) == 0 {
		delete(g.groups, stream)
	}
}

// snapshot is every stream with its groups, streams sorted.
func (g *redisSubscribedGroups) snapshot() []streamGroups {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]streamGroups, 0, len(g.groups))
	for _, stream := range slices.Sorted(maps.Keys(g.groups)) {
		out = append(out, streamGroups{stream: stream, groups: slices.Sorted(maps.Keys(g.groups[stream]))})
	}
	return out
}

type streamGroups struct {
	stream string
	groups []string
}
