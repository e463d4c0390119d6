package service

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// newWatermillLogger adapts slog for Watermill. Watermill logs every
// handler start at info, which is debug to us; and it builds its fields
// before the logger decides to drop them, so below debug the chatty
// levels are cut off here, before any work.
func newWatermillLogger(logger *slog.Logger) watermill.LoggerAdapter {
	adapter := watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	return quietWatermillLogger{LoggerAdapter: adapter, chatty: logger.Enabled(context.Background(), slog.LevelDebug)}
}

type quietWatermillLogger struct {
	watermill.LoggerAdapter
	chatty bool
}

// Error logs a cancelled context at debug: it is how stopping the service
// ends the libraries' loops (a Redis read, a SQL poll), not a failure, and
// a normal shutdown should not print errors.
func (l quietWatermillLogger) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		if l.chatty {
			l.LoggerAdapter.Debug(msg, fields.Add(watermill.LogFields{"err": err.Error()}))
		}
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l quietWatermillLogger) Info(msg string, fields watermill.LogFields) {
	if l.chatty {
		l.LoggerAdapter.Info(msg, fields)
	}
}

func (l quietWatermillLogger) Debug(msg string, fields watermill.LogFields) {
	if l.chatty {
		l.LoggerAdapter.Debug(msg, fields)
	}
}

func (l quietWatermillLogger) Trace(msg string, fields watermill.LogFields) {
	if l.chatty {
		l.LoggerAdapter.Trace(msg, fields)
	}
}

func (l quietWatermillLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietWatermillLogger{LoggerAdapter: l.LoggerAdapter.With(fields), chatty: l.chatty}
}
