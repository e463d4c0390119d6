package tests

import (
	"maps"
	"testing"

	"allocation/tests/testenv"
)

// postgresEnv is the environment of service processes with the PostgreSQL
// store at databaseURL and broker ("memory", "redis", "sql" or "nats"); on
// Redis and NATS, in a topic namespace of their own. Processes started with one env are
// replicas of one deployment.
func postgresEnv(t *testing.T, broker, databaseURL string) map[string]string {
	t.Helper()
	env := map[string]string{
		"STORE": "postgres", "BROKER": broker, "DATABASE_URL": databaseURL,
		// Info, not debug: hundreds of requests' debug lines cost the
		// race-enabled binaries time the tests are not about.
		"LOG_LEVEL": "info",
	}
	switch broker {
	case "redis":
		env["REDIS_ADDR"], env["TOPIC_PREFIX"] = testenv.RedisNamespace(t)
	case "nats":
		env["NATS_URL"], env["TOPIC_PREFIX"] = testenv.NATSNamespace(t)
	}
	return env
}

// onEachPostgresBroker runs f as a subtest per broker that goes with the
// PostgreSQL store: Redis Streams, PostgreSQL itself (SQL) and NATS
// JetStream.
func onEachPostgresBroker(t *testing.T, f func(t *testing.T, broker string)) {
	for _, broker := range postgresBrokers {
		t.Run("postgres/"+broker, func(t *testing.T) { f(t, broker) })
	}
}

// postgresBrokers are the brokers that go with the PostgreSQL store.
var postgresBrokers = []string{"redis", "sql", "nats"}

// merge is a copy of a with b's entries over it.
func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}
