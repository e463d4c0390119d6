package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Markers of the section of the Markdown file that each run rewrites.
const (
	resultsStart = "<!-- bench:results:start — written by allocation-bench (make bench); edits inside are lost -->"
	resultsEnd   = "<!-- bench:results:end -->"
)

func writeOutputs(o options, r *Results, stdout io.Writer) error {
	for _, table := range []string{resultsTable(r), flashTable(r), historyTable(r), targetsTable(r), cpuTable(r)} {
		if table != "" {
			fmt.Fprintf(stdout, "\n%s", table)
		}
	}
	fmt.Fprintln(stdout)
	if o.resultsPath != "" {
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(o.resultsPath, append(data, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results: %s\n", o.resultsPath)
	}
	if o.markdownPath != "" {
		if err := rewriteSection(o.markdownPath, resultsSection(o, r)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results section of %s rewritten\n", o.markdownPath)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func f0(x float64) string { return fmt.Sprintf("%.0f", x) }
func f2(x float64) string { return fmt.Sprintf("%.2f", x) }
func pct(x float64) string {
	if x > 0 && x < 0.001 {
		return fmt.Sprintf("%.3f %%", 100*x)
	}
	return fmt.Sprintf("%.1f %%", 100*x)
}

func resultsTable(r *Results) string {
	var rows []string
	for _, c := range r.Configs {
		if !c.uniform() {
			continue
		}
		ceiling, ceilingLat, ratio, rt := "n/a", "n/a", "n/a", "n/a"
		if c.Ceiling != nil {
			ceiling = f0(c.Ceiling.Summary.Throughput)
			ceilingLat = f2(c.Ceiling.Summary.P50ms) + " / " + f2(c.Ceiling.Summary.P99ms)
			ratio = fmt.Sprintf("%.0f %%", 100*c.Ratio)
		}
		if c.RoundTrip != nil {
			rt = f2(c.RoundTrip.P50ms) + " / " + f2(c.RoundTrip.P99ms)
		}
		rows = append(rows, fmt.Sprintf("| STORE=%s BROKER=%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			c.Store, c.Broker, f0(c.HTTP.Throughput), f2(c.HTTP.P50ms), f2(c.HTTP.P99ms),
			pct(c.HTTP.ErrorRate), pct(c.HTTP.OutOfStock), ceiling, ceilingLat, ratio, rt, c.Drain))
	}
	return tableOrNothing("| configuration | throughput (req/s) | p50 (ms) | p99 (ms) | errors | 409 out of stock | ceiling (tx/s) | ceiling p50 / p99 (ms) | service / ceiling | event round trip p50 / p99 (ms) | events handled after the load |\n"+
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", rows)
}

// cpuTable shows where the cores went: medians over rounds.
func cpuTable(r *Results) string {
	var rows []string
	row := func(c ConfigResult, what string, cpu CPUShare) {
		rows = append(rows, fmt.Sprintf("| STORE=%s BROKER=%s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |\n", c.Store, c.Broker, what,
			cpu.Service, cpu.Bench, cpu.Postgres, cpu.Redis, cpu.Other, f0(cpu.ServiceMicros), f0(cpu.PostgresMicros)))
	}
	for _, c := range r.Configs {
		if c.uniform() {
			row(c, "service", c.HTTP.CPU)
		}
		if c.Ceiling != nil {
			row(c, "ceiling", c.Ceiling.Summary.CPU)
		}
	}
	return tableOrNothing("| configuration | what | service (cores) | load generator (cores) | PostgreSQL (cores) | Redis or NATS (cores) | other (cores) | service CPU per request (µs) | PostgreSQL CPU per request (µs) |\n"+
		"|---|---|---:|---:|---:|---:|---:|---:|---:|\n", rows)
}

// flashTable puts each flash-sale case beside the same configuration's
// uniform load and ceiling.
func flashTable(r *Results) string {
	var rows []string
	for _, c := range r.Configs {
		uniform, ceiling := "n/a", "n/a"
		if c.uniform() {
			uniform = f0(c.HTTP.Throughput)
		}
		if c.Ceiling != nil {
			ceiling = f0(c.Ceiling.Summary.Throughput)
		}
		for _, f := range c.Flash {
			sent, created, oos, client, server, transport := f.totals()
			stock := fmt.Sprintf("%d × %d", f.Stock, len(f.Rounds))
			if f.Oversold > 0 {
				stock += fmt.Sprintf(" (oversold in %d)", f.Oversold)
			}
			rows = append(rows, fmt.Sprintf("| STORE=%s BROKER=%s | %s | %d | %d | %s | %s | %s | %s | %d | %d | %d | %d | %d | %s / %s | %s | %s |\n",
				c.Store, c.Broker, f.Name, f.Clients, sent, stock, f0(f.Summary.Throughput), f2(f.Summary.P50ms), f2(f.Summary.P99ms),
				created, oos, client, server, transport, f0(f.Summary.CPU.ServiceMicros), f0(f.Summary.CPU.PostgresMicros), uniform, ceiling))
		}
	}
	return tableOrNothing("| configuration | flash sale | clients | orders sent | stock per round × rounds | req/s | p50 (ms) | p99 (ms) | 201 | 409 | other 4xx | 5xx | no answer | service / PostgreSQL CPU per request (µs) | uniform load (req/s) | ceiling (tx/s) |\n"+
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", rows)
}

// tableOrNothing is a Markdown table's header and rows, or nothing when
// there is no row (the scenario did not run).
func tableOrNothing(header string, rows []string) string {
	if len(rows) == 0 {
		return ""
	}
	return header + strings.Join(rows, "")
}

// historyTable compares allocation on a product with a long history to a
// fresh product's.
func historyTable(r *Results) string {
	var rows []string
	for _, c := range r.Configs {
		if h := c.History; h != nil {
			rows = append(rows, fmt.Sprintf("| STORE=%s BROKER=%s | %d | %s / %s | %s / %s | %.2f× (%.2f×) | %d / %d | %d |\n",
				c.Store, c.Broker, h.Lines, f2(h.Fresh.P50ms), f2(h.Fresh.P99ms), f2(h.Long.P50ms), f2(h.Long.P99ms),
				h.RatioP50, h.RatioP99, h.Fresh.Allocations, h.Long.Allocations, h.Fresh.Errors+h.Long.Errors))
		}
	}
	return tableOrNothing("| configuration | lines | fresh product p50 / p99 (ms) | long-history product p50 / p99 (ms) | long / fresh p50 (p99) | allocations timed on each | errors |\n"+
		"|---|---:|---:|---:|---:|---:|---:|\n", rows)
}

type target struct {
	config, what, want, got string
	met                     bool
}

func targets(r *Results) []target {
	var out []target
	for _, c := range r.Configs {
		name := "STORE=" + c.Store + " BROKER=" + c.Broker
		if c.Store == "memory" && c.uniform() {
			out = append(out, target{name, "throughput", ">= 15,000 req/s", f0(c.HTTP.Throughput) + " req/s", c.HTTP.Throughput >= 15000})
		}
		if c.Store == "postgres" && c.uniform() {
			if c.Ceiling != nil {
				out = append(out, target{name, "service / ceiling", ">= 70 %", fmt.Sprintf("%.0f %%", 100*c.Ratio), c.Ratio >= 0.70})
			}
			out = append(out, target{name, "p99 at concurrency " + fmt.Sprint(r.Settings.Concurrency), "< 20 ms", f2(c.HTTP.P99ms) + " ms", c.HTTP.P99ms < 20})
		}
		if c.RoundTrip != nil {
			switch c.Broker {
			case "redis", "nats":
				out = append(out, target{name, "event round trip p99", "< 15 ms", f2(c.RoundTrip.P99ms) + " ms", c.RoundTrip.P99ms < 15})
			case "sql":
				out = append(out, target{name, "event round trip p99", "< 150 ms", f2(c.RoundTrip.P99ms) + " ms", c.RoundTrip.P99ms < 150})
			}
		}
		out = append(out, hotProductTargets(name, c)...)
	}
	return out
}

// hotProductTargets are issue 12's targets for the flash sale and the
// long history.
func hotProductTargets(name string, c ConfigResult) []target {
	var out []target
	if len(c.Flash) > 0 {
		var errs, oversold int
		for _, f := range c.Flash {
			_, _, _, client, server, transport := f.totals()
			errs += client + server + transport
			oversold += f.Oversold
		}
		out = append(out,
			target{name, "flash sale: answers other than 201 / 409 (5xx, other 4xx, none), all rounds", "0", fmt.Sprint(errs), errs == 0},
			target{name, "flash sale: rounds with more 201s than stock", "0", fmt.Sprint(oversold), oversold == 0})
	}
	for _, f := range c.Flash {
		if f.HotSKUs != 1 || f.Processes != 1 {
			continue
		}
		out = append(out, target{name, "flash sale, " + f.Name + ": p99", "< 50 ms", f2(f.Summary.P99ms) + " ms", f.Summary.P99ms < 50})
		if c.Ceiling != nil {
			out = append(out, target{name, "flash sale, " + f.Name + ": req/s", "> ceiling (" + f0(c.Ceiling.Summary.Throughput) + " tx/s)",
				f0(f.Summary.Throughput) + " req/s", f.Summary.Throughput > c.Ceiling.Summary.Throughput})
		}
	}
	if h := c.History; h != nil {
		out = append(out, target{name, fmt.Sprintf("allocation p50 with %d lines / fresh product", h.Lines), "<= 1.2×",
			fmt.Sprintf("%.2f×", h.RatioP50), h.RatioP50 > 0 && h.RatioP50 <= 1.2})
	}
	return out
}

func targetsTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| configuration | figure | target | measured | met |\n|---|---|---|---:|:---:|\n")
	for _, t := range targets(r) {
		met := "no"
		if t.met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.config, t.what, t.want, t.got, met)
	}
	return b.String()
}

func roundsTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| configuration | what | round | req/s | p50 (ms) | p99 (ms) | 201 | 409 | errors | products read again after a lock wait |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Configs {
		for _, x := range c.Rounds {
			fmt.Fprintf(&b, "| %s | service (HTTP) | %d | %s | %s | %s | %d | %d | %d | |\n", c.Name, x.Round, f0(x.Throughput), f2(x.P50ms), f2(x.P99ms), x.Created, x.OutOfStock, x.Errors)
		}
		if c.Ceiling != nil {
			for _, x := range c.Ceiling.Rounds {
				fmt.Fprintf(&b, "| %s | ceiling (database/sql) | %d | %s | %s | %s | %d | %d | %d | %d |\n", c.Name, x.Round, f0(x.Throughput), f2(x.P50ms), f2(x.P99ms), x.Created, x.OutOfStock, x.Errors, x.Reloads)
			}
		}
		for _, f := range c.Flash {
			for _, x := range f.Rounds {
				fmt.Fprintf(&b, "| %s | flash sale, %s | %d | %s | %s | %s | %d | %d | %d | |\n", c.Name, f.Name, x.Round, f0(x.Throughput), f2(x.P50ms), f2(x.P99ms), x.Created, x.OutOfStock, x.Errors)
			}
		}
	}
	return b.String()
}

func relativeTo(markdownPath, target string) string {
	rel, err := filepath.Rel(filepath.Dir(markdownPath), target)
	if err != nil {
		return target
	}
	return filepath.ToSlash(rel)
}

func resultsSection(o options, r *Results) string {
	m, s := r.Machine, r.Settings
	var b strings.Builder
	b.WriteString(resultsStart + "\n\n")
	fmt.Fprintf(&b, "Measured %s by `%s` (the load generator ran for %.0f s).\n\n", r.Started, r.Command, r.Seconds)
	fmt.Fprintf(&b, "**Machine:** %s, %d cores (`nproc`), %d GiB; %s; %s; %s; %s. Service, databases and load generator share the cores.\n\n",
		m.CPU, m.Cores, m.MemoryGiB, m.OS, m.Go, m.PostgreSQL, m.Redis)
	if r.SpeedAtStart != nil && r.SpeedAtEnd != nil {
		fmt.Fprintf(&b, "**Machine's speed during the run** (it drifts; see *Noise*): at the start %s; at the end %s.\n\n", r.SpeedAtStart, r.SpeedAtEnd)
	}
	if len(s.ServiceEnv) > 0 {
		fmt.Fprintf(&b, "**The services' environment** (beside the configuration's): `%s`.\n\n", strings.Join(s.ServiceEnv, " "))
	}
	uniform := resultsTable(r) != ""
	if uniform {
		fmt.Fprintf(&b, "**Load:** closed loop, %d concurrent keep-alive clients; warm-up %.0f s, then %d rounds of %.0f s (ceiling: %.0f s), medians reported. "+
			"Each round has fresh skus: %d skus of 3 batches each; %.0f %% of requests on %d hot skus, %.0f %% on %d skus that run out of stock at once (409), "+
			"the rest spread over the others; 1 to %d units per line; every order id unique. Errors are answers other than 201 and 409. "+
			"Event round trip: %d timed events (after warm-up ones), one at a time.\n\n",
			s.Concurrency, s.WarmupSeconds, s.Rounds, s.RoundSeconds, s.CeilingSeconds, s.SKUs, 100*s.HotShare, s.HotSKUs, 100*s.ScarceShare, s.ScarceSKUs, s.MaxQty, s.RoundTrips)
		b.WriteString(resultsTable(r))
		b.WriteString("\n")
	}
	if flash := flashTable(r); flash != "" {
		fl := s.Flash
		fmt.Fprintf(&b, "**Flash sale** (issue 12), on a service of its own per configuration (fresh schema): %d closed-loop clients order 1 unit each, "+
			"spread over 1 or 5 hot skus, from one process or from two on one database and broker (half the clients on each). "+
			"A round sends %d orders (or stops after %.0f s) against %.0f %% as many units in stock, 3 batches per sku, so it sells out part-way; "+
			"%d rounds per case, fresh skus each, medians of req/s, latency (201 and 409, as above) and CPU per request (CPU time from /proc over the round, over its 201 and 409 answers; the service's is both processes' when there are two), answers summed over the rounds.\n\n",
			fl.Clients, fl.Orders, fl.RoundSeconds, 100*fl.StockShare, fl.Rounds)
		b.WriteString(flash)
		b.WriteString("\n")
	}
	if history := historyTable(r); history != "" {
		fmt.Fprintf(&b, "**Long history** (issue 12): allocation of 1 unit, one request at a time, alternately on a product whose warehouse batch holds %d lines "+
			"(written into the database directly) and on a fresh product with the same batches, for %.0f s on the same service.\n\n",
			s.History.Lines, s.History.Seconds)
		b.WriteString(history)
		b.WriteString("\n")
	}
	b.WriteString(targetsTable(r))
	if uniform {
		b.WriteString("\nWhere the two cores went (CPU time from /proc over each round; the ceiling's \"load generator\" is its database/sql client):\n\n")
		b.WriteString(cpuTable(r))
	}
	b.WriteString("\n")
	b.WriteString("<details><summary>Every round</summary>\n\n")
	b.WriteString(roundsTable(r))
	b.WriteString("\n</details>\n\n")
	if o.resultsPath != "" {
		fmt.Fprintf(&b, "All figures: [%s](%s).\n\n", filepath.Base(o.resultsPath), relativeTo(o.markdownPath, o.resultsPath))
	}
	b.WriteString(resultsEnd)
	return b.String()
}

// rewriteSection replaces the text between the markers, or appends the
// section when the file has none (or does not exist).
func rewriteSection(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(data)
	startMarker := strings.Split(resultsStart, " — ")[0]
	i := strings.Index(text, startMarker)
	j := strings.Index(text, resultsEnd)
	switch {
	case i >= 0 && j > i:
		text = text[:i] + section + text[j+len(resultsEnd):]
	case text == "":
		text = "# Benchmarks\n\n" + section + "\n"
	default:
		text = strings.TrimRight(text, "\n") + "\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(text), 0o644)
}
