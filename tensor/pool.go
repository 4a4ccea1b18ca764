package tensor

import (
	"sync"
)

// A task is work cut into parts that may run on different threads.
type task interface {
	run(part, parts int)
}

type job struct {
	t           task
	part, parts int
	wg          *sync.WaitGroup
}

// The worker pool: a fixed set of goroutines, started on demand up to the
// largest GOMAXPROCS-1 any call has asked for, taking parts from one
// channel. The calling goroutine runs part 0 itself.
var pool struct {
	mu      sync.Mutex
	started int
	jobs    chan job
}

var waitGroups = sync.Pool{New: func() any { return new(sync.WaitGroup) }}

// parallel runs t.run(p, parts) for p < parts and returns when all are
// done. It never starts a goroutine per call: parts 1.. go to the pool.
func parallel(parts int, t task) {
	if parts <= 1 {
		t.run(0, 1)
		return
	}
	ensureWorkers(parts - 1)
	wg := waitGroups.Get().(*sync.WaitGroup)
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		pool.jobs <- job{t: t, part: p, parts: parts, wg: wg}
	}
	t.run(0, parts)
	wg.Wait()
	waitGroups.Put(wg)
}

func ensureWorkers(n int) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.jobs == nil {
		pool.jobs = make(chan job, 64)
	}
	for ; pool.started < n; pool.started++ {
		go worker(pool.jobs)
	}
}

func worker(jobs <-chan job) {
	for j := range jobs {
		j.t.run(j.part, j.parts)
		j.wg.Done()
	}
}
