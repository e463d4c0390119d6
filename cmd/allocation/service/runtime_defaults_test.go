package service

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestApplyRuntimeDefaults(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(100)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})

	tests := []struct {
		name      string
		env       map[string]string
		startWith int
		wantProcs int
		wantGC    int
	}{
		{name: "unset on a small machine", startWith: 2, wantProcs: MinProcs, wantGC: DefaultGCPercent},
		{name: "unset on a large machine", startWith: 8, wantProcs: 8, wantGC: DefaultGCPercent},
		{name: "the operator's settings win", env: map[string]string{"GOGC": "100", "GOMAXPROCS": "2"}, startWith: 2, wantProcs: 2, wantGC: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GOMAXPROCS(tt.startWith)
			debug.SetGCPercent(100)
			ApplyRuntimeDefaults(func(k string) string { return tt.env[k] })
			if got := runtime.GOMAXPROCS(0); got != tt.wantProcs {
				t.Errorf("GOMAXPROCS %d, want %d", got, tt.wantProcs)
			}
			if got := debug.SetGCPercent(100); got != tt.wantGC {
				t.Errorf("GOGC %d, want %d", got, tt.wantGC)
			}
		})
	}
}
