package tests

import (
	"regexp"
	"strconv"
	"testing"
)

// metric reads one sample of a service's /metrics (0 when absent).
func metric(t *testing.T, url, series string) float64 {
	t.Helper()
	body := get(t, url+"/metrics").Body
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
