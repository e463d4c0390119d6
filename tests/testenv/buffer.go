package testenv

import (
	"bytes"
	"strings"
	"sync"
)

// LockedBuffer is a bytes.Buffer safe for concurrent writes and reads:
// where a logger or a process writes while the test reads.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail is the last n lines written.
func (b *LockedBuffer) Tail(n int) string {
	lines := strings.SplitAfter(b.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-n-1):], "")
}
