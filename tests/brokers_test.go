package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"allocation/adapters/postgres"
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
	{"redis", startWithRedis},
	{"sql", startWithSQL},
}

func startWithRedis(t *testing.T, env map[string]string) runningService {
	addr := testenv.RedisAddr(t)
	prefix := testenv.TopicPrefix()
	p := startService(t, binary.get(t), merge(env, map[string]string{
		"STORE": "postgres", "BROKER": "redis", "REDIS_ADDR": addr,
		"DATABASE_URL": testenv.DatabaseURL(t), "TOPIC_PREFIX": prefix,
	}))
	return runningService{URL: p.URL, client: newRedisClient(t, addr, prefix)}
}

func startWithSQL(t *testing.T, env map[string]string) runningService {
	url := testenv.DatabaseURL(t)
	p := startService(t, binary.get(t), merge(env, map[string]string{
		"STORE": "postgres", "BROKER": "sql", "DATABASE_URL": url,
	}))
	return runningService{URL: p.URL, client: newSQLClient(t, url)}
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
	srv := newHTTPServer(t, svc.Handler)
	return runningService{URL: srv, client: newWatermillClient(t, svc.PubSub.Publisher(), func(group string) (message.Subscriber, error) {
		return svc.PubSub.Subscriber(group)
	})}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

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

func newSQLClient(t *testing.T, databaseURL string) outsideClient {
	db, err := postgres.Open(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ps, err := pubsub.NewSQLPubSub(db, pubsub.SQLConfig{}, watermill.NopLogger{})
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
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		c.t.Fatal(err)
	}
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
	waitUntil(t, 60*time.Second, what, func() bool {
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
