package testenv

import (
	"regexp"
	"strconv"
	"testing"
)

// MetricValue reads one sample of a Prometheus text exposition (0 when the
// series is absent).
func MetricValue(t testing.TB, exposition []byte, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindSubmatch(exposition)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
