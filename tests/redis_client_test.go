package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisClient speaks to the streams as a plain client would: XADD with a
// payload field, XRANGE reading plain fields.
type redisClient struct {
	rdb    *redis.Client
	prefix string
}

func newRedisClient(t *testing.T, addr, prefix string) *redisClient {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return &redisClient{rdb: rdb, prefix: prefix}
}

func (c *redisClient) publish(t *testing.T, topic, payload, correlationID string) {
	t.Helper()
	values := map[string]any{"payload": payload}
	if correlationID != "" {
		values["correlation_id"] = correlationID
	}
	if err := c.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: c.prefix + topic, Values: values}).Err(); err != nil {
		t.Fatal(err)
	}
}

func (c *redisClient) received(topic string) []outsideMessage {
	entries, err := c.rdb.XRange(context.Background(), c.prefix+topic, "-", "+").Result()
	if err != nil {
		return nil
	}
	var out []outsideMessage
	for _, e := range entries {
		m := outsideMessage{ID: fmt.Sprint(e.Values["uuid"]), CorrelationID: fmt.Sprint(e.Values["correlation_id"])}
		raw, _ := e.Values["payload"].(string)
		if json.Unmarshal([]byte(raw), &m.Payload) != nil {
			m.Payload = map[string]any{"_unparsable": raw}
		}
		out = append(out, m)
	}
	return out
}

// lineAllocatedPerOrder counts the line_allocated messages per order;
// distinct counts each message UUID once (what a consumer de-duplicating by
// UUID sees).
func lineAllocatedPerOrder(c outsideClient, distinct bool) map[string]int {
	seen := map[string]bool{}
	counts := map[string]int{}
	for _, m := range c.received(outboundTopic) {
		if distinct && seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		order, _ := m.Payload["orderid"].(string)
		counts[order]++
	}
	return counts
}

// backlog describes what the streams of the namespace still hold for their
// consumer groups ("" when nothing): entries not yet delivered to a group,
// or delivered and not acked; it counts the groups it looked at.
func (c *redisClient) backlog(t *testing.T) (string, int) {
	t.Helper()
	ctx := t.Context()
	var (
		backlog []string
		count   int
	)
	iter := c.rdb.ScanType(ctx, 0, c.prefix+"*", 100, "stream").Iterator()
	for iter.Next(ctx) {
		stream := iter.Val()
		info, err := c.rdb.XInfoStream(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		groups, err := c.rdb.XInfoGroups(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		count += len(groups)
		for _, g := range groups {
			if g.Pending > 0 || streamIDBefore(t, g.LastDeliveredID, info.LastGeneratedID) {
				backlog = append(backlog, fmt.Sprintf("%s group %s: %d pending, last delivered %s of %s",
					strings.TrimPrefix(stream, c.prefix), g.Name, g.Pending, g.LastDeliveredID, info.LastGeneratedID))
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(backlog, "; "), count
}

// streamIDBefore compares Redis stream entry IDs ("ms-seq").
func streamIDBefore(t *testing.T, a, b string) bool {
	t.Helper()
	parse := func(id string) [2]uint64 {
		ms, seq, _ := strings.Cut(id, "-")
		m, err1 := strconv.ParseUint(ms, 10, 64)
		s, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("stream entry id %q", id)
		}
		return [2]uint64{m, s}
	}
	x, y := parse(a), parse(b)
	return x[0] < y[0] || x[0] == y[0] && x[1] < y[1]
}
