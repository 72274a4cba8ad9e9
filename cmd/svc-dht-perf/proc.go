package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfUsage returns the CPU time (user + system) and peak RSS (bytes) of
// this process.
func selfUsage() (cpu time.Duration, maxRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, int64(ru.Maxrss) * 1024 // Linux reports KiB
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times: 100 on
// every Linux architecture this project targets.
const clockTicks = 100

// procCPU reads the CPU time (utime + stime) of process pid from
// /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server cpu: %w", err)
	}
	// The command name (field 2) may hold spaces: fields count from after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("server cpu: /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("server cpu: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("server cpu: /proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procRSS reads the current and peak RSS (bytes) of process pid from
// /proc/PID/status.
func procRSS(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, perr := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("server rss: %s: %w", k, perr)
		}
		if k == "VmRSS" {
			rss = n * 1024
		} else {
			peak = n * 1024
		}
	}
	return rss, peak, sc.Err()
}

// metricSum fetches a Prometheus text exposition from url and returns the
// sum of the samples of family name over all its label sets. A family
// without samples is an error when required, else 0 (a counter that has
// not been incremented yet).
func metricSum(ctx context.Context, client *http.Client, url, name string, required bool) (float64, error) {
	v, found, err := metricSample(ctx, client, url, name)
	if err != nil {
		return 0, err
	}
	if !found && required {
		return 0, fmt.Errorf("server metrics: no sample %s at %s", name, url)
	}
	return v, nil
}

// metricSample fetches a Prometheus text exposition from url and returns
// the sum of the samples of family name and whether there was any.
func metricSample(ctx context.Context, client *http.Client, url, name string) (float64, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, fmt.Errorf("server metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("server metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("server metrics: %s: %s", url, resp.Status)
	}
	return scanSum(resp.Body, name)
}

// scanSum sums the samples of family name in a Prometheus text exposition
// and reports whether there was any.
func scanSum(r io.Reader, name string) (sum float64, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			i := strings.LastIndexByte(rest, '}')
			if i < 0 {
				return 0, false, fmt.Errorf("server metrics: %s: unterminated labels", name)
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false, fmt.Errorf("server metrics: %s: no value", name)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, false, fmt.Errorf("server metrics: %s: %w", name, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, false, fmt.Errorf("server metrics: %w", err)
	}
	return sum, found, nil
}
