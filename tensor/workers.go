package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// A task is work cut into parts that may run on different threads.
type task interface {
	run(part, parts int)
}

type job struct {
	t           task
	part, parts int
	l           *latch
}

// latch counts a call's outstanding parts: the caller polls n for a while,
// then blocks on wg.
type latch struct {
	n  atomic.Int32
	wg sync.WaitGroup
}

func (l *latch) done() {
	l.n.Add(-1)
	l.wg.Done()
}

// The worker pool: a fixed set of goroutines, started on demand up to the
// largest GOMAXPROCS-1 any call has asked for. The calling goroutine runs
// part 0 itself and queues the others.
//
// An idle worker spins for a while before it parks. Parking on a channel
// alone would make every part wait: the Go scheduler puts a goroutine woken
// by a send in the sender's own run slot, so it would run only once the
// sender blocks, after finishing its own part.
var pool struct {
	mu      sync.Mutex
	queue   []job
	pending atomic.Int32 // len(queue), readable without the lock
	started int
	parked  atomic.Int32
	wake    chan struct{}
}

// spinRounds is how many times an idle worker polls the queue (yielding
// between polls) before it parks: on the order of 100 µs.
const spinRounds = 2000

var latches = freeList[latch]{}

// parallel runs t.run(p, parts) for p < parts and returns when all are
// done. It never starts a goroutine per call: parts 1.. go to the pool.
// Tasks must not call parallel themselves.
func parallel(parts int, t task) {
	if parts <= 1 || serial.Load() > 0 {
		t.run(0, 1)
		return
	}
	spread(parts, t)
}

// spread runs t's parts on the pool, the caller running part 0.
func spread(parts int, t task) {
	ensureWorkers(parts - 1)
	l := latches.Get()
	l.n.Store(int32(parts - 1))
	l.wg.Add(parts - 1)
	pool.mu.Lock()
	for p := 1; p < parts; p++ {
		pool.queue = append(pool.queue, job{t: t, part: p, parts: parts, l: l})
	}
	pool.pending.Add(int32(parts - 1))
	pool.mu.Unlock()
	for n := min(int(pool.parked.Load()), parts-1); n > 0; n-- {
		select {
		case pool.wake <- struct{}{}:
		default:
		}
	}
	t.run(0, parts)
	for i := 0; l.n.Load() > 0 && i < spinRounds; i++ {
		runtime.Gosched()
	}
	l.wg.Wait()
	latches.Put(l)
}

func ensureWorkers(n int) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.wake == nil {
		pool.wake = make(chan struct{}, 1024)
	}
	for ; pool.started < n; pool.started++ {
		go worker()
	}
}

// take pops the oldest queued job, if any.
func take() (job, bool) {
	if pool.pending.Load() == 0 {
		return job{}, false
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if len(pool.queue) == 0 {
		return job{}, false
	}
	j := pool.queue[0]
	n := copy(pool.queue, pool.queue[1:])
	pool.queue[n] = job{}
	pool.queue = pool.queue[:n]
	pool.pending.Add(-1)
	return j, true
}

func worker() {
	for {
		j, ok := take()
		for i := 0; !ok && i < spinRounds; i++ {
			runtime.Gosched()
			j, ok = take()
		}
		if !ok {
			pool.parked.Add(1)
			if j, ok = take(); !ok { // a job queued before we counted as parked
				<-pool.wake
			}
			pool.parked.Add(-1)
			if !ok {
				continue
			}
		}
		j.t.run(j.part, j.parts)
		j.l.done()
	}
}

// goMaxProcs is the number of threads parallel work may use now: one
// inside ForEach.
func goMaxProcs() int {
	if serial.Load() > 0 {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// Threads returns the number of threads an operation called now may use:
// GOMAXPROCS, or 1 inside ForEach.
func Threads() int { return goMaxProcs() }

// serial counts the ForEach calls running: while one runs, every
// operation runs on its calling thread alone.
var serial atomic.Int32

// ForEach runs fn(i) for every i < n, spreading the calls over up to
// GOMAXPROCS threads, and returns when all are done. Inside fn, tensor
// operations run on the calling thread alone, so that n independent
// pieces of work (the chunks of a batch, say) run side by side instead of
// each operation being cut across the threads: one large synchronisation
// instead of one per operation, and each thread's data staying in its own
// cache. While a ForEach runs, operations called from other goroutines
// run on one thread too. fn must be safe to call from several goroutines
// at once. A ForEach inside fn runs its calls in turn.
func ForEach(n int, fn func(i int)) {
	serial.Add(1)
	defer serial.Add(-1)
	parts := min(n, runtime.GOMAXPROCS(0))
	if parts <= 1 || serial.Load() > 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	t := &forEachTask{n: int32(n), fn: fn}
	spread(parts, t)
	if t.panicked != nil {
		panic(t.panicked)
	}
}

// forEachTask hands out the indices of a ForEach one at a time.
type forEachTask struct {
	next     atomic.Int32
	n        int32
	fn       func(int)
	mu       sync.Mutex
	panicked any
}

func (t *forEachTask) run(part, parts int) {
	defer func() {
		if r := recover(); r != nil {
			t.mu.Lock()
			if t.panicked == nil {
				t.panicked = r
			}
			t.mu.Unlock()
			t.next.Store(t.n) // stop handing out work
		}
	}()
	for {
		i := t.next.Add(1) - 1
		if i >= t.n {
			return
		}
		t.fn(int(i))
	}
}

// freeList is sync.Pool's Get and Put without the emptying at every
// garbage collection: the scratch buffers of the operations (megabytes for
// a convolution) stay for the next call instead of being reallocated
// after each collection, so a steady-state training step allocates nothing
// whatever the collector does. The buffers live as long as the process,
// like a caching allocator's.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// Get returns a kept value, or a new zero one.
func (f *freeList[T]) Get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.free)
	if n == 0 {
		return new(T)
	}
	x := f.free[n-1]
	f.free[n-1] = nil
	f.free = f.free[:n-1]
	return x
}

// Put keeps x for a later Get.
func (f *freeList[T]) Put(x *T) {
	f.mu.Lock()
	f.free = append(f.free, x)
	f.mu.Unlock()
}
