package app

import (
	"strconv"
	"unicode/utf8"
)

// Sizes of what comes from outside and is repeated on every message and
// log line about it: a correlation id sent by a client or another service,
// and the reason a message is parked (which quotes the error, and so may
// quote the input: a 5 MB batchref made a 5 MB reason).
const (
	// MaxCorrelationIDBytes: longer inbound correlation ids (HTTP
	// X-Correlation-ID, the correlation_id of an inbound message) are cut
	// to this many bytes.
	MaxCorrelationIDBytes = 128
	// MaxPoisonReasonBytes: longer parking reasons are cut to this many
	// bytes, with a note of how much was cut.
	MaxPoisonReasonBytes = 2048
)

// BoundCorrelationID cuts an inbound correlation id to
// MaxCorrelationIDBytes, at a character boundary.
func BoundCorrelationID(id string) string { return cutUTF8(id, MaxCorrelationIDBytes) }

// TruncateForLog cuts s to at most max bytes (and a few more for the
// note), at a character boundary, saying how many bytes were cut.
func TruncateForLog(s string, max int) string {
	if len(s) <= max {
		return s
	}
	kept := cutUTF8(s, max)
	return kept + "…(" + strconv.Itoa(len(s)-len(kept)) + " more bytes)"
}

// cutUTF8 returns the longest prefix of s of at most max bytes that does
// not end inside a UTF-8 sequence.
func cutUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
