package messagebus

import (
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/app"
)

// LogMessages logs every handling attempt with the handler, the message
// UUID and its correlation id: failures at warn (the retry and poison
// middleware decide what happens next), successes at debug.
func LogMessages(logger *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			started := time.Now()
			produced, err := h(msg)
			ctx := msg.Context()
			if err == nil && !logger.Enabled(ctx, slog.LevelDebug) {
				// The common case costs nothing more than the clock read.
				return produced, nil
			}
			attrs := []any{
				"handler", message.HandlerNameFromCtx(msg.Context()),
				"topic", message.SubscribeTopicFromCtx(msg.Context()),
				"message_uuid", msg.UUID,
				"correlation_id", middleware.MessageCorrelationID(msg),
				"duration", time.Since(started),
			}
			if err != nil {
				logger.WarnContext(ctx, "message handling failed", append(attrs, "error", err, "permanent", app.IsPermanent(err))...)
			} else {
				logger.DebugContext(ctx, "message handled", attrs...)
			}
			return produced, err
		}
	}
}
