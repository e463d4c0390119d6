// Package notify holds the notification adapters.
package notify

import (
	"context"
	"log/slog"

	"allocation/app"
)

// LogNotifier writes notifications to the log; the default when no SMTP
// server is configured.
type LogNotifier struct {
	logger *slog.Logger
}

func NewLogNotifier(logger *slog.Logger) LogNotifier { return LogNotifier{logger: logger} }

func (n LogNotifier) Notify(ctx context.Context, subject, body string) error {
	n.logger.InfoContext(ctx, "notification", "subject", subject, "body", body,
		"correlation_id", app.CorrelationIDFromContext(ctx))
	return nil
}
