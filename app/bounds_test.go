package app

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateForLogKeepsCharactersWholeAndSaysHowMuchWasCut(t *testing.T) {
	if got := TruncateForLog("short", 10); got != "short" {
		t.Fatalf("short string changed: %q", got)
	}
	s := strings.Repeat("é", 10) // 20 bytes
	got := TruncateForLog(s, 5)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "éé…(") || !strings.Contains(got, "(16 more bytes)") {
		t.Fatalf("TruncateForLog = %q", got)
	}
	if got := BoundCorrelationID(strings.Repeat("x", 5000)); len(got) != MaxCorrelationIDBytes {
		t.Fatalf("correlation id of %d bytes kept", len(got))
	}
}
