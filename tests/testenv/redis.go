package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAddr is the test Redis (TEST_REDIS_ADDR), checked to answer.
func RedisAddr(t testing.TB) string {
	t.Helper()
	return answering(t, "Redis", BaseRedisAddr(), redisAnswers)
}

// redisAnswers tells whether the Redis at addr answers PING.
func redisAnswers(addr string) error {
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return client.Ping(ctx).Err()
}

// RedisNamespace is a topic prefix on the test Redis whose keys are
// deleted when the test ends, and that Redis's address.
func RedisNamespace(t testing.TB) (addr, prefix string) {
	t.Helper()
	addr, prefix = RedisAddr(t), TopicPrefix()
	t.Cleanup(func() {
		client := redis.NewClient(&redis.Options{Addr: addr})
		defer client.Close()
		deleteKeys(client, prefix)
	})
	return addr, prefix
}

// deleteKeys deletes every key under prefix.
func deleteKeys(client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
}
