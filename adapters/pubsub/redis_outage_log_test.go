package pubsub

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// linesLogger counts what is logged at error and info level.
type linesLogger struct {
	watermill.NopLogger
	mu           sync.Mutex
	errors, info []string
}

func (l *linesLogger) Error(msg string, _ error, _ watermill.LogFields) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, msg)
}

func (l *linesLogger) Info(msg string, _ watermill.LogFields) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.info = append(l.info, msg)
}

// Ten failures a second for a minute log an outage once and remind of it
// once; the recovery is logged once.
func TestRedisOutageLogSaysSoOncePerChangeAndRarelyMeanwhile(t *testing.T) {
	logger := &linesLogger{}
	log := newRedisOutageLog(logger)
	clock := time.Unix(1_000_000, 0)
	log.now = func() time.Time { return clock }
	for range 600 {
		log.failed("reading", errors.New("connection refused"))
		clock = clock.Add(100 * time.Millisecond)
	}
	if len(logger.errors) != 2 {
		t.Fatalf("%d error lines for a minute's outage, want 2 (the outage, one reminder): %v", len(logger.errors), logger.errors)
	}
	log.succeeded()
	log.succeeded()
	if len(logger.info) != 1 {
		t.Fatalf("%d info lines on recovery, want 1", len(logger.info))
	}
	log.failed("reading", errors.New("connection refused"))
	if len(logger.errors) != 3 {
		t.Fatalf("a new outage logged %d lines, want 1", len(logger.errors)-2)
	}
}
