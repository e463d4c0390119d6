package redispubsub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/pubsub"
	"allocation/adapters/redispubsub"
	"allocation/contracts"
	"allocation/tests/testenv"
)

const topic = contracts.ChangeBatchQuantityTopic

// bridgeConfig bridges topic under prefix, with a lease short enough for
// tests to see it change hands.
func bridgeConfig(client *redis.Client, prefix, holder string) redispubsub.InboundBridgeConfig {
	return redispubsub.InboundBridgeConfig{
		Client:        client,
		Topics:        []string{topic},
		TopicPrefix:   prefix,
		Holder:        holder,
		LeaseTTL:      time.Second,
		RenewInterval: 50 * time.Millisecond,
	}
}

// A message PUBLISHed on the channel lands in the stream of the same name
// as a plain entry, and reads back through the service's stream subscriber
// like an entry added with XADD: payload untouched, nothing malformed.
func TestBridgeAppendsChannelMessagesToTheStreamOfTheSameName(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	bridge := startBridge(t, bridgeConfig(d.client, d.prefix, "only"))
	eventually(t, "the bridge subscribed", func() bool { return subscribers(t, d.client, d.channel) == 1 })

	payloads := []string{`{"batchref":"b1","qty":5}`, `{"batchref": 42, "qty": "five"}`, `not json at all`}
	for _, p := range payloads {
		if n := publish(t, d.client, d.channel, p); n != 1 {
			t.Fatalf("PUBLISH reached %d subscribers, want the bridge", n)
		}
	}
	eventually(t, "every message in the stream", func() bool { return len(streamEntries(t, d.client, d.channel)) == len(payloads) })
	for i, e := range streamEntries(t, d.client, d.channel) {
		if e.Values[pubsub.RedisPayloadField] != payloads[i] {
			t.Errorf("entry %d payload = %v, want %q", i, e.Values[pubsub.RedisPayloadField], payloads[i])
		}
		if id, _ := e.Values[pubsub.RedisCorrelationIDField].(string); id == "" {
			t.Errorf("entry %d has no correlation id: %v", i, e.Values)
		}
		if _, ok := e.Values[pubsub.RedisUUIDField]; ok || len(e.Values) != 2 {
			t.Errorf("entry %d = %v, want a payload and a correlation id only", i, e.Values)
		}
	}
	if _, _, appended, failures := bridge.state(); appended != len(payloads) || len(failures) != 0 {
		t.Errorf("counted %d appended and failures %v, want %d and none", appended, failures, len(payloads))
	}

	streams, err := pubsub.NewRedisStreamsPubSub(pubsub.RedisStreamsConfig{Redis: redis.Options{Addr: testenv.RedisAddr(t)}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = streams.Close() })
	sub, err := streams.Subscriber(d.prefix + "readers")
	if err != nil {
		t.Fatal(err)
	}
	messages := testenv.Subscribe(t, sub, d.channel)
	for i, p := range payloads {
		msg := testenv.Receive(t, messages, waitTimeout)
		msg.Ack()
		if string(msg.Payload) != p || msg.Metadata.Get(contracts.MalformedReasonKey) != "" {
			t.Errorf("message %d = %q %v, want payload %q and nothing malformed", i, msg.Payload, msg.Metadata, p)
		}
	}
}

// Of three bridges of one deployment, one subscribes; each message is
// received by it alone (PUBLISH says so) and appended once.
func TestOneBridgeOfManySubscribesAndAppendsEachMessageOnce(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	var bridges []*runningBridge
	for i := range 3 {
		bridges = append(bridges, startBridge(t, bridgeConfig(d.client, d.prefix, fmt.Sprint("process-", i))))
	}
	eventually(t, "every bridge tried the lease, one holds it", func() bool {
		holders := 0
		for _, b := range bridges {
			if !b.hasStepped(2) {
				return false
			}
			if b.isHolding() {
				holders++
			}
		}
		return holders == 1
	})
	if n := subscribers(t, d.client, d.channel); n != 1 {
		t.Fatalf("%d subscribers of %s, want the holder alone", n, d.channel)
	}

	const messages = 20
	for i := range messages {
		if n := publish(t, d.client, d.channel, fmt.Sprintf(`{"batchref":"b%d","qty":1}`, i)); n != 1 {
			t.Fatalf("message %d reached %d subscribers, want 1", i, n)
		}
	}
	eventually(t, "every message appended", func() bool { return len(streamEntries(t, d.client, d.channel)) >= messages })
	entries := streamEntries(t, d.client, d.channel)
	if len(entries) != messages {
		t.Fatalf("%d entries, want %d", len(entries), messages)
	}
	for i, e := range entries {
		if want := fmt.Sprintf(`{"batchref":"b%d","qty":1}`, i); e.Values[pubsub.RedisPayloadField] != want {
			t.Errorf("entry %d = %v, want %s (in order)", i, e.Values, want)
		}
	}
	total := 0
	for _, b := range bridges {
		_, holding, appended, _ := b.state()
		if !holding && appended != 0 {
			t.Errorf("standby %s appended %d", b.holder, appended)
		}
		total += appended
	}
	if total != messages {
		t.Errorf("bridges appended %d in all, want %d", total, messages)
	}
}

// A holder that stops releases the lease: a standby takes over within its
// renew interval, long before the lease would have expired.
func TestStandbyTakesOverAtOnceWhenTheHolderStops(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	cfg := bridgeConfig(d.client, d.prefix, "first")
	cfg.LeaseTTL = 5 * time.Second
	first := startBridge(t, cfg)
	eventually(t, "the first bridge holds", first.isHolding)
	cfg.Holder = "second"
	second := startBridge(t, cfg)
	eventually(t, "the second bridge on standby", func() bool { return second.hasStepped(2) && !second.isHolding() })

	stopped := time.Now()
	first.stop(t)
	if got := d.client.Get(context.Background(), d.lease).Val(); got == "first" {
		t.Fatal("the stopped bridge still holds the lease")
	}
	eventually(t, "the second bridge holds", second.isHolding)
	if took := time.Since(stopped); took >= cfg.LeaseTTL {
		t.Fatalf("took over after %s: the lease was not released (ttl %s)", took, cfg.LeaseTTL)
	}
	eventually(t, "the stopped bridge unsubscribed", func() bool { return subscribers(t, d.client, d.channel) == 1 })
	if n := publish(t, d.client, d.channel, `{"batchref":"after","qty":1}`); n != 1 {
		t.Fatalf("PUBLISH reached %d subscribers, want the new holder", n)
	}
	eventually(t, "the new holder appended", func() bool { return len(streamEntries(t, d.client, d.channel)) == 1 })
}

// A holder cut off from Redis (as good as dead: it can neither renew nor
// release) unsubscribes by itself once its lease must have expired, and a
// standby takes over within the lease time. Back on the network, the old
// holder stays on standby.
func TestStandbyTakesOverWithinTheLeaseTimeWhenTheHolderDies(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	network := testenv.StartProxy(t, testenv.RedisAddr(t))
	cutOff := redispubsub.NewClient(redis.Options{Addr: network.Addr()})
	t.Cleanup(func() { _ = cutOff.Close() })

	dying := startBridge(t, bridgeConfig(cutOff, d.prefix, "dying"))
	eventually(t, "the dying bridge holds", dying.isHolding)
	cfg := bridgeConfig(d.client, d.prefix, "survivor")
	survivor := startBridge(t, cfg)
	eventually(t, "the survivor on standby", func() bool { return survivor.hasStepped(2) && !survivor.isHolding() })

	network.Stop()
	severed := time.Now()
	left := d.client.PTTL(context.Background(), d.lease).Val()
	eventually(t, "the survivor holds", survivor.isHolding)
	took := time.Since(severed)
	t.Logf("lease had %s left when the holder died; taken over after %s", left, took)
	if limit := left + cfg.RenewInterval + time.Second; took > limit {
		t.Errorf("took over after %s, want within the %s left on the lease plus a renew interval", took, left)
	}
	eventually(t, "the dead holder unsubscribed by itself", func() bool { return !dying.isHolding() })
	eventually(t, "the survivor alone subscribed", func() bool { return subscribers(t, d.client, d.channel) == 1 })
	if n := publish(t, d.client, d.channel, `{"batchref":"after","qty":1}`); n != 1 {
		t.Fatalf("PUBLISH reached %d subscribers, want the survivor alone", n)
	}
	eventually(t, "the survivor appended", func() bool { return len(streamEntries(t, d.client, d.channel)) == 1 })

	network.Start()
	steps, _, _, _ := dying.state()
	eventually(t, "the old holder tried the lease again", func() bool { return dying.hasStepped(steps + 2) })
	if dying.isHolding() || !survivor.isHolding() || subscribers(t, d.client, d.channel) != 1 {
		t.Fatal("the old holder took the lease back")
	}
}

// A bridge whose lease passed to another without its noticing yet (here:
// renewing once an hour) cannot append: the append checks the lease in the
// same step. The refusal is counted.
func TestAppendIsFencedByTheLease(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	cfg := bridgeConfig(d.client, d.prefix, "unaware")
	cfg.LeaseTTL, cfg.RenewInterval = 2*time.Hour, time.Hour
	unaware := startBridge(t, cfg)
	eventually(t, "the bridge holds", unaware.isHolding)
	if err := d.client.Set(context.Background(), d.lease, "successor", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	if n := publish(t, d.client, d.channel, `{"batchref":"b1","qty":5}`); n != 1 {
		t.Fatalf("PUBLISH reached %d subscribers, want the bridge", n)
	}
	eventually(t, "the refusal counted", func() bool {
		_, _, _, failures := unaware.state()
		return failures[redispubsub.FailureNotHolder] == 1
	})
	if entries := streamEntries(t, d.client, d.channel); len(entries) != 0 {
		t.Fatalf("appended %v without the lease", entries)
	}
}

// Stopping the only bridge unsubscribes it and frees the lease.
func TestStoppedBridgeLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	bridge := startBridge(t, bridgeConfig(d.client, d.prefix, "only"))
	eventually(t, "the bridge holds", bridge.isHolding)
	bridge.stop(t)
	if bridge.isHolding() {
		t.Error("a stopped bridge says it holds")
	}
	eventually(t, "no subscriber after stop", func() bool { return subscribers(t, d.client, d.channel) == 0 })
	if n := d.client.Exists(context.Background(), d.lease).Val(); n != 0 {
		t.Error("the lease is still held after stop")
	}
}
