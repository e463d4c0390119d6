package pubsub

import (
	"context"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

func TestOpenBrokerRefusesUnknownKinds(t *testing.T) {
	_, err := OpenBroker(context.Background(), BrokerConfig{Kind: "kafka"}, watermill.NopLogger{})
	if err == nil || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("err = %v", err)
	}
	_, err = OpenBroker(context.Background(), BrokerConfig{Kind: KindSQL}, watermill.NopLogger{})
	if err == nil {
		t.Fatal("the SQL broker opened without a database")
	}
}

func TestOpenBrokerGivesEachKindItsPoisonQueueAndCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	memoryBroker, err := OpenBroker(ctx, BrokerConfig{Kind: KindMemory, TopicPrefix: "p."}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer memoryBroker.Close()
	if memoryBroker.Poison == nil || memoryBroker.Ping != nil {
		t.Fatalf("memory broker: poison %v, ping %v", memoryBroker.Poison, memoryBroker.Ping != nil)
	}
	if _, ok := memoryBroker.PubSub.(*NamespacedPubSub); !ok {
		t.Fatalf("prefix not applied: %T", memoryBroker.PubSub)
	}

	requireIntegration(t)
	redisBroker, err := OpenBroker(ctx, BrokerConfig{Kind: KindRedis, RedisAddr: testRedisAddr()}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer redisBroker.Close()
	if redisBroker.Poison == nil || redisBroker.Ping == nil || redisBroker.PingName != "redis" {
		t.Fatal("redis broker lacks its poison queue or check")
	}
	if err := redisBroker.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}
