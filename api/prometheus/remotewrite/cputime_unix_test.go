//go:build unix

package remotewrite

import (
	"syscall"
	"time"
)

// cpuTime is the process' user+system CPU time, for benchmarks on a shared
// machine where wall time counts other processes' turns.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
