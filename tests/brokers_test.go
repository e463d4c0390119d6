package tests

import (
	"testing"
	"time"

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
// the real binary for Redis, SQL and NATS (with the PostgreSQL store); for the
// in-memory broker, which nothing outside the process can reach, the same
// wiring in-process.
var brokerSetups = []struct {
	name  string
	start func(t *testing.T, env map[string]string) runningService
}{
	{"memory", startInProcess},
	{"redis", startBinaryOn("redis")},
	{"sql", startBinaryOn("sql")},
	{"nats", startBinaryOn("nats")},
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
// postgresEnv): Redis streams or NATS subjects in its topic namespace, or
// the SQL tables.
func outsideClientFor(t *testing.T, env map[string]string) outsideClient {
	t.Helper()
	switch env["BROKER"] {
	case "redis":
		return newRedisClient(t, env["REDIS_ADDR"], env["TOPIC_PREFIX"])
	case "nats":
		return newNATSClient(t, env["NATS_URL"], env["TOPIC_PREFIX"])
	}
	return newSQLClient(t, env["DATABASE_URL"])
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

// backlogReader is an outside client on a broker whose consumer groups it
// can inspect (Redis, NATS).
type backlogReader interface {
	backlog(t *testing.T) (string, int)
}

// brokerBacklog returns a function that describes what the broker of env
// still holds for the deployment's consumer groups ("" when nothing), and
// counts the groups it looked at: on Redis, entries of the namespace's
// streams not yet delivered to a group or delivered and not acked; on
// NATS, the same of the durable consumers; on SQL, messages past a group's
// offset.
func brokerBacklog(t *testing.T, env map[string]string) func() (string, int) {
	t.Helper()
	if c, ok := outsideClientFor(t, env).(backlogReader); ok {
		return func() (string, int) { return c.backlog(t) }
	}
	db := testenv.Open(t, env["DATABASE_URL"])
	return func() (string, int) { return sqlBacklog(t, db) }
}
