package pubsub

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"
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

func TestHandlerPublisherIsThePubSubsUnlessTheSQLBrokerHasAHandlerPool(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	memoryBroker, err := OpenBroker(ctx, BrokerConfig{Kind: KindMemory}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer memoryBroker.Close()
	if memoryBroker.HandlerPublisher != memoryBroker.PubSub.Publisher() {
		t.Fatalf("memory broker: handler publisher %T is not the pub/sub's", memoryBroker.HandlerPublisher)
	}

	db := openTestDB(t)
	handlerDB, err := sql.Open("postgres", testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer handlerDB.Close()
	prefix := uniqueName("hp") + "."
	sqlBroker, err := OpenBroker(ctx, BrokerConfig{Kind: KindSQL, DB: db, HandlerDB: handlerDB, TopicPrefix: prefix, SQLPollInterval: 10 * time.Millisecond}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer sqlBroker.Close()
	sub, err := sqlBroker.PubSub.Subscriber(uniqueName("group"))
	if err != nil {
		t.Fatal(err)
	}
	received := subscribe(t, sub, "line_allocated")
	sent := message.NewMessage(watermill.NewUUID(), []byte(`{"orderid":"o1"}`))
	if err := sqlBroker.HandlerPublisher.Publish("line_allocated", sent); err != nil {
		t.Fatalf("publishing through the handler pool: %v", err)
	}
	if got := receive(t, received); got.UUID != sent.UUID {
		t.Fatalf("received %s, want %s (prefix %q)", got.UUID, sent.UUID, prefix)
	}
	got := 0
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+pq.QuoteIdentifier("watermill_"+prefix+"line_allocated")).Scan(&got); err != nil || got != 1 {
		t.Fatalf("rows in the prefixed topic table: %d, %v", got, err)
	}

	// It inserts through HandlerDB, not DB.
	if err := handlerDB.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sqlBroker.HandlerPublisher.Publish("line_allocated", message.NewMessage(watermill.NewUUID(), []byte(`{}`))); err == nil {
		t.Fatal("published with the handler pool closed")
	}
	if err := sqlBroker.PubSub.Publisher().Publish("line_allocated", message.NewMessage(watermill.NewUUID(), []byte(`{}`))); err != nil {
		t.Fatalf("the pub/sub's own publisher: %v", err)
	}
}
