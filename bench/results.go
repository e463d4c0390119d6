package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Results is everything one run measured; it is written as JSON and
// rendered as Markdown tables.
type Results struct {
	Machine Machine `json:"machine"`
	// SpeedAtStart and SpeedAtEnd place the run in the machine's phases.
	SpeedAtStart *SpeedProbe    `json:"speed_at_start,omitempty"`
	SpeedAtEnd   *SpeedProbe    `json:"speed_at_end,omitempty"`
	Settings     Settings       `json:"settings"`
	Command      string         `json:"command"`
	Started      string         `json:"started"`
	Seconds      float64        `json:"seconds"`
	Configs      []ConfigResult `json:"configs"`
}

// Machine is where the figures come from.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryGiB  int    `json:"memory_gib"`
	OS         string `json:"os"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql"`
	Redis      string `json:"redis"`
}

// Settings are the workload's parameters.
type Settings struct {
	Concurrency    int              `json:"concurrency"`
	WarmupSeconds  float64          `json:"warmup_seconds"`
	RoundSeconds   float64          `json:"round_seconds"`
	Rounds         int              `json:"rounds"`
	CeilingSeconds float64          `json:"ceiling_round_seconds"`
	SKUs           int              `json:"skus_per_round"`
	HotSKUs        int              `json:"hot_skus"`
	HotShare       float64          `json:"hot_share"`
	ScarceSKUs     int              `json:"scarce_skus"`
	ScarceShare    float64          `json:"scarce_share"`
	MaxQty         int              `json:"max_qty"`
	RoundTrips     int              `json:"round_trips"`
	SQLPoll        string           `json:"sql_poll_interval,omitempty"`
	ServiceEnv     []string         `json:"service_env,omitempty"`
	Binary         string           `json:"binary"`
	Scenarios      []string         `json:"scenarios"`
	Flash          *FlashSettings   `json:"flash_sale,omitempty"`
	History        *HistorySettings `json:"long_history,omitempty"`
}

// FlashSettings are the flash sale's parameters.
type FlashSettings struct {
	Clients      int     `json:"clients"`
	Orders       int     `json:"max_orders_per_round"`
	StockShare   float64 `json:"stock_share"`
	RoundSeconds float64 `json:"max_round_seconds"`
	Rounds       int     `json:"rounds"`
}

// HistorySettings are the long-history measurement's parameters.
type HistorySettings struct {
	Lines   int     `json:"lines"`
	Seconds float64 `json:"seconds"`
}

func settingsOf(o options) Settings {
	s := Settings{
		Concurrency: o.concurrency, WarmupSeconds: o.warmup.Seconds(), RoundSeconds: o.round.Seconds(),
		Rounds: o.rounds, CeilingSeconds: o.ceilingRound.Seconds(), SKUs: o.skus,
		HotSKUs: hotSKUs, HotShare: hotShare, ScarceSKUs: scarceSKUs, ScarceShare: scarceShare,
		MaxQty: maxQty, RoundTrips: o.rtEvents, SQLPoll: o.sqlPollInterval,
		ServiceEnv: o.serviceEnv, Binary: o.binary, Scenarios: o.scenarios.list(),
	}
	if o.scenarios.has(scenarioFlash) {
		s.Flash = &FlashSettings{Clients: flashClients, Orders: o.flashOrders, StockShare: flashStockShare,
			RoundSeconds: flashRoundMax.Seconds(), Rounds: o.flashRounds}
	}
	if o.scenarios.has(scenarioHistory) {
		s.History = &HistorySettings{Lines: o.historyLines, Seconds: historyDuration.Seconds()}
	}
	return s
}

// ConfigResult is one configuration's figures.
type ConfigResult struct {
	Name      string           `json:"name"`
	Store     string           `json:"store"`
	Broker    string           `json:"broker"`
	HTTP      Summary          `json:"http"`
	Rounds    []RoundResult    `json:"rounds"`
	RoundTrip *RoundTripResult `json:"round_trip,omitempty"`
	Drain     *DrainResult     `json:"event_backlog,omitempty"`
	Ceiling   *CeilingResult   `json:"ceiling,omitempty"`
	// Ratio is the service's median throughput over the ceiling's.
	Ratio float64 `json:"service_over_ceiling,omitempty"`
	// Flash and History: the scenarios of issue 12, on service processes
	// of their own.
	Flash   []FlashResult  `json:"flash_sale,omitempty"`
	History *HistoryResult `json:"long_history,omitempty"`
}

// uniform tells whether the configuration ran the uniform load.
func (c ConfigResult) uniform() bool { return len(c.Rounds) > 0 }

// RoundResult is one round of closed-loop load.
type RoundResult struct {
	Round      int     `json:"round"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Created    int     `json:"created"`
	OutOfStock int     `json:"out_of_stock"`
	Errors     int     `json:"errors"`
	// The errors by kind: 4xx other than 409, 5xx, and no HTTP answer.
	ClientErrors    int      `json:"client_errors,omitempty"`
	ServerErrors    int      `json:"server_errors,omitempty"`
	TransportErrors int      `json:"transport_errors,omitempty"`
	ErrorRate       float64  `json:"error_rate"`
	FirstError      string   `json:"first_error,omitempty"`
	Throughput      float64  `json:"throughput"`
	P50ms           float64  `json:"p50_ms"`
	P99ms           float64  `json:"p99_ms"`
	CPU             CPUShare `json:"cpu"`
	// Reloads (the ceiling) counts transactions that read their product
	// a second time: the first read waited for the lock while another
	// transaction changed it.
	Reloads int `json:"reloads,omitempty"`
}

// Summary is the median over rounds of each figure.
type Summary struct {
	Throughput    float64  `json:"throughput"`
	P50ms         float64  `json:"p50_ms"`
	P99ms         float64  `json:"p99_ms"`
	ErrorRate     float64  `json:"error_rate"`
	OutOfStock    float64  `json:"out_of_stock_share"`
	TotalRequests int      `json:"total_requests"`
	CPU           CPUShare `json:"cpu"`
}

func summarize(rounds []RoundResult) Summary {
	var tput, p50, p99, svc, bench, pg, rd, other, svcUS, pgUS []float64
	var requests, errs, oos int
	for _, r := range rounds {
		tput = append(tput, r.Throughput)
		p50 = append(p50, r.P50ms)
		p99 = append(p99, r.P99ms)
		svc, bench, pg, rd = append(svc, r.CPU.Service), append(bench, r.CPU.Bench), append(pg, r.CPU.Postgres), append(rd, r.CPU.Redis)
		svcUS, pgUS, other = append(svcUS, r.CPU.ServiceMicros), append(pgUS, r.CPU.PostgresMicros), append(other, r.CPU.Other)
		requests += r.Requests
		errs += r.Errors
		oos += r.OutOfStock
	}
	s := Summary{Throughput: median(tput), P50ms: median(p50), P99ms: median(p99), TotalRequests: requests,
		CPU: CPUShare{Service: median(svc), Bench: median(bench), Postgres: median(pg), Redis: median(rd), Other: median(other), ServiceMicros: median(svcUS), PostgresMicros: median(pgUS)}}
	if requests > 0 {
		s.ErrorRate = float64(errs) / float64(requests)
		s.OutOfStock = float64(oos) / float64(requests)
	}
	return s
}

// RoundTripResult is the external event round trip.
type RoundTripResult struct {
	Method string  `json:"method"`
	Events int     `json:"events"`
	P50ms  float64 `json:"p50_ms"`
	P90ms  float64 `json:"p90_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// CeilingResult is the direct database/sql measurement.
type CeilingResult struct {
	Summary Summary       `json:"summary"`
	Rounds  []RoundResult `json:"rounds"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentilesMS(latencies []time.Duration) (p50, p99 float64) {
	slices.Sort(latencies)
	return ms(percentile(latencies, 0.50)), ms(percentile(latencies, 0.99))
}

func describeMachine(ctx context.Context, o options) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.Cores = n
		}
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.MemoryGiB = (kb + 512*1024) / (1024 * 1024)
			}
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`) + " " + m.OS
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if db, err := openDB(ctx, o.databaseURL); err == nil {
		var v string
		if db.QueryRowContext(ctx, `SHOW server_version`).Scan(&v) == nil {
			m.PostgreSQL = "PostgreSQL " + strings.Fields(v)[0]
		}
		_ = db.Close()
	}
	client := redis.NewClient(&redis.Options{Addr: o.redisAddr})
	defer client.Close()
	if info, err := client.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.Redis = "Redis " + v
			}
		}
	}
	return m
}
