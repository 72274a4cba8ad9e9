// Package procstat reads this process's resource use: CPU time from
// getrusage, peak RSS, Go heap counters, and the machine's load average.
package procstat
