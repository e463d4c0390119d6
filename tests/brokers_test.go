package tests

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/gin-gonic/gin"
	"github.com/lib/pq"

	"allocation/adapters/pubsub"
	"allocation/cmd/allocation/service"
	"allocation/config"
	"allocation/tests/testenv"
)

// outsideMessage is a message as another service sees it on the broker.
type outsideMessage struct {
	ID            string
	Payload       map[string]any
	CorrelationID string
}

// outsideClient is another service talking to ours through the broker.
type outsideClient interface {
	publish(t *testing.T, topic, payload, correlationID string)
	received(topic string) []outsideMessage
}

// runningService is the service under test, however it runs.
type runningService struct {
	URL    string
	client outsideClient
}

// brokerSetups starts the service for each broker of the end-to-end suite:
// the real binary for Redis and SQL (with the PostgreSQL store); for the
// in-memory broker, which nothing outside the process can reach, the same
// wiring in-process.
var brokerSetups = []struct {
	name  string
	start func(t *testing.T, env map[string]string) runningService
}{
	{"memory", startInProcess},
	{"redis", startBinaryOn("redis")},
	{"sql", startBinaryOn("sql")},
}

// startBinaryOn starts the binary with the PostgreSQL store and broker,
// and env over that.
func startBinaryOn(broker string) func(t *testing.T, env map[string]string) runningService {
	return func(t *testing.T, env map[string]string) runningService {
		env = merge(postgresEnv(t, broker, testenv.DatabaseURL(t)), env)
		return runningService{URL: startService(t, env).URL, client: outsideClientFor(t, env)}
	}
}

// outsideClientFor is another service on the broker of env (as from
// postgresEnv): Redis streams in its topic namespace, or the SQL tables.
func outsideClientFor(t *testing.T, env map[string]string) outsideClient {
	t.Helper()
	if env["BROKER"] == "redis" {
		return newRedisClient(t, env["REDIS_ADDR"], env["TOPIC_PREFIX"])
	}
	return newSQLClient(t, env["DATABASE_URL"])
}

func startInProcess(t *testing.T, env map[string]string) runningService {
	gin.SetMode(gin.TestMode)
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "ADMIN_TOKEN" {
			return testAdminToken
		}
		return ""
	}
	cfg, err := config.Load("e2e", nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	return runningService{URL: srv.URL, client: newWatermillClient(t, svc.PubSub.Publisher(), func(group string) (message.Subscriber, error) {
		return svc.PubSub.Subscriber(group)
	})}
}

func newSQLClient(t *testing.T, databaseURL string) outsideClient {
	ps, err := pubsub.NewSQLPubSub(testenv.Open(t, databaseURL), pubsub.SQLConfig{PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return newWatermillClient(t, ps.Publisher(), ps.Subscriber)
}

// watermillClient reads and writes through a Watermill pub/sub.
type watermillClient struct {
	t         *testing.T
	publisher message.Publisher
	subscribe func(group string) (message.Subscriber, error)
	mu        sync.Mutex
	topics    map[string][]outsideMessage
}

func newWatermillClient(t *testing.T, pub message.Publisher, subscribe func(string) (message.Subscriber, error)) *watermillClient {
	return &watermillClient{t: t, publisher: pub, subscribe: subscribe, topics: map[string][]outsideMessage{}}
}

func (c *watermillClient) publish(t *testing.T, topic, payload, correlationID string) {
	t.Helper()
	msg := message.NewMessage(watermill.NewUUID(), []byte(payload))
	if correlationID != "" {
		middleware.SetCorrelationID(correlationID, msg)
	}
	if err := c.publisher.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
}

// listen starts collecting a topic; call before the messages are sent.
func (c *watermillClient) listen(topic string) {
	sub, err := c.subscribe("e2e-observer")
	if err != nil {
		c.t.Fatal(err)
	}
	msgs := testenv.Subscribe(c.t, sub, topic)
	go func() {
		for m := range msgs {
			om := outsideMessage{ID: m.UUID, CorrelationID: middleware.MessageCorrelationID(m)}
			if json.Unmarshal(m.Payload, &om.Payload) != nil {
				om.Payload = map[string]any{"_unparsable": string(m.Payload)}
			}
			c.mu.Lock()
			c.topics[topic] = append(c.topics[topic], om)
			c.mu.Unlock()
			m.Ack()
		}
	}()
}

func (c *watermillClient) received(topic string) []outsideMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]outsideMessage(nil), c.topics[topic]...)
}

// waitForMessage waits until a message on topic satisfies match.
func waitForMessage(t *testing.T, c outsideClient, topic string, what string, match func(outsideMessage) bool) outsideMessage {
	t.Helper()
	var found outsideMessage
	testenv.Eventually(t, 60*time.Second, what, func() bool {
		for _, m := range c.received(topic) {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// brokerBacklog returns a function that describes what the broker of env
// still holds for the deployment's consumer groups ("" when nothing), and
// counts the groups it looked at: on Redis, entries of the namespace's
// streams not yet delivered to a group or delivered and not acked; on SQL,
// messages past a group's offset.
func brokerBacklog(t *testing.T, env map[string]string) func() (string, int) {
	t.Helper()
	if env["BROKER"] == "redis" {
		c := newRedisClient(t, env["REDIS_ADDR"], env["TOPIC_PREFIX"])
		return func() (string, int) { return c.backlog(t) }
	}
	db := testenv.Open(t, env["DATABASE_URL"])
	return func() (string, int) { return sqlBacklog(t, db) }
}

// sqlBacklog counts, for each consumer group of each topic (one offsets
// table "watermill_offsets_<topic>" per topic, a row per group), the
// messages after its acked position in the order watermill-sql reads them:
// (transaction_id, offset).
func sqlBacklog(t *testing.T, db *sql.DB) (string, int) {
	t.Helper()
	ctx := t.Context()
	topics := queryStrings(t, db, `SELECT substr(table_name, length('watermill_offsets_') + 1) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name LIKE 'watermill\_offsets\_%'`)
	var (
		backlog []string
		count   int
	)
	for _, topic := range topics {
		messages, offsets := pq.QuoteIdentifier("watermill_"+topic), pq.QuoteIdentifier("watermill_offsets_"+topic)
		rows, err := db.QueryContext(ctx, `SELECT o.consumer_group, count(m.*) FROM `+offsets+` o
			LEFT JOIN `+messages+` m ON m.transaction_id > o.last_processed_transaction_id
				OR (m.transaction_id = o.last_processed_transaction_id AND m."offset" > o.offset_acked)
			GROUP BY o.consumer_group`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				group string
				n     int
			)
			if err := rows.Scan(&group, &n); err != nil {
				t.Fatal(err)
			}
			if count++; n == 0 {
				continue
			}
			backlog = append(backlog, fmt.Sprintf("%s group %s: %d messages", topic, group, n))
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(backlog, "; "), count
}
