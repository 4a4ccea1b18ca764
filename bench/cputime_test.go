package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// threadCPU times a single-threaded benchmark by the CPU time of its OS
// thread (Linux's /proc/thread-self/schedstat), which on a shared machine
// measures better than the wall clock: time spent descheduled does not
// count. start locks the goroutine to its thread; seconds stops the timer
// and returns the CPU seconds since start, or the wall seconds where
// schedstat is missing or the benchmark runs on more than one thread.
// Linux updates the count at scheduler ticks: run for 0.1 s or more.
type threadCPU struct{ t0 int64 }

func startThreadCPU(b *testing.B) *threadCPU {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &threadCPU{t0: threadCPUNanos()}
}

func (c *threadCPU) seconds(b *testing.B) float64 {
	b.StopTimer() // reading schedstat allocates: not part of the benchmark
	if c.t0 < 0 || runtime.GOMAXPROCS(0) != 1 {
		return b.Elapsed().Seconds()
	}
	return float64(threadCPUNanos()-c.t0) / 1e9
}

func threadCPUNanos() int64 {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return v
}
