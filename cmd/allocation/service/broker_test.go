package service

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"

	"allocation/adapters/metrics"
	"allocation/adapters/pubsub"
	"allocation/config"
	"allocation/tests/testenv"
)

// openBrokerForTest opens the broker of the configuration env describes.
func openBrokerForTest(t *testing.T, env map[string]string) (brokerParts, error) {
	t.Helper()
	cfg, err := config.Load("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res := &resources{}
	t.Cleanup(func() {
		if err := res.close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var db *sql.DB
	if cfg.DatabaseURL != "" {
		if db, err = openDatabase(t.Context(), cfg, res); err != nil {
			t.Fatal(err)
		}
	}
	return openBroker(t.Context(), brokerDeps{cfg: cfg, db: db, metrics: metrics.New(), logger: logger, wmLogger: watermill.NopLogger{}, resources: res})
}

func TestOpenBrokerRefusesUnknownKindsAndTheSQLBrokerWithoutADatabase(t *testing.T) {
	if _, err := openBroker(t.Context(), brokerDeps{cfg: config.Config{Broker: "kafka"}}); err == nil || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("err = %v", err)
	}
	if _, err := openBroker(t.Context(), brokerDeps{cfg: config.Config{Broker: config.BrokerSQL}}); err == nil {
		t.Fatal("the SQL broker opened without a database")
	}
}

// Each broker brings its poison queue, its readiness check and the relay
// of the outbox, except the SQL broker whose outbox is its topic tables.
func TestEachBrokerBringsWhatTheServiceNeeds(t *testing.T) {
	tests := []struct {
		broker    string
		readiness string
		relay     bool
	}{
		{broker: config.BrokerMemory, relay: true},
		{broker: config.BrokerRedis, readiness: "redis", relay: true},
		{broker: config.BrokerSQL},
	}
	for _, tt := range tests {
		t.Run(tt.broker, func(t *testing.T) {
			env := map[string]string{"BROKER": tt.broker, "TOPIC_PREFIX": testenv.TopicPrefix()}
			switch tt.broker {
			case config.BrokerRedis:
				env["REDIS_ADDR"] = testenv.RedisAddr(t)
			case config.BrokerSQL:
				env["DATABASE_URL"] = testenv.DatabaseURL(t)
			}
			b, err := openBrokerForTest(t, env)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range b.readiness {
				names = append(names, r.Name)
				if err := r.Check(t.Context()); err != nil {
					t.Errorf("readiness %s: %v", r.Name, err)
				}
			}
			if b.poison == nil || strings.Join(names, ",") != tt.readiness || (b.relay != nil) != tt.relay || b.outbox == nil {
				t.Fatalf("poison %v, readiness %v, relay %v, outbox %v", b.poison != nil, names, b.relay != nil, b.outbox != nil)
			}
			if _, ok := b.pubSub.(*pubsub.NamespacedPubSub); !ok {
				t.Fatalf("topic prefix not applied: %T", b.pubSub)
			}
		})
	}
}

// On the SQL broker, what event handlers publish is inserted through the
// handlers' own pool, into the prefixed topic table.
func TestSQLBrokerHandlerPublisherInsertsThroughTheHandlersPool(t *testing.T) {
	prefix := testenv.TopicPrefix()
	b, err := openBrokerForTest(t, map[string]string{"BROKER": config.BrokerSQL, "DATABASE_URL": testenv.DatabaseURL(t), "TOPIC_PREFIX": prefix})
	if err != nil {
		t.Fatal(err)
	}
	publish := func() error {
		return b.handlerPublisher.Publish("line_allocated", message.NewMessage(watermill.NewUUID(), []byte(`{"orderid":"o1"}`)))
	}
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	var rows int
	err = b.handlerDB.QueryRowContext(context.Background(), `SELECT count(*) FROM `+pq.QuoteIdentifier("watermill_"+prefix+"line_allocated")).Scan(&rows)
	if err != nil || rows != 1 {
		t.Fatalf("rows in the prefixed topic table: %d, %v", rows, err)
	}
	if err := b.handlerDB.Close(); err != nil {
		t.Fatal(err)
	}
	if err := publish(); err == nil {
		t.Fatal("published with the handlers' pool closed")
	}
}
