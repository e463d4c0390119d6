package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU accounting from /proc: where the two cores went during a round —
// the service, the load generator (this process), PostgreSQL and the broker
// server (Redis or NATS).
// Clock ticks are 1/100 s on Linux; over rounds of seconds that is precise
// enough. Elsewhere the figures are simply zero.
const clockTick = 10 * time.Millisecond

// cpuSample is CPU time used so far, by whom.
type cpuSample struct {
	at       time.Time
	service  time.Duration
	bench    time.Duration
	postgres time.Duration
	redis    time.Duration
	// busy is the whole machine's non-idle CPU time (/proc/stat).
	busy time.Duration
}

// CPUShare is CPU time over a round, in cores (1.0 = one core busy).
type CPUShare struct {
	Service  float64 `json:"service_cores"`
	Bench    float64 `json:"load_generator_cores"`
	Postgres float64 `json:"postgres_cores"`
	// Redis is the broker server's: redis-server's, or nats-server's (the
	// key keeps its name, so that earlier results still read).
	Redis float64 `json:"redis_cores"`
	// Other is everything else the machine ran meanwhile (the kernel's
	// network stack included); a large value means a noisy neighbour.
	Other float64 `json:"other_cores"`
	// ServiceMicros is service CPU per answered request, in µs.
	ServiceMicros float64 `json:"service_cpu_us_per_request"`
	// PostgresMicros is PostgreSQL CPU per answered request, in µs.
	PostgresMicros float64 `json:"postgres_cpu_us_per_request"`
}

// procCPU reads utime+stime of /proc/<pid>/stat, and the command name.
func procCPU(pid string) (string, time.Duration, bool) {
	comm, self, _, ok := procCPUWithChildren(pid)
	return comm, self, ok
}

// procCPUWithChildren also returns cutime+cstime: the CPU time of the
// children the process has waited for. PostgreSQL's postmaster reaps its
// backends, so a backend that ended between two samples still counts.
func procCPUWithChildren(pid string) (string, time.Duration, time.Duration, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(data)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, 0, false
	}
	comm := s[open+1 : closing]
	fields := strings.Fields(s[closing+1:])
	// fields[0] is field 3 (state); utime, stime, cutime and cstime are
	// fields 14 to 17.
	if len(fields) < 15 {
		return comm, 0, 0, false
	}
	var ticks [4]int64
	for i := range ticks {
		n, err := strconv.ParseInt(fields[11+i], 10, 64)
		if err != nil {
			return comm, 0, 0, false
		}
		ticks[i] = n
	}
	return comm, time.Duration(ticks[0]+ticks[1]) * clockTick, time.Duration(ticks[2]+ticks[3]) * clockTick, true
}

// sampleCPU reads the service's (the sum of its processes', when the
// flash sale runs two), this process's, and every postgres and
// redis-server and nats-server process's CPU time, PostgreSQL's ended backends included.
func sampleCPU(servicePIDs ...int) cpuSample {
	s := cpuSample{at: time.Now()}
	for _, pid := range servicePIDs {
		if pid > 0 {
			_, t, _ := procCPU(strconv.Itoa(pid))
			s.service += t
		}
	}
	_, s.bench, _ = procCPU("self")
	s.busy = machineBusy()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return s
	}
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		comm, t, children, ok := procCPUWithChildren(name)
		if !ok {
			continue
		}
		switch {
		case comm == "postgres":
			s.postgres += t + children
		case strings.HasPrefix(comm, "redis-server"), strings.HasPrefix(comm, "nats-server"):
			s.redis += t
		}
	}
	return s
}

func cpuShare(before, after cpuSample, answered int) CPUShare {
	wall := after.at.Sub(before.at).Seconds()
	if wall <= 0 {
		return CPUShare{}
	}
	c := CPUShare{
		Service:  (after.service - before.service).Seconds() / wall,
		Bench:    (after.bench - before.bench).Seconds() / wall,
		Postgres: (after.postgres - before.postgres).Seconds() / wall,
		Redis:    (after.redis - before.redis).Seconds() / wall,
	}
	c.Other = max(0, (after.busy-before.busy).Seconds()/wall-c.Service-c.Bench-c.Postgres-c.Redis)
	if answered > 0 {
		c.ServiceMicros = float64((after.service-before.service)/time.Microsecond) / float64(answered)
		c.PostgresMicros = float64((after.postgres-before.postgres)/time.Microsecond) / float64(answered)
	}
	return c
}

// machineBusy is the CPU time all cores spent not idle (nor waiting for
// I/O) since boot, from the first line of /proc/stat.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		// user nice system idle iowait irq softirq steal (guest time is
		// already in user).
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return time.Duration(busy) * clockTick
}
