package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The request mix. Every phase (the warm-up and each round) gets skus of
// its own, seeded before it starts, so that rounds are alike: products do
// not grow from round to round, and no round starts with exhausted stock.
//
//   - normal skus take the remaining requests, uniformly: plenty of stock
//     in 3 batches (warehouse stock, then two shipments), so lines spill
//     from the warehouse batch into the first shipment during a round;
//   - hot skus take hotShare of the requests: concurrent allocations on
//     the same product, so waits for its row lock (and, in the service,
//     commands coalesced into one transaction);
//   - scarce skus take scarceShare: a few units in each of their 3
//     batches, so they run out within the first requests and answer 409
//     from then on (the out-of-stock path: OutOfStock event, notification).
type phaseSKUs struct {
	name   string
	normal []string
	hot    []string
	scarce []string
}

const (
	normalWarehouseQty = 400
	normalShipmentQty  = 600
	plentyQty          = 1_000_000
	scarceBatchQty     = 3
)

// batchSpec is one POST /add_batch.
type batchSpec struct {
	Ref string  `json:"ref"`
	SKU string  `json:"sku"`
	Qty int     `json:"qty"`
	ETA *string `json:"eta"`
}

func newPhase(o options, runID, name string) phaseSKUs {
	p := phaseSKUs{name: name}
	normal := o.skus - hotSKUs - scarceSKUs
	for i := 0; i < hotSKUs; i++ {
		p.hot = append(p.hot, fmt.Sprintf("%s-%s-HOT-%03d", runID, name, i))
	}
	for i := 0; i < scarceSKUs; i++ {
		p.scarce = append(p.scarce, fmt.Sprintf("%s-%s-SCARCE-%03d", runID, name, i))
	}
	for i := 0; i < normal; i++ {
		p.normal = append(p.normal, fmt.Sprintf("%s-%s-SKU-%04d", runID, name, i))
	}
	return p
}

// threeBatches is a sku's batches in the order they are added: warehouse
// stock first, then a shipment tomorrow and one next week.
func threeBatches(sku string, warehouse, first, second int) []batchSpec {
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	nextWeek := time.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	return []batchSpec{
		{Ref: sku + "-w", SKU: sku, Qty: warehouse},
		{Ref: sku + "-s1", SKU: sku, Qty: first, ETA: &tomorrow},
		{Ref: sku + "-s2", SKU: sku, Qty: second, ETA: &nextWeek},
	}
}

// batches returns, per sku, its batches in the order they are added.
func (p phaseSKUs) batches() [][]batchSpec {
	var out [][]batchSpec
	for _, sku := range p.normal {
		out = append(out, threeBatches(sku, normalWarehouseQty, normalShipmentQty, plentyQty))
	}
	for _, sku := range p.hot {
		out = append(out, threeBatches(sku, normalWarehouseQty*5, normalShipmentQty*5, plentyQty))
	}
	for _, sku := range p.scarce {
		out = append(out, threeBatches(sku, scarceBatchQty, scarceBatchQty, scarceBatchQty))
	}
	return out
}

// picker chooses the sku and quantity of each request of one worker.
type picker struct {
	rng         *rand.Rand
	phase       phaseSKUs
	hotShare    float64
	scarceShare float64
	maxQty      int
}

func (p *picker) next() (string, int) {
	qty := 1 + p.rng.IntN(p.maxQty)
	r := p.rng.Float64()
	switch {
	case r < p.hotShare && len(p.phase.hot) > 0:
		return p.phase.hot[p.rng.IntN(len(p.phase.hot))], qty
	case r < p.hotShare+p.scarceShare && len(p.phase.scarce) > 0:
		return p.phase.scarce[p.rng.IntN(len(p.phase.scarce))], qty
	default:
		return p.phase.normal[p.rng.IntN(len(p.phase.normal))], qty
	}
}

// load drives the service's HTTP API.
type load struct {
	o      options
	base   string
	client *http.Client
	runID  string
}

// newLoad's net/http client seeds and reads, untimed; the measured loop
// has clients of its own (httpClients).
func newLoad(o options, base string) *load {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}, Timeout: 30 * time.Second}
	return &load{o: o, base: base, client: client, runID: "r" + randomHex(3)}
}

// measure seeds and runs the warm-up, then the rounds.
func (l *load) measure(ctx context.Context, cfg runConfig, stdout io.Writer, svc *serviceProcess) ([]RoundResult, error) {
	if l.o.warmup > 0 {
		phase := newPhase(l.o, l.runID, "warm")
		if err := l.seed(ctx, phase.batches()); err != nil {
			return nil, fmt.Errorf("seeding: %w", err)
		}
		r := l.runPhase(ctx, phase, l.o.warmup)
		logf(stdout, "%s: warm-up %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors", cfg.Name(), r.Throughput, r.P50ms, r.P99ms, r.Errors)
	}
	var rounds []RoundResult
	for i := 1; i <= l.o.rounds; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		phase := newPhase(l.o, l.runID, fmt.Sprintf("r%d", i))
		seedStart := time.Now()
		if err := l.seed(ctx, phase.batches()); err != nil {
			return nil, fmt.Errorf("seeding round %d: %w", i, err)
		}
		seeded := time.Since(seedStart)
		before := sampleCPU(svc.pid())
		r := l.runPhase(ctx, phase, l.o.round)
		r.CPU = cpuShare(before, sampleCPU(svc.pid()), r.Created+r.OutOfStock)
		r.Round = i
		rounds = append(rounds, r)
		logf(stdout, "%s: round %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d created, %d out of stock, %d errors (seeded %d batches in %s)",
			cfg.Name(), i, r.Throughput, r.P50ms, r.P99ms, r.Created, r.OutOfStock, r.Errors, len(phase.batches())*3, seeded.Round(time.Millisecond))
		logf(stdout, "%s: round %d CPU (cores): service %.2f (%.0f µs/request), load generator %.2f, postgres %.2f (%.0f µs/request), broker server %.2f, other %.2f",
			cfg.Name(), i, r.CPU.Service, r.CPU.ServiceMicros, r.CPU.Bench, r.CPU.Postgres, r.CPU.PostgresMicros, r.CPU.Redis, r.CPU.Other)
		if r.Errors > 0 && r.FirstError != "" {
			logf(stdout, "%s: round %d first error: %s", cfg.Name(), i, r.FirstError)
		}
	}
	return rounds, nil
}

// seed adds every batch, one sku's batches at a time. The batches of one
// sku go through one worker in order (warehouse stock first), so that
// seeding does not race on creating the product.
func (l *load) seed(ctx context.Context, skus [][]batchSpec) error {
	work := make(chan []batchSpec)
	errs := make(chan error, l.o.concurrency)
	var wg sync.WaitGroup
	for w := 0; w < l.o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batches := range work {
				for _, b := range batches {
					if err := l.addBatch(ctx, b); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var err error
feed:
	for _, batches := range skus {
		select {
		case work <- batches:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
		return err
	default:
		return nil
	}
}

func (l *load) addBatch(ctx context.Context, b batchSpec) error {
	body, _ := json.Marshal(b)
	status, respBody, err := l.post(ctx, "/add_batch", body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST /add_batch %s: %d %s", b.Ref, status, respBody)
	}
	return nil
}

// allocate posts one order line and returns the status and batch ref.
func (l *load) allocate(ctx context.Context, orderID, sku string, qty int) (int, string, error) {
	body := appendAllocateBody(nil, orderID, sku, qty)
	status, respBody, err := l.post(ctx, "/allocate", body)
	if err != nil {
		return 0, "", err
	}
	var out struct {
		BatchRef string `json:"batchref"`
	}
	if status == http.StatusCreated {
		if err := json.Unmarshal(respBody, &out); err != nil {
			return status, "", fmt.Errorf("POST /allocate: %w in %q", err, respBody)
		}
	}
	return status, out.BatchRef, nil
}

func (l *load) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return l.do(req)
}

func (l *load) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return l.do(req)
}

// do sends a request of the untimed parts (seeding, sentinels) and reads
// the whole answer.
func (l *load) do(req *http.Request) (int, []byte, error) {
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// appendAllocateBody writes {"orderid":..,"sku":..,"qty":..} without
// reflection: ids and skus are plain ASCII made here.
func appendAllocateBody(buf []byte, orderID, sku string, qty int) []byte {
	buf = append(buf, `{"orderid":"`...)
	buf = append(buf, orderID...)
	buf = append(buf, `","sku":"`...)
	buf = append(buf, sku...)
	buf = append(buf, `","qty":`...)
	buf = strconv.AppendInt(buf, int64(qty), 10)
	return append(buf, '}')
}

// workerStats is what one closed-loop client saw.
type workerStats struct {
	latencies  []time.Duration
	created    int
	outOfStock int
	errors     int
	firstError string
	// The errors by kind: 4xx other than 409, 5xx, and no HTTP answer.
	clientErrors, serverErrors, transportErrors int
	// reloads (the ceiling): products read again after a lock wait.
	reloads int
}

func (s *workerStats) fail(what string) {
	s.errors++
	if s.firstError == "" {
		s.firstError = what
	}
}

// answer counts one answer to POST /allocate: 201 and 409 (out of stock)
// are answers; anything else is an error, kept by kind.
func (s *workerStats) answer(status int, err error, elapsed time.Duration, body []byte) {
	switch {
	case err != nil:
		s.transportErrors++
		s.fail(err.Error())
	case status == http.StatusCreated:
		s.created++
		s.latencies = append(s.latencies, elapsed)
	case status == http.StatusConflict:
		s.outOfStock++
		s.latencies = append(s.latencies, elapsed)
	default:
		if status >= 500 {
			s.serverErrors++
		} else if status >= 400 {
			s.clientErrors++
		}
		s.fail(fmt.Sprintf("%d %s", status, bytes.TrimSpace(body)))
	}
}

// closedLoop is one run of closed-loop clients on a phase's skus.
type closedLoop struct {
	runID   string
	phase   phaseSKUs
	d       time.Duration
	clients int
	// maxRequests ends the run once that many requests are sent (0: only
	// the clock ends it).
	maxRequests           int
	hotShare, scarceShare float64
	maxQty                int
	// client makes client w's way to place an order, which records the
	// outcome in s and returns false to end that client's loop, and a
	// function that releases it.
	client func(w int) (order orderFunc, release func())
}

type orderFunc func(ctx context.Context, orderID []byte, sku string, qty int, s *workerStats) bool

// httpClients post orders to the service processes at bases (client w to
// bases[w%len]), each client on a raw connection of its own.
func httpClients(bases []string) func(w int) (orderFunc, func()) {
	return func(w int) (orderFunc, func()) {
		conn := newRawConn(strings.TrimPrefix(bases[w%len(bases)], "http://"))
		var body []byte
		respBuf := bytes.NewBuffer(make([]byte, 0, 512))
		return func(ctx context.Context, orderID []byte, sku string, qty int, s *workerStats) bool {
			body = appendAllocateBody(body[:0], string(orderID), sku, qty)
			began := time.Now()
			status, err := conn.post("/allocate", body, respBuf)
			s.answer(status, err, time.Since(began), respBuf.Bytes())
			return true
		}, conn.close
	}
}

// runPhase runs the uniform load's closed loop on the service.
func (l *load) runPhase(ctx context.Context, phase phaseSKUs, d time.Duration) RoundResult {
	return runClosedLoop(ctx, closedLoop{
		runID: l.runID, phase: phase, d: d, clients: l.o.concurrency, client: httpClients([]string{l.base}),
		hotShare: hotShare, scarceShare: scarceShare, maxQty: maxQty,
	})
}

// runClosedLoop runs c.clients clients, each placing its next order as
// soon as the previous one is answered, until c.d has passed (or
// c.maxRequests are sent). Orders started before the deadline are all
// counted, and the elapsed time runs until the last of them is answered.
func runClosedLoop(ctx context.Context, c closedLoop) RoundResult {
	stats := make([]workerStats, c.clients)
	var (
		wg   sync.WaitGroup
		sent atomic.Int64
	)
	start := time.Now()
	deadline := start.Add(c.d)
	for w := 0; w < c.clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := &stats[w]
			s.latencies = make([]time.Duration, 0, 4096)
			pick := picker{
				rng:   rand.New(rand.NewPCG(uint64(w)+1, uint64(len(c.phase.name))*7919)),
				phase: c.phase, hotShare: c.hotShare, scarceShare: c.scarceShare, maxQty: c.maxQty,
			}
			prefix := fmt.Sprintf("%s-%s-w%02d-", c.runID, c.phase.name, w)
			order, release := c.client(w)
			defer release()
			var orderID []byte
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				if c.maxRequests > 0 && sent.Add(1) > int64(c.maxRequests) {
					return
				}
				sku, qty := pick.next()
				orderID = strconv.AppendInt(append(orderID[:0], prefix...), int64(n), 10)
				if !order(ctx, orderID, sku, qty, s) {
					return
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := RoundResult{Seconds: elapsed.Seconds()}
	for _, s := range stats {
		all = append(all, s.latencies...)
		r.Created += s.created
		r.OutOfStock += s.outOfStock
		r.Errors += s.errors
		r.ClientErrors += s.clientErrors
		r.ServerErrors += s.serverErrors
		r.TransportErrors += s.transportErrors
		r.Reloads += s.reloads
		if r.FirstError == "" {
			r.FirstError = s.firstError
		}
	}
	r.Requests = r.Created + r.OutOfStock + r.Errors
	r.Throughput = float64(r.Created+r.OutOfStock) / elapsed.Seconds()
	r.P50ms, r.P99ms = percentilesMS(all)
	if r.Requests > 0 {
		r.ErrorRate = float64(r.Errors) / float64(r.Requests)
	}
	return r
}
