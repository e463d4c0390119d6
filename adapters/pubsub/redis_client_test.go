package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
)

// roundTripCounter is a go-redis hook that records what each round trip to
// Redis carried: one entry per command or per pipeline.
type roundTripCounter struct {
	mu    sync.Mutex
	trips [][]string
}

func (h *roundTripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *roundTripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

func (h *roundTripCounter) record(cmds ...redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = strings.ToLower(c.Name())
	}
	h.mu.Lock()
	h.trips = append(h.trips, names)
	h.mu.Unlock()
}

// count says how many round trips carried the command, and how many
// commands of that name were sent in all.
func (h *roundTripCounter) count(name string) (trips, commands int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, trip := range h.trips {
		n := 0
		for _, c := range trip {
			if c == name {
				n++
			}
		}
		if n > 0 {
			trips++
			commands += n
		}
	}
	return trips, commands
}

// carriedTogether tells whether one round trip carried both commands.
func (h *roundTripCounter) carriedTogether(a, b string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, trip := range h.trips {
		if strings.Contains(" "+strings.Join(trip, " ")+" ", " "+a+" ") &&
			strings.Contains(" "+strings.Join(trip, " ")+" ", " "+b+" ") {
			return true
		}
	}
	return false
}

// newCountedSubscriberClient is a redisSubscriberClient on a stream of n
// entries and its consumer group, with a hook counting its round trips.
func newCountedSubscriberClient(t *testing.T, n int, readAhead int64, ackDelay time.Duration) (*redisSubscriberClient, *roundTripCounter, string, *redis.Client) {
	t.Helper()
	admin := newTestRedisClient(t)
	stream := newStreamWithGroup(t, admin, n)
	raw := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	counter := &roundTripCounter{}
	raw.AddHook(counter)
	c := newRedisSubscriberClient(raw, redisReadConfig{ReadAhead: readAhead, AckDelay: ackDelay, MaxIdleTime: time.Hour}, watermill.NopLogger{})
	t.Cleanup(func() { _ = c.Close() })
	return c, counter, stream, admin
}

// newStreamWithGroup makes a stream of n entries (field n = 0, 1, ...)
// and its consumer group "g", deleted after the test.
func newStreamWithGroup(t *testing.T, admin *redis.Client, n int) string {
	t.Helper()
	ctx := context.Background()
	stream := uniqueName("readahead")
	t.Cleanup(func() { admin.Del(context.Background(), stream) })
	for i := 0; i < n; i++ {
		if err := admin.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", i}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	return stream
}

// readOne is one read as redisstream makes it: COUNT 1, new entries.
func readOne(t *testing.T, c *redisSubscriberClient, stream string) redis.XMessage {
	t.Helper()
	streams, err := c.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 1, Block: 100 * time.Millisecond,
	}).Result()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(streams) != 1 || len(streams[0].Messages) != 1 {
		t.Fatalf("read %d streams, want one entry: %+v", len(streams), streams)
	}
	return streams[0].Messages[0]
}

func pendingCount(t *testing.T, admin *redis.Client, stream string) int64 {
	t.Helper()
	p, err := admin.XPending(context.Background(), stream, "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func TestRedisSubscriberClientReadsAheadAndHandsOutOneEntryPerRead(t *testing.T) {
	t.Parallel()
	c, counter, stream, _ := newCountedSubscriberClient(t, 40, 16, time.Hour)

	for i := 0; i < 40; i++ {
		entry := readOne(t, c, stream)
		if got := entry.Values["n"]; got != fmt.Sprint(i) {
			t.Fatalf("read %d: entry n=%v, want %d (in stream order)", i, got, i)
		}
		if entry.Values[taggedEntryIDField] != entry.ID || entry.Values[taggedStreamField] != stream {
			t.Fatalf("read %d: entry not tagged with its id and stream: %v", i, entry.Values)
		}
	}
	if trips, _ := counter.count("xreadgroup"); trips != 3 {
		t.Fatalf("40 entries took %d XREADGROUP round trips, want 3 (16 at a time)", trips)
	}
}

func TestRedisSubscriberClientWithReadAheadOneReadsEachEntry(t *testing.T) {
	t.Parallel()
	c, counter, stream, _ := newCountedSubscriberClient(t, 5, 1, time.Hour)
	for i := 0; i < 5; i++ {
		readOne(t, c, stream)
	}
	if trips, _ := counter.count("xreadgroup"); trips != 5 {
		t.Fatalf("5 entries took %d XREADGROUP round trips, want 5", trips)
	}
}

func TestRedisSubscriberClientSendsAcknowledgementsWithTheNextRead(t *testing.T) {
	t.Parallel()
	c, counter, stream, admin := newCountedSubscriberClient(t, 20, 16, time.Hour)
	ctx := context.Background()

	for i := 0; i < 16; i++ {
		entry := readOne(t, c, stream)
		if err := c.XAck(ctx, stream, "g", entry.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, commands := counter.count("xack"); commands != 0 {
		t.Fatalf("%d XACK sent before the next read; want them queued", commands)
	}
	if n := pendingCount(t, admin, stream); n != 16 {
		t.Fatalf("pending before the next read = %d, want 16", n)
	}

	readOne(t, c, stream) // the buffer is empty: this read goes to Redis

	if trips, commands := counter.count("xack"); trips != 1 || commands != 1 {
		t.Fatalf("XACK went in %d round trips as %d commands, want one command for the 16 entries", trips, commands)
	}
	if !counter.carriedTogether("xack", "xreadgroup") {
		t.Fatal("XACK was not carried in the read's round trip")
	}
	if n := pendingCount(t, admin, stream); n != 4 {
		t.Fatalf("pending after the read = %d, want the 4 entries read and not acknowledged", n)
	}
}

func TestRedisSubscriberClientSendsAcknowledgementsAfterTheDelayWhenNoReadComes(t *testing.T) {
	t.Parallel()
	c, _, stream, admin := newCountedSubscriberClient(t, 3, 16, 20*time.Millisecond)
	for i := 0; i < 3; i++ {
		entry := readOne(t, c, stream)
		if err := c.XAck(context.Background(), stream, "g", entry.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "acknowledgements sent by the timer", func() bool { return pendingCount(t, admin, stream) == 0 })
}

func TestRedisSubscriberClientSendsAcknowledgementsOnClose(t *testing.T) {
	t.Parallel()
	c, _, stream, admin := newCountedSubscriberClient(t, 10, 16, time.Hour)
	for i := 0; i < 4; i++ {
		entry := readOne(t, c, stream)
		if err := c.XAck(context.Background(), stream, "g", entry.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The 4 handled entries are acknowledged; the 6 read ahead stay pending
	// for a claim, as an unhandled entry must.
	if n := pendingCount(t, admin, stream); n != 6 {
		t.Fatalf("pending after close = %d, want the 6 entries read ahead and not handled", n)
	}
}

func TestRedisSubscriberClientKeepsAcknowledgementsWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	admin := newTestRedisClient(t)
	ctx := context.Background()
	stream := newStreamWithGroup(t, admin, 1)
	// Redis is reached through a proxy that can be cut.
	proxy := newCuttableProxy(t, testRedisAddr())
	raw := redis.NewClient(&redis.Options{Addr: proxy.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	c := newRedisSubscriberClient(raw, redisReadConfig{ReadAhead: 16, AckDelay: 20 * time.Millisecond, MaxIdleTime: time.Hour}, watermill.NopLogger{})
	t.Cleanup(func() { _ = c.Close() })

	entry := readOne(t, c, stream)
	proxy.cut()
	if err := c.XAck(ctx, stream, "g", entry.ID).Err(); err != nil {
		t.Fatal(err)
	}
	// The timer's attempts fail while Redis is away; the acknowledgement
	// must survive them and go out once Redis is back.
	eventually(t, "a failed flush", func() bool { return proxy.refused() > 0 })
	proxy.restore()
	eventually(t, "acknowledgement sent once Redis is back", func() bool { return pendingCount(t, admin, stream) == 0 })
}

// cuttableProxy forwards TCP connections to a target until cut: then it
// closes them and refuses new ones until restored.
type cuttableProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu       sync.Mutex
	down     bool
	conns    []net.Conn
	refusals int
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *cuttableProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.refusals++
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go pipe(in, out)
		go pipe(out, in)
	}
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *cuttableProxy) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusals
}

// Through the pub/sub: a backlog is delivered in order and every handled
// entry ends up acknowledged while the subscriber keeps running.
func TestRedisStreamsBacklogIsDeliveredInOrderAndAcknowledged(t *testing.T) {
	t.Parallel()
	ps := newTestRedisPubSub(t, RedisStreamsConfig{})
	admin := newTestRedisClient(t)
	topic := uniqueName("backlog")
	t.Cleanup(func() { admin.Del(context.Background(), topic) })
	const n = 50
	for i := 0; i < n; i++ {
		msg := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf(`{"n":%d}`, i)))
		if err := ps.Publisher().Publish(topic, msg); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := ps.Subscriber("backlog-group")
	if err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, sub, topic)
	for i := 0; i < n; i++ {
		msg := receive(t, ch)
		if want := fmt.Sprintf(`{"n":%d}`, i); string(msg.Payload) != want {
			t.Fatalf("message %d: %s, want %s", i, msg.Payload, want)
		}
		msg.Ack()
	}
	eventually(t, "every entry acknowledged", func() bool {
		p, err := admin.XPending(context.Background(), topic, "backlog-group").Result()
		return err == nil && p.Count == 0
	})
}

func TestRedisSubscriberClientSharedByTwoClosesWithTheLast(t *testing.T) {
	t.Parallel()
	// One entry per read, so that the second read goes to Redis.
	c, _, stream, admin := newCountedSubscriberClient(t, 2, 1, time.Hour)
	c.share(2)
	entry := readOne(t, c, stream)
	if err := c.XAck(context.Background(), stream, "g", entry.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The other subscriber reads on, and its read carries the queued ack.
	readOne(t, c, stream)
	if n := pendingCount(t, admin, stream); n != 1 {
		t.Fatalf("pending = %d, want 1: the first entry acknowledged, the second read", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("client still open after the last Close")
	}
}

func TestRedisSubscriberClientSharersWaitForTheReadOutInsteadOfSendingTheirOwn(t *testing.T) {
	t.Parallel()
	c, counter, stream, admin := newCountedSubscriberClient(t, 0, 16, time.Hour)
	c.share(2)
	read := func() <-chan redis.XMessage {
		got := make(chan redis.XMessage, 1)
		go func() {
			streams, err := c.XReadGroup(context.Background(), &redis.XReadGroupArgs{
				Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 1, Block: 5 * time.Second,
			}).Result()
			if err == nil && len(streams) == 1 && len(streams[0].Messages) == 1 {
				got <- streams[0].Messages[0]
			}
			close(got)
		}()
		return got
	}
	first := read()
	eventually(t, "the first read sent", func() bool { trips, _ := counter.count("xreadgroup"); return trips == 1 })
	second := read()
	eventually(t, "the second read waiting", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == 1
	})
	// Two entries at once: the blocked read brings both.
	pipe := admin.TxPipeline()
	pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{"n", 0}})
	pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{"n", 1}})
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := <-first, <-second
	if a.Values["n"] != "0" || b.Values["n"] != "1" {
		t.Fatalf("reads got %v and %v, want entries 0 and 1", a.Values, b.Values)
	}
	if trips, _ := counter.count("xreadgroup"); trips != 1 {
		t.Fatalf("%d XREADGROUP round trips, want the first read's only", trips)
	}
}

func TestRedisSubscriberClientDropsEntriesThatWaitedInTheBufferTooLong(t *testing.T) {
	t.Parallel()
	c, counter, stream, admin := newCountedSubscriberClient(t, 3, 16, time.Hour)
	clock := time.Unix(1_000_000, 0)
	c.mu.Lock()
	c.staleAfter = 5 * time.Second
	c.now = func() time.Time { return clock }
	c.mu.Unlock()

	readOne(t, c, stream) // reads all 3, hands out the first
	c.mu.Lock()
	clock = clock.Add(5 * time.Second)
	c.mu.Unlock()

	// The 2 buffered entries are stale: the next read goes to Redis (and
	// finds nothing new), instead of handing them out.
	_, err := c.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 1, Block: 10 * time.Millisecond,
	}).Result()
	if !errors.Is(err, redis.Nil) {
		t.Fatalf("read after the entries went stale: %v, want none (redis.Nil)", err)
	}
	if trips, _ := counter.count("xreadgroup"); trips != 2 {
		t.Fatalf("%d XREADGROUP round trips, want 2", trips)
	}
	// They stay pending, for a claim.
	if n := pendingCount(t, admin, stream); n != 3 {
		t.Fatalf("pending = %d, want 3", n)
	}
}

// An acknowledgement Redis refuses (here: the key is not a stream) would be
// refused again: it is dropped, not retried for ever.
func TestRedisSubscriberClientDropsAcknowledgementsRedisRefuses(t *testing.T) {
	t.Parallel()
	c, counter, _, admin := newCountedSubscriberClient(t, 0, 16, 10*time.Millisecond)
	notAStream := uniqueName("plainkey")
	t.Cleanup(func() { admin.Del(context.Background(), notAStream) })
	if err := admin.Set(context.Background(), notAStream, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XAck(context.Background(), notAStream, "g", "1-0").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refused acknowledgement dropped", func() bool {
		trips, _ := counter.count("xack")
		c.mu.Lock()
		defer c.mu.Unlock()
		return trips == 1 && len(c.acks) == 0 && c.flushing == nil
	})
}

// newGroupCommittingTestClient is a groupCommittingClient with a counting
// hook, a stream name, and a key that is not a stream (XADD to it fails).
func newGroupCommittingTestClient(t *testing.T) (groupCommittingClient, *roundTripCounter, *redis.Client, string, string) {
	t.Helper()
	admin := newTestRedisClient(t)
	stream, notAStream := uniqueName("gc"), uniqueName("gcplain")
	t.Cleanup(func() { admin.Del(context.Background(), stream, notAStream) })
	if err := admin.Set(context.Background(), notAStream, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	t.Cleanup(func() { _ = raw.Close() })
	counter := &roundTripCounter{}
	raw.AddHook(counter)
	return newGroupCommittingClient(raw), counter, admin, stream, notAStream
}

// XADDs made at the same time (they share pipelines: groupcommit's tests
// show the batching) each return their own result: a failing one fails
// alone, and none is added twice.
func TestGroupCommittingClientConcurrentXAddsEachGetTheirOwnResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter, admin, stream, notAStream := newGroupCommittingTestClient(t)

	const n = 50
	ids := make(chan string, n)
	errs := make(chan error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", i}}).Result()
			if err != nil {
				errs <- err
				return
			}
			ids <- id
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- c.XAdd(ctx, &redis.XAddArgs{Stream: notAStream, Values: []any{"n", -1}}).Err()
	}()
	wg.Wait()
	close(ids)
	close(errs)

	seen := map[string]bool{}
	for id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("XADD returned id %q (twice: %v)", id, seen[id])
		}
		seen[id] = true
	}
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	if len(seen) != n || len(failed) != 1 || !strings.Contains(failed[0].Error(), "WRONGTYPE") {
		t.Fatalf("%d XADDs succeeded, errors %v; want %d and the one WRONGTYPE", len(seen), failed, n)
	}
	if got := admin.XLen(ctx, stream).Val(); got != n {
		t.Fatalf("stream holds %d entries, want %d (none added twice)", got, n)
	}
	if _, commands := counter.count("xadd"); commands != n+1 {
		t.Fatalf("%d XADD commands sent, want %d: each once", commands, n+1)
	}
}

// One pipeline holding a failing XADD among good ones: each gets its own
// result and the batch as a whole does not fail, since groupcommit would
// then add every good one again, alone.
func TestGroupCommittingClientBatchWithAFailingXAddFailsOnlyThatOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _, _, stream, notAStream := newGroupCommittingTestClient(t)

	adds := []*pendingXAdd{
		{args: &redis.XAddArgs{Stream: stream, Values: []any{"n", 1}}},
		{args: &redis.XAddArgs{Stream: notAStream, Values: []any{"n", 2}}},
		{args: &redis.XAddArgs{Stream: stream, Values: []any{"n", 3}}},
	}
	if err := c.addAll(ctx, adds); err != nil {
		t.Fatalf("the batch failed as a whole: %v", err)
	}
	if adds[0].err != nil || adds[0].id == "" || adds[2].err != nil || adds[2].id == "" {
		t.Fatalf("good XADDs: %+v, %+v; want ids and no errors", adds[0], adds[2])
	}
	if adds[1].err == nil || !strings.Contains(adds[1].err.Error(), "WRONGTYPE") {
		t.Fatalf("failing XADD: %v, want its WRONGTYPE", adds[1].err)
	}
}
