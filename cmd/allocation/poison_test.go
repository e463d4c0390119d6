package main

import "testing"

func TestDefaultServiceURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
		"":               "http://127.0.0.1:8080",
		"localhost:8081": "http://localhost:8081",
	} {
		if got := defaultServiceURL(addr); got != want {
			t.Errorf("defaultServiceURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
