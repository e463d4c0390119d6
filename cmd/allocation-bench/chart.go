package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

// The chart: three bar panels side by side, one group of bars per
// configuration. Drawn with the standard library only.
var (
	colWhite  = color.RGBA{255, 255, 255, 255}
	colText   = color.RGBA{30, 30, 30, 255}
	colAxis   = color.RGBA{90, 90, 90, 255}
	colGrid   = color.RGBA{225, 225, 225, 255}
	colBlue   = color.RGBA{76, 114, 176, 255}
	colOrange = color.RGBA{221, 132, 82, 255}
	colGray   = color.RGBA{160, 160, 160, 255}
	colRed    = color.RGBA{196, 78, 82, 255}
)

type series struct {
	name  string
	color color.Color
}

type bar struct {
	value float64
	label string
	ok    bool // false: no such figure (drawn as "N/A")
}

type panel struct {
	title   string
	unit    string
	series  []series
	groups  []string
	bars    [][]bar // [group][series]
	targets []targetLine
}

type targetLine struct {
	value float64
	label string
}

const (
	chartW     = 1560
	chartH     = 600
	panelW     = 520
	plotTop    = 130
	plotBottom = 500
)

func drawChart(r *Results) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fillRect(img, 0, 0, chartW, chartH, colWhite)
	title := fmt.Sprintf("ALLOCATION SERVICE: MAKE BENCH, %d CORES, CONCURRENCY %d, MEDIAN OF %d ROUNDS", r.Machine.Cores, r.Settings.Concurrency, r.Settings.Rounds)
	drawTextCentered(img, chartW/2, 18, title, 2, colText)

	var groups []string
	for _, c := range r.Configs {
		groups = append(groups, shortName(c))
	}
	throughput := panel{
		title: "POST /ALLOCATE THROUGHPUT", unit: "REQ/S", groups: groups,
		series: []series{{"SERVICE", colBlue}, {"CEILING (DATABASE/SQL)", colGray}},
	}
	latency := panel{
		title: "POST /ALLOCATE LATENCY", unit: "MS", groups: groups,
		series:  []series{{"P50", colBlue}, {"P99", colOrange}},
		targets: []targetLine{{20, "P99 TARGET (PG) 20"}},
	}
	roundTrip := panel{
		title: "EVENT ROUND TRIP", unit: "MS", groups: groups,
		series: []series{{"P50", colBlue}, {"P99", colOrange}},
	}
	for _, c := range r.Configs {
		ceiling := bar{}
		if c.Ceiling != nil {
			ceiling = bar{value: c.Ceiling.Summary.Throughput, label: kilo(c.Ceiling.Summary.Throughput), ok: true}
		}
		throughput.bars = append(throughput.bars, []bar{{value: c.HTTP.Throughput, label: kilo(c.HTTP.Throughput), ok: true}, ceiling})
		latency.bars = append(latency.bars, []bar{
			{value: c.HTTP.P50ms, label: short(c.HTTP.P50ms), ok: true},
			{value: c.HTTP.P99ms, label: short(c.HTTP.P99ms), ok: true},
		})
		if c.RoundTrip != nil {
			roundTrip.bars = append(roundTrip.bars, []bar{
				{value: c.RoundTrip.P50ms, label: short(c.RoundTrip.P50ms), ok: true},
				{value: c.RoundTrip.P99ms, label: short(c.RoundTrip.P99ms), ok: true},
			})
		} else {
			roundTrip.bars = append(roundTrip.bars, []bar{{}, {}})
		}
	}
	for _, c := range r.Configs {
		switch c.Broker {
		case "redis":
			roundTrip.targets = append(roundTrip.targets, targetLine{15, "REDIS TARGET 15"})
		case "sql":
			roundTrip.targets = append(roundTrip.targets, targetLine{150, "SQL TARGET 150"})
		}
	}
	for i, p := range []panel{throughput, latency, roundTrip} {
		drawPanel(img, i*panelW, p)
	}
	note := "ROUND TRIP OF MEMORY/MEMORY: IN-PROCESS (GOCHANNEL IS NOT REACHABLE FROM OUTSIDE). DASHED: TARGETS."
	drawText(img, 20, chartH-24, note, 1, colAxis)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func shortName(c ConfigResult) string {
	s := map[string]string{"memory": "MEM", "postgres": "PG"}[c.Store]
	return s + "/" + strings.ToUpper(c.Broker)
}

func kilo(x float64) string {
	if x >= 10000 {
		return fmt.Sprintf("%.1fK", x/1000)
	}
	return fmt.Sprintf("%.0f", x)
}

func short(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func drawPanel(img *image.RGBA, x0 int, p panel) {
	left, right := x0+80, x0+panelW-20
	drawTextCentered(img, (left+right)/2, 60, p.title, 2, colText)
	drawText(img, x0+12, plotTop-22, p.unit, 1, colAxis)

	maxV := 0.0
	for _, g := range p.bars {
		for _, b := range g {
			if b.ok {
				maxV = math.Max(maxV, b.value)
			}
		}
	}
	for _, t := range p.targets {
		if t.value <= maxV*2.5 {
			maxV = math.Max(maxV, t.value)
		}
	}
	top := niceCeil(maxV * 1.12)
	yOf := func(v float64) int {
		return plotBottom - int(math.Round(v/top*float64(plotBottom-plotTop)))
	}
	// Grid and y ticks.
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		y := yOf(v)
		fillRect(img, left, y, right-left, 1, colGrid)
		label := short(v)
		if top >= 1000 {
			label = kilo(v)
			if v < 10000 {
				label = fmt.Sprintf("%.0f", v)
			}
		}
		drawText(img, left-8-textWidth(label, 2), y-7, label, 2, colAxis)
	}
	fillRect(img, left, plotTop, 1, plotBottom-plotTop+1, colAxis)
	fillRect(img, left, plotBottom, right-left, 1, colAxis)

	// Bars.
	groupW := (right - left) / max(1, len(p.groups))
	barW := min(56, (groupW-24)/max(1, len(p.series)))
	for gi, g := range p.bars {
		gx := left + gi*groupW
		startX := gx + (groupW-barW*len(p.series)-6*(len(p.series)-1))/2
		for si, b := range g {
			bx := startX + si*(barW+6)
			if !b.ok {
				drawTextCentered(img, bx+barW/2, plotBottom-14, "N/A", 1, colAxis)
				continue
			}
			y := yOf(b.value)
			if y > plotBottom-1 {
				y = plotBottom - 1
			}
			fillRect(img, bx, y, barW, plotBottom-y, p.series[si].color)
			drawTextCentered(img, bx+barW/2, y-18, b.label, 2, colText)
		}
		drawTextCentered(img, gx+groupW/2, plotBottom+12, p.groups[gi], 2, colText)
	}
	// Target lines, dashed.
	for _, t := range p.targets {
		if t.value > top {
			continue
		}
		y := yOf(t.value)
		for x := left; x < right; x += 10 {
			fillRect(img, x, y, 6, 2, colRed)
		}
		drawText(img, left+6, y-10, t.label, 1, colRed)
	}
	// Legend.
	lx := left + 4
	for _, s := range p.series {
		fillRect(img, lx, 92, 14, 14, s.color)
		drawText(img, lx+20, 96, s.name, 1, colText)
		lx += 20 + textWidth(s.name, 1) + 24
	}
}
