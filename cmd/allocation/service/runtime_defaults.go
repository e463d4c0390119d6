package service

import (
	"runtime"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target (GOGC) unless the
// environment sets GOGC. Allocation is cheap and short-lived per request
// and the heap is small; collecting less often gave 13-35 % more
// throughput in memory (BENCHMARKS.md).
const DefaultGCPercent = 400

// MinProcs is the fewest Ps (GOMAXPROCS) the service runs with unless the
// environment sets GOMAXPROCS. On a small machine the service shares its
// cores with PostgreSQL, Redis and its clients; with one P per core, a
// thread the kernel deschedules keeps its P, and the goroutines queued on
// it wait while a core idles. With 4 Ps on 2 cores, the benchmark's idle
// CPU went from ~20 % to none: +18 % requests/s in memory, +10 % on
// PostgreSQL/Redis (BENCHMARKS.md). Machines with more cores keep Go's
// default, one P per core.
const MinProcs = 4

// ApplyRuntimeDefaults sets DefaultGCPercent and at least MinProcs, each
// unless the environment sets it: the operator's choice wins.
func ApplyRuntimeDefaults(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < MinProcs {
		runtime.GOMAXPROCS(MinProcs)
	}
}
