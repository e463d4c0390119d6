package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server of the test's own (see Server).
type RedisServer struct{ *Server }

// StartRedisServer starts redis-server with args (persistence options) on
// a free port, and kills it when the test ends.
func StartRedisServer(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	return &RedisServer{StartServer(t, "redis-server",
		func(port string) []string { return append([]string{"--port", port, "--bind", "127.0.0.1"}, args...) },
		func(addr string) bool {
			client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return client.Ping(ctx).Err() == nil
		})}
}

// Client is a client of this server that does not retry, so that a test
// sees each failure; the caller closes it.
func (s *RedisServer) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
}
