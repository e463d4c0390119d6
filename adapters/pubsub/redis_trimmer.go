package pubsub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTrimConfig is what RunTrimmer keeps of the streams.
type RedisTrimConfig struct {
	// Interval between trims. Default DefaultRedisTrimInterval.
	Interval time.Duration
	// Untrimmed are streams (full names, prefix included) the trimmer
	// leaves alone although this process reads them: topics other
	// services write and may read (change_batch_quantity).
	Untrimmed []string
	// PoisonStream, when set, is kept to about PoisonMaxLen entries
	// (XTRIM MAXLEN ~), the oldest parked messages going first.
	PoisonStream string
	// PoisonMaxLen; default DefaultRedisPoisonMaxLen.
	PoisonMaxLen int64
}

const (
	// DefaultRedisTrimInterval: an internal stream holds what some group
	// has not acknowledged plus at most about this much of what they all
	// have.
	DefaultRedisTrimInterval = 5 * time.Second
	// DefaultRedisPoisonMaxLen parked messages are kept (MAXLEN ~: Redis
	// may keep up to about a hundred more, trimming whole nodes).
	DefaultRedisPoisonMaxLen = 10_000
)

func (c RedisTrimConfig) withDefaults() RedisTrimConfig {
	setDefault(&c.Interval, DefaultRedisTrimInterval)
	if c.PoisonMaxLen <= 0 {
		c.PoisonMaxLen = DefaultRedisPoisonMaxLen
	}
	return c
}

// redisTrimTimeout bounds one round of trims.
const redisTrimTimeout = 10 * time.Second

// RunTrimmer trims, every Trim.Interval until ctx ends, each stream this
// process subscribes to (except Untrimmed) below the oldest entry some
// consumer group of it has not acknowledged (XTRIM MINID), and the poison
// stream to PoisonMaxLen. Every group of the stream counts, other
// services' too. It never fails: errors are logged and tried again.
func (p *RedisStreamsPubSub) RunTrimmer(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.Trim.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		roundCtx, cancel := context.WithTimeout(ctx, redisTrimTimeout)
		err := p.Trim(roundCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			p.outage.failed("trimming streams", err)
		}
	}
}

// Trim is one round of RunTrimmer.
func (p *RedisStreamsPubSub) Trim(ctx context.Context) error {
	var errs []error
	for _, sg := range p.groups.snapshot() {
		if slices.Contains(p.cfg.Trim.Untrimmed, sg.stream) || sg.stream == p.cfg.Trim.PoisonStream {
			continue
		}
		errs = append(errs, trimAcknowledged(ctx, p.client, sg.stream))
	}
	if stream := p.cfg.Trim.PoisonStream; stream != "" {
		if err := p.client.XTrimMaxLenApprox(ctx, stream, p.cfg.Trim.PoisonMaxLen, 0).Err(); err != nil {
			errs = append(errs, fmt.Errorf("trimming %s: %w", stream, err))
		}
	}
	return errors.Join(errs...)
}

// trimAcknowledged removes the entries of stream that every consumer group
// has acknowledged: those older than the oldest entry pending in a group,
// and than the last entry delivered to a group (what comes after it is
// yet to be read). A stream without groups is left alone.
func trimAcknowledged(ctx context.Context, client *redis.Client, stream string) error {
	groups, err := client.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return fmt.Errorf("reading the groups of %s: %w", stream, err)
	}
	keepFrom := ""
	for _, g := range groups {
		oldest := g.LastDeliveredID
		if g.Pending > 0 {
			pending, err := client.XPending(ctx, stream, g.Name).Result()
			if err != nil {
				return fmt.Errorf("reading what group %s of %s has pending: %w", g.Name, stream, err)
			}
			if pending.Count > 0 {
				oldest = pending.Lower
			}
		}
		if keepFrom == "" || entryIDLess(oldest, keepFrom) {
			keepFrom = oldest
		}
	}
	if keepFrom == "" || keepFrom == "0-0" {
		return nil
	}
	if err := client.XTrimMinID(ctx, stream, keepFrom).Err(); err != nil {
		return fmt.Errorf("trimming %s below %s: %w", stream, keepFrom, err)
	}
	return nil
}

// entryIDLess compares stream entry IDs ("<ms>-<seq>") numerically.
func entryIDLess(a, b string) bool {
	am, as := splitEntryID(a)
	bm, bs := splitEntryID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitEntryID(id string) (ms, seq uint64) {
	msPart, seqPart, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(msPart, 10, 64)
	seq, _ = strconv.ParseUint(seqPart, 10, 64)
	return ms, seq
}
