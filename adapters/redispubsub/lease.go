package redispubsub

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// holdScript takes the lease when it is free (SET NX PX) and renews it when
// this holder has it; one script, so that a lease cannot change hands
// between the two checks. It returns 1 when the caller holds the lease.
var holdScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseScript deletes the lease only if this holder still has it: one
// whose lease expired must not release its successor's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lease is one holder's claim on a key that at most one holder has at a
// time, for ttl after it last took or renewed it. A holder that dies stops
// renewing, and the lease is free again ttl later.
type Lease struct {
	client *redis.Client
	key    string
	holder string
	ttl    time.Duration
}

// NewLease is holder's view of the lease at key.
func NewLease(client *redis.Client, key, holder string, ttl time.Duration) *Lease {
	return &Lease{client: client, key: key, holder: holder, ttl: ttl}
}

// Holder names this holder (the value of the key while it holds it).
func (l *Lease) Holder() string { return l.holder }

// Hold takes the lease if it is free, renews it if this holder has it, and
// tells whether this holder has it now.
func (l *Lease) Hold(ctx context.Context) (bool, error) {
	held, err := holdScript.Run(ctx, l.client, []string{l.key}, l.holder, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("holding lease %s: %w", l.key, err)
	}
	return held == 1, nil
}

// Release gives the lease up if this holder has it, so that another takes
// it over at once instead of after ttl.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.client, []string{l.key}, l.holder).Err(); err != nil {
		return fmt.Errorf("releasing lease %s: %w", l.key, err)
	}
	return nil
}
