package tensor

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// TestForEach checks that ForEach calls fn once per index at 1, 2 and 4
// threads, that operations inside run on one thread (goMaxProcs is 1),
// that a ForEach inside fn runs in turn, and that a panic in fn reaches
// the caller, after which ForEach still works.
func TestForEach(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 3, 17} {
			counts := make([]atomic.Int32, n)
			var inner atomic.Int32
			ForEach(n, func(i int) {
				counts[i].Add(1)
				if p := goMaxProcs(); p != 1 {
					t.Errorf("goMaxProcs inside ForEach = %d", p)
				}
				ForEach(2, func(int) { inner.Add(1) })
				// an operation cut into parts runs them all on this thread
				y := Zeros(4096)
				x := Full(-1, 4096)
				reluParallel(cpuKernel(), y.data, x.data)
				for _, v := range y.data {
					if v != 0 {
						t.Fatal("reluParallel inside ForEach")
					}
				}
			})
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Errorf("%d threads, n=%d: fn(%d) called %d times", procs, n, i, c)
				}
			}
			if got := inner.Load(); got != int32(2*n) {
				t.Errorf("%d threads, n=%d: inner calls %d, want %d", procs, n, got, 2*n)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("%d threads: recovered %v, want boom", procs, r)
				}
			}()
			ForEach(8, func(i int) {
				if i == 5 {
					panic("boom")
				}
			})
		}()
		if serial.Load() != 0 {
			t.Errorf("serial = %d after ForEach", serial.Load())
		}
		var sum atomic.Int32
		ForEach(4, func(i int) { sum.Add(int32(i)) })
		if sum.Load() != 6 {
			t.Errorf("ForEach after a panic: sum %d", sum.Load())
		}
		if p := goMaxProcs(); p != procs {
			t.Errorf("goMaxProcs after ForEach = %d, want %d", p, procs)
		}
		runtime.GOMAXPROCS(prev)
	}
}
