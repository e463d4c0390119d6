package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// RouteRedisLibraryLog sends go-redis's own log lines to logger at debug
// level. go-redis prints one line per failed dial to stderr, several a
// second per subscription while Redis is away; the Redis adapters report
// an outage once per change of state instead. go-redis has one logger per
// process, so the binary's main sets it, once.
func RouteRedisLibraryLog(logger *slog.Logger) {
	redis.SetLogger(redisLibraryLog{logger: logger})
}

type redisLibraryLog struct{ logger *slog.Logger }

func (l redisLibraryLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, fmt.Sprintf(format, v...), "library", "go-redis")
}
