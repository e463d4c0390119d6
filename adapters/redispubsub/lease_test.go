package redispubsub_test

import (
	"context"
	"testing"
	"time"

	"allocation/adapters/redispubsub"
)

func hold(t *testing.T, l *redispubsub.Lease) bool {
	t.Helper()
	held, err := l.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func TestLeaseHasOneHolderAtATime(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	a := redispubsub.NewLease(d.client, d.lease, "a", 10*time.Second)
	b := redispubsub.NewLease(d.client, d.lease, "b", 10*time.Second)
	ctx := context.Background()

	if !hold(t, a) || hold(t, b) || !hold(t, a) {
		t.Fatal("want a to take and keep the lease and b refused")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.client.Get(ctx, d.lease).Val(); got != "a" {
		t.Fatalf("after b released what it did not hold, the lease is %q, want a's", got)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.client.Exists(ctx, d.lease).Val(); n != 0 {
		t.Fatal("a released the lease but the key is still there")
	}
	if !hold(t, b) || hold(t, a) {
		t.Fatal("want b to take the released lease and a refused")
	}
}

// Renewing puts the lease's expiry a full ttl ahead again.
func TestLeaseRenewalPutsItsExpiryBack(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	ttl := 10 * time.Second
	a := redispubsub.NewLease(d.client, d.lease, "a", ttl)
	ctx := context.Background()
	if !hold(t, a) {
		t.Fatal("a did not take a free lease")
	}
	// As if the lease were about to run out.
	d.client.PExpire(ctx, d.lease, 50*time.Millisecond)
	if !hold(t, a) {
		t.Fatal("a lost a lease it renewed in time")
	}
	if left := d.client.PTTL(ctx, d.lease).Val(); left < ttl-time.Second {
		t.Fatalf("after renewal the lease has %s left, want about %s", left, ttl)
	}
}

// A holder that stops renewing (dies) loses the lease after its ttl.
func TestLeaseIsFreeAgainOnceItsHolderStopsRenewing(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	a := redispubsub.NewLease(d.client, d.lease, "a", 300*time.Millisecond)
	b := redispubsub.NewLease(d.client, d.lease, "b", 300*time.Millisecond)
	if !hold(t, a) || hold(t, b) {
		t.Fatal("want a to take the lease and b refused")
	}
	eventually(t, "b takes the lease a stopped renewing", func() bool { return hold(t, b) })
	if hold(t, a) {
		t.Fatal("a took the lease back from b")
	}
}
