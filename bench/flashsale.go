package main

import (
	"context"
	"fmt"
	"io"
	"math"
)

// The flash sale (issue 12): everyone wants the same few skus at once, a
// launch. 32 clients (flashClients) order 1 unit at a time, spread
// at random over 1 or 5 hot skus, from one service process or from two on
// one database and one broker namespace (client w talks to process
// w % 2, as behind a load balancer). The stock is 75 % of the round's
// orders (flashStockShare), in 3 batches per sku (warehouse stock, then two
// shipments), so each round sells out part-way: its first orders are
// allocated and spill from batch to batch, the last ones are told 409,
// and every one of them should get one of those two answers.
//
// A round sends -flash-orders orders, or fewer if flashRoundMax passes
// first (a slow service is measured for as long, not made to take as
// long); each round has skus of its own, so rounds are alike. Throughput
// and latency count 201 and 409 answers, as in the uniform load; every
// other answer is an error, counted by kind (4xx other than 409, 5xx, no
// answer). More 201s than the round's stock would be overselling, and is
// reported as such. CPU is taken over the round as in the uniform load,
// the service's being the sum of its processes'.

// flashCase is one flash-sale configuration.
type flashCase struct {
	hotSKUs   int
	processes int
}

func (c flashCase) String() string {
	skus, procs := "sku", "process"
	if c.hotSKUs > 1 {
		skus = "skus"
	}
	if c.processes > 1 {
		procs = "processes"
	}
	return fmt.Sprintf("%d hot %s, %d %s", c.hotSKUs, skus, c.processes, procs)
}

// flashCases are run in this order: the one-process cases first, then a
// second process is started beside the first.
var flashCases = []flashCase{{1, 1}, {5, 1}, {1, 2}, {5, 2}}

// FlashResult is one flash-sale case over its rounds.
type FlashResult struct {
	Name      string        `json:"name"`
	HotSKUs   int           `json:"hot_skus"`
	Processes int           `json:"processes"`
	Clients   int           `json:"clients"`
	Stock     int           `json:"stock_per_round"`
	Summary   Summary       `json:"summary"`
	Rounds    []RoundResult `json:"rounds"`
	// Oversold counts rounds with more 201s than units in stock.
	Oversold int `json:"oversold_rounds"`
}

// totals are the answers over all rounds, by kind.
func (f FlashResult) totals() (sent, created, outOfStock, clientErrors, serverErrors, transportErrors int) {
	for _, r := range f.Rounds {
		sent += r.Requests
		created += r.Created
		outOfStock += r.OutOfStock
		clientErrors += r.ClientErrors
		serverErrors += r.ServerErrors
		transportErrors += r.TransportErrors
	}
	return
}

// flashStock splits the round's stock between the hot skus and, per sku,
// into its three batches.
func flashStock(o options, hotSKUs int) (perSKU int, batches [3]int) {
	perSKU = max(3, int(math.Round(flashStockShare*float64(o.flashOrders)))/hotSKUs)
	third := perSKU / 3
	return perSKU, [3]int{perSKU - 2*third, third, third}
}

// measureFlashSale runs one case's rounds against procs (the first seeds
// the stock).
func measureFlashSale(ctx context.Context, o options, cfg runConfig, c flashCase, procs []*serviceProcess, stdout io.Writer) (*FlashResult, error) {
	var (
		urls []string
		pids []int
	)
	for _, p := range procs {
		urls, pids = append(urls, p.url), append(pids, p.pid())
	}
	l := newLoad(o, urls[0])
	perSKU, split := flashStock(o, c.hotSKUs)
	res := &FlashResult{Name: c.String(), HotSKUs: c.hotSKUs, Processes: c.processes, Clients: flashClients, Stock: perSKU * c.hotSKUs}
	for i := 1; i <= o.flashRounds; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The skus are the phase's "normal" ones: the picker spreads the
		// orders uniformly over them.
		phase := phaseSKUs{name: fmt.Sprintf("flash%dx%d-r%d", c.hotSKUs, c.processes, i)}
		var stock [][]batchSpec
		for s := 0; s < c.hotSKUs; s++ {
			sku := fmt.Sprintf("%s-%s-HOT-%d", l.runID, phase.name, s)
			phase.normal = append(phase.normal, sku)
			stock = append(stock, threeBatches(sku, split[0], split[1], split[2]))
		}
		if err := l.seed(ctx, stock); err != nil {
			return nil, fmt.Errorf("seeding the flash sale: %w", err)
		}
		before := sampleCPU(pids...)
		r := runClosedLoop(ctx, closedLoop{runID: l.runID, phase: phase, d: flashRoundMax, clients: flashClients, client: httpClients(urls), maxRequests: o.flashOrders, maxQty: 1})
		r.CPU = cpuShare(before, sampleCPU(pids...), r.Created+r.OutOfStock)
		r.Round = i
		res.Rounds = append(res.Rounds, r)
		oversold := ""
		if r.Created > res.Stock {
			res.Oversold++
			oversold = fmt.Sprintf(" OVERSOLD: %d × 201 for %d units", r.Created, res.Stock)
		}
		logf(stdout, "%s: flash sale, %s, round %d: %d orders in %.1f s, %.0f req/s, p50 %.2f ms, p99 %.2f ms; 201 × %d, 409 × %d, other 4xx × %d, 5xx × %d, no answer × %d (stock %d)%s",
			cfg.Name(), c, i, r.Requests, r.Seconds, r.Throughput, r.P50ms, r.P99ms, r.Created, r.OutOfStock, r.ClientErrors, r.ServerErrors, r.TransportErrors, res.Stock, oversold)
		logf(stdout, "%s: flash sale, %s, round %d CPU (cores): service %.2f (%.0f µs/request), load generator %.2f, postgres %.2f (%.0f µs/request), broker server %.2f, other %.2f",
			cfg.Name(), c, i, r.CPU.Service, r.CPU.ServiceMicros, r.CPU.Bench, r.CPU.Postgres, r.CPU.PostgresMicros, r.CPU.Redis, r.CPU.Other)
		if r.Errors > 0 && r.FirstError != "" {
			logf(stdout, "%s: flash sale, %s, round %d first error: %s", cfg.Name(), c, i, r.FirstError)
		}
	}
	res.Summary = summarize(res.Rounds)
	return res, nil
}
