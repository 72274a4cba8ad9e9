package procstat

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Sample is one reading of the process's counters.
type Sample struct {
	CPU       time.Duration // user + system CPU time of the whole process
	Mallocs   uint64        // cumulative heap objects allocated (runtime.MemStats.Mallocs)
	HeapInuse uint64        // bytes in in-use heap spans
	PeakRSS   uint64        // peak resident set size in bytes
}

// Read takes a Sample. It stops the world briefly (runtime.ReadMemStats).
func Read() (Sample, error) {
	cpu, maxrss, err := rusage()
	if err != nil {
		return Sample{}, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Sample{CPU: cpu, Mallocs: ms.Mallocs, HeapInuse: ms.HeapInuse, PeakRSS: maxrss}, nil
}

func rusage() (cpu time.Duration, maxrss uint64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, fmt.Errorf("getrusage: %w", err)
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// Linux reports ru_maxrss in KiB.
	return cpu, uint64(ru.Maxrss) * 1024, nil
}

// LoadAvg returns the first three fields of /proc/loadavg ("1m 5m 15m"), or
// "" where that file does not exist.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// MiB converts bytes to mebibytes.
func MiB(b uint64) float64 { return float64(b) / (1 << 20) }
