package main

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart: three bar panels side by side (throughput with the ceiling,
// HTTP latency, event round trip), one group of bars per configuration,
// dashed lines for the targets. Drawn with gonum/plot.

var (
	colBlue   = color.RGBA{76, 114, 176, 255}
	colOrange = color.RGBA{221, 132, 82, 255}
	colGray   = color.RGBA{160, 160, 160, 255}
	colRed    = color.RGBA{196, 78, 82, 255}
)

type barSeries struct {
	name   string
	color  color.Color
	values plotter.Values // one per configuration; 0 where there is none
}

type chartTarget struct {
	value float64
	label string
}

func drawChart(r *Results) ([]byte, error) {
	configs := uniformConfigs(r)
	var groups []string
	for _, c := range configs {
		groups = append(groups, shortName(c))
	}
	n := len(configs)
	service, ceiling := make(plotter.Values, n), make(plotter.Values, n)
	p50, p99 := make(plotter.Values, n), make(plotter.Values, n)
	rtP50, rtP99 := make(plotter.Values, n), make(plotter.Values, n)
	var rtTargets []chartTarget
	for i, c := range configs {
		service[i] = c.HTTP.Throughput
		if c.Ceiling != nil {
			ceiling[i] = c.Ceiling.Summary.Throughput
		}
		p50[i], p99[i] = c.HTTP.P50ms, c.HTTP.P99ms
		if c.RoundTrip != nil {
			rtP50[i], rtP99[i] = c.RoundTrip.P50ms, c.RoundTrip.P99ms
		}
		switch c.Broker {
		case "redis":
			rtTargets = append(rtTargets, chartTarget{15, "Redis target 15 ms"})
		case "sql":
			rtTargets = append(rtTargets, chartTarget{150, "SQL target 150 ms"})
		}
	}
	panels := []*plot.Plot{}
	for _, spec := range []struct {
		title, unit string
		series      []barSeries
		targets     []chartTarget
	}{
		{"POST /allocate throughput", "requests/s", []barSeries{{"service", colBlue, service}, {"ceiling (database/sql)", colGray, ceiling}}, nil},
		{"POST /allocate latency", "ms", []barSeries{{"p50", colBlue, p50}, {"p99", colOrange, p99}}, []chartTarget{{20, "p99 target (PostgreSQL) 20 ms"}}},
		{"Event round trip (memory: in-process)", "ms", []barSeries{{"p50", colBlue, rtP50}, {"p99", colOrange, rtP99}}, rtTargets},
	} {
		p, err := barPanel(spec.title, spec.unit, groups, spec.series, spec.targets)
		if err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}

	const width, height = 39 * vg.Centimeter, 14 * vg.Centimeter
	canvas := vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
	dc := draw.New(canvas)
	title := fmt.Sprintf("Allocation service, make bench: %d cores, %d clients, median of %d rounds",
		r.Machine.Cores, r.Settings.Concurrency, r.Settings.Rounds)
	titleStyle := plot.New().Title.TextStyle
	dc.FillText(titleStyle, vg.Point{X: width / 2, Y: height - 0.6*vg.Centimeter}, title)
	body := draw.Crop(dc, 0, 0, 0, -1.6*vg.Centimeter)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Centimeter, PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2, PadBottom: vg.Centimeter / 4}
	for i, p := range panels {
		p.Draw(tiles.At(body, i, 0))
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// barPanel draws grouped bars, one group per configuration, and the
// targets as dashed horizontal lines.
func barPanel(title, unit string, groups []string, series []barSeries, targets []chartTarget) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	// Headroom above the tallest bar or target for the legend.
	highest := 0.0
	for _, s := range series {
		for _, v := range s.values {
			highest = max(highest, v)
		}
	}
	for _, t := range targets {
		highest = max(highest, t.value)
	}
	p.Y.Max = highest * 1.45
	width := vg.Points(18)
	for i, s := range series {
		bars, err := plotter.NewBarChart(s.values, width)
		if err != nil {
			return nil, err
		}
		bars.Color = s.color
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(float64(i)-float64(len(series)-1)/2)
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	for _, t := range targets {
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: t.value}, {X: float64(len(groups)) - 0.5, Y: t.value}})
		if err != nil {
			return nil, err
		}
		line.Color = colRed
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(t.label, line)
	}
	p.NominalX(groups...)
	return p, nil
}

func shortName(c ConfigResult) string {
	s := map[string]string{"memory": "mem", "postgres": "pg"}[c.Store]
	return s + "/" + strings.ToLower(c.Broker)
}
