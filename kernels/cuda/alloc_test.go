package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// fakeDriver stands in for cuMemAlloc and cuMemFree, so that the
// Allocator's logic is tested on every machine. It hands out distinct
// addresses, runs out of memory past limit bytes, and counts what a real
// driver would reject (freeing an address it did not hand out).
type fakeDriver struct {
	mu        sync.Mutex
	next      DevicePtr
	live      map[DevicePtr]uintptr
	used      uintptr
	limit     uintptr
	allocs    int   // calls of alloc, failed ones included
	bad       int   // frees of addresses not live
	allocErr  error // when set, alloc fails with it
	freeErr   error // when set, free fails with it (and frees nothing)
	lastAlloc uintptr
}

func newFakeDriver(limit uintptr) *fakeDriver {
	return &fakeDriver{next: 0x7f0000000000, live: make(map[DevicePtr]uintptr), limit: limit}
}

func (d *fakeDriver) alloc(n uintptr) (DevicePtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.allocs++
	d.lastAlloc = n
	switch {
	case d.allocErr != nil:
		return 0, d.allocErr
	case n == 0:
		return 0, &Error{Code: CodeInvalidValue, Name: "CUDA_ERROR_INVALID_VALUE", Call: "cuMemAlloc_v2"}
	case d.used+n > d.limit:
		return 0, &Error{Code: CodeOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", Call: "cuMemAlloc_v2"}
	}
	p := d.next
	d.next += DevicePtr(n)
	d.live[p] = n
	d.used += n
	return p, nil
}

func (d *fakeDriver) free(p DevicePtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.freeErr != nil {
		return d.freeErr
	}
	n, ok := d.live[p]
	if !ok {
		d.bad++
		return &Error{Code: CodeInvalidValue, Name: "CUDA_ERROR_INVALID_VALUE", Call: "cuMemFree_v2"}
	}
	delete(d.live, p)
	d.used -= n
	return nil
}

// allocator returns an Allocator over d, and checks at the end of t that
// d saw no bad free.
func (d *fakeDriver) allocator(t *testing.T) *Allocator {
	t.Cleanup(func() {
		if d.bad != 0 {
			t.Errorf("the driver got %d frees of addresses it had not handed out", d.bad)
		}
	})
	return newAllocator(d.alloc, d.free)
}

// mustAlloc allocates n bytes from a or fails t.
func mustAlloc(t *testing.T, a *Allocator, n int) Block {
	t.Helper()
	b, err := a.Alloc(n)
	if err != nil {
		t.Fatalf("Alloc(%d): %v", n, err)
	}
	if b.Size < n || b.Size%allocGranule != 0 || b.Ptr == 0 {
		t.Fatalf("Alloc(%d) = %+v", n, b)
	}
	return b
}

// checkStats compares a's stats with want.
func checkStats(t *testing.T, a *Allocator, want AllocStats) {
	t.Helper()
	if got := a.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{1, 512}, {512, 512}, {513, 1024}, {1024, 1024}, {1025, 1536}, {1536, 1536}, {1537, 2048},
		{2049, 2560}, {3000, 3072}, {4000, 4096}, {4097, 5120}, {5121, 6144}, {7169, 8192},
		{100_000, 114688}, {1<<20 - 1, 1 << 20}, {1 << 20, 1 << 20},
		{1<<20 + 1, 1<<20 + 512}, {3<<20 + 100, 3<<20 + 512}, {5 << 20, 5 << 20},
	} {
		if got := sizeClass(c.n); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// Over every size up to 2 MiB: a class is a multiple of 512, at least
	// the size, wastes at most a quarter of it (beyond the 512 rounding),
	// and never decreases; the small sizes fall into few classes.
	classes := map[int]bool{}
	prev := 0
	for n := 1; n <= 2<<20; n++ {
		c := sizeClass(n)
		r := roundUp(n, allocGranule)
		if c%allocGranule != 0 || c < n || c < prev || float64(c) > 1.25*float64(r) {
			t.Fatalf("sizeClass(%d) = %d (after sizeClass(%d) = %d)", n, c, n-1, prev)
		}
		if n > smallAlloc && c != r {
			t.Fatalf("sizeClass(%d) = %d, want the rounded size %d for a large block", n, c, r)
		}
		if n <= smallAlloc {
			classes[c] = true
		}
		prev = c
	}
	if len(classes) > 45 {
		t.Errorf("%d size classes up to 1 MiB, want at most 45 (four per power of two)", len(classes))
	}
	if sizeClass(math.MaxInt-allocGranule+1) != math.MaxInt-allocGranule+1 {
		t.Errorf("sizeClass of the largest size overflows")
	}
}

func TestAllocatorReuse(t *testing.T) {
	d := newFakeDriver(1 << 30)
	a := d.allocator(t)
	b1 := mustAlloc(t, a, 1000)
	if b1.Size != 1024 {
		t.Errorf("Alloc(1000).Size = %d, want 1024", b1.Size)
	}
	checkStats(t, a, AllocStats{InUse: 1024, DriverAllocs: 1})
	a.Free(b1)
	checkStats(t, a, AllocStats{Cached: 1024, DriverAllocs: 1})

	// The same class reuses the block; a held block is not handed out again.
	b2 := mustAlloc(t, a, 700)
	if b2 != b1 {
		t.Errorf("Alloc(700) after freeing %+v = %+v, want the freed block", b1, b2)
	}
	b3 := mustAlloc(t, a, 1000)
	if b3.Ptr == b2.Ptr {
		t.Errorf("Alloc(1000) handed out %#x, which is in use", b3.Ptr)
	}
	checkStats(t, a, AllocStats{InUse: 2048, DriverAllocs: 2, CacheHits: 1})

	// Another class does not reuse it.
	a.Free(b2)
	b4 := mustAlloc(t, a, 1025)
	if b4.Ptr == b2.Ptr || b4.Size != 1536 {
		t.Errorf("Alloc(1025) = %+v, want a new 1536-byte block (%#x is cached as 1024)", b4, b2.Ptr)
	}
	checkStats(t, a, AllocStats{InUse: 1024 + 1536, Cached: 1024, DriverAllocs: 3, CacheHits: 1})

	// Large blocks are reused by exact rounded size.
	l1 := mustAlloc(t, a, 3<<20+1)
	a.Free(l1)
	l2 := mustAlloc(t, a, 3<<20+600)
	if l2.Ptr == l1.Ptr || l2.Size != 3<<20+1024 {
		t.Errorf("Alloc(3 MiB + 600) = %+v, want a new block of 3 MiB + 1024 (%+v is cached)", l2, l1)
	}
	l3 := mustAlloc(t, a, 3<<20+512)
	if l3 != l1 {
		t.Errorf("Alloc(3 MiB + 512) = %+v, want the cached %+v", l3, l1)
	}
	if d.lastAlloc != 3<<20+1024 {
		t.Errorf("the driver was last asked for %d bytes, want 3 MiB + 1024", d.lastAlloc)
	}

	// Most recently freed first, within a class.
	for _, b := range []Block{b3, b4, l2, l3} {
		a.Free(b)
	}
	x := mustAlloc(t, a, 1000)
	y := mustAlloc(t, a, 513)
	z := mustAlloc(t, a, 512)
	if x.Ptr != b3.Ptr || y.Ptr != b1.Ptr || z.Ptr == b1.Ptr || z.Ptr == b3.Ptr {
		t.Errorf("Alloc(1000), Alloc(513), Alloc(512) = %#x, %#x, %#x, want %#x, %#x, then a new block",
			x.Ptr, y.Ptr, z.Ptr, b3.Ptr, b1.Ptr)
	}
	st := a.Stats()
	if st.InUse != 512+1024+1024 || st.Cached != 1536+2*(3<<20)+512+1024 || st.DriverAllocs != 6 || st.CacheHits != 4 {
		t.Errorf("Stats() = %+v", st)
	}
	if d.allocs != 6 || len(d.live) != 6 {
		t.Errorf("the driver made %d allocations, %d live, want 6 and 6", d.allocs, len(d.live))
	}
}

func TestAllocatorEdges(t *testing.T) {
	d := newFakeDriver(1 << 30)
	a := d.allocator(t)
	if b, err := a.Alloc(0); b != (Block{}) || err != nil {
		t.Errorf("Alloc(0) = %+v, %v, want the zero Block and no error", b, err)
	}
	a.Free(Block{}) // does nothing
	for _, n := range []int{-1, math.MinInt, math.MaxInt, math.MaxInt - allocGranule + 2} {
		if b, err := a.Alloc(n); err == nil || !strings.Contains(err.Error(), strconv.Itoa(n)) {
			t.Errorf("Alloc(%d) = %+v, %v, want an error naming the size", n, b, err)
		}
	}
	// Another driver error is returned, wrapped, without touching the cache.
	a.Free(mustAlloc(t, a, 100))
	d.allocErr = &Error{Code: CodeInvalidValue, Call: "cuMemAlloc_v2"}
	_, err := a.Alloc(5000)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidValue || !strings.Contains(err.Error(), "5000") {
		t.Errorf("Alloc(5000) with a failing driver: %v, want its *Error, and the size", err)
	}
	if d.allocs != 2 {
		t.Errorf("the driver was called %d times, want 2 (no retry but on out of memory)", d.allocs)
	}
	checkStats(t, a, AllocStats{Cached: 512, DriverAllocs: 1})
	d.allocErr = nil
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if len(d.live) != 0 {
		t.Errorf("%d blocks left with the driver after Release", len(d.live))
	}
}

func TestAllocatorOutOfMemory(t *testing.T) {
	d := newFakeDriver(8 << 10)
	a := d.allocator(t)
	b1, b2 := mustAlloc(t, a, 4096), mustAlloc(t, a, 4096)
	a.Free(b1)
	a.Free(b2)
	checkStats(t, a, AllocStats{Cached: 8192, DriverAllocs: 2})

	// 2048 bytes do not fit beside the cached 8 KiB: the cache goes back
	// to the driver and the retry succeeds.
	b3 := mustAlloc(t, a, 2048)
	checkStats(t, a, AllocStats{InUse: 2048, DriverAllocs: 3, DriverFrees: 2})
	if d.allocs != 4 || len(d.live) != 1 {
		t.Errorf("the driver had %d allocation calls, %d live blocks, want 4 and 1", d.allocs, len(d.live))
	}

	// A request larger than the device fails after the retry, with the
	// driver's *Error; the cache is released all the same.
	a.Free(mustAlloc(t, a, 1024))
	calls := d.allocs
	_, err := a.Alloc(16 << 10)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeOutOfMemory {
		t.Fatalf("Alloc(16 KiB) of an 8 KiB device: %v, want an out-of-memory *Error", err)
	}
	if !strings.Contains(err.Error(), "16384") || !strings.Contains(err.Error(), "1024 cached bytes") {
		t.Errorf("the error %q does not say the size and what was released", err)
	}
	if d.allocs-calls != 2 {
		t.Errorf("%d driver calls for a failing Alloc, want 2 (one retry)", d.allocs-calls)
	}
	checkStats(t, a, AllocStats{InUse: 2048, DriverAllocs: 4, DriverFrees: 3})

	// A free that fails while releasing is reported with the retry's error.
	a.Free(mustAlloc(t, a, 1024))
	d.freeErr = errors.New("free failed")
	if _, err := a.Alloc(16 << 10); !errors.Is(err, d.freeErr) || !errors.As(err, &e) || e.Code != CodeOutOfMemory {
		t.Errorf("Alloc with a failing free: %v, want both errors", err)
	}
	d.freeErr = nil
	a.Free(b3)
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestAllocatorLimit: SetLimit caps what the Allocator holds from the
// driver (in use and cached) below what the device has; past it, Alloc
// releases the cache, retries, and fails as the driver would.
func TestAllocatorLimit(t *testing.T) {
	d := newFakeDriver(1 << 20)
	a := d.allocator(t)
	a.SetLimit(8 << 10)
	b1 := mustAlloc(t, a, 4096)
	a.Free(mustAlloc(t, a, 4096))
	// 4 KiB in use and 4 KiB cached: 2 KiB more releases the cache first
	b3 := mustAlloc(t, a, 2048)
	checkStats(t, a, AllocStats{InUse: 4096 + 2048, DriverAllocs: 3, DriverFrees: 1})
	calls := d.allocs
	_, err := a.Alloc(4096)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeOutOfMemory || !strings.Contains(err.Error(), "limit of 8192") {
		t.Fatalf("Alloc past the limit: %v, want an out-of-memory *Error naming the limit", err)
	}
	if d.allocs != calls {
		t.Errorf("the driver was called %d times for an Alloc past the limit, want 0", d.allocs-calls)
	}
	a.SetLimit(0) // no limit: the device's memory is what bounds it
	a.Free(mustAlloc(t, a, 64<<10))
	a.Free(b1)
	a.Free(b3)
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestAllocatorRelease(t *testing.T) {
	d := newFakeDriver(1 << 30)
	a := d.allocator(t)
	var held, freed []Block
	for i, n := range []int{1, 600, 5000, 70_000, 1 << 20, 2<<20 + 3, 9 << 20} {
		b := mustAlloc(t, a, n)
		if i%2 == 0 {
			freed = append(freed, b)
		} else {
			held = append(held, b)
		}
	}
	var cached, inUse int64
	for _, b := range freed {
		a.Free(b)
		cached += int64(b.Size)
	}
	for _, b := range held {
		inUse += int64(b.Size)
	}
	checkStats(t, a, AllocStats{InUse: inUse, Cached: cached, DriverAllocs: 7})
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	checkStats(t, a, AllocStats{InUse: inUse, DriverAllocs: 7, DriverFrees: int64(len(freed))})
	for _, b := range freed {
		if _, ok := d.live[b.Ptr]; ok {
			t.Errorf("Release left the freed block %#x with the driver", b.Ptr)
		}
	}
	for _, b := range held {
		if _, ok := d.live[b.Ptr]; !ok {
			t.Errorf("Release gave the block in use %#x back to the driver", b.Ptr)
		}
		a.Free(b) // blocks in use stay valid: they free into the cache
	}
	checkStats(t, a, AllocStats{Cached: inUse, DriverAllocs: 7, DriverFrees: int64(len(freed))})

	// A failing free is reported; the cache is emptied all the same.
	d.freeErr = errors.New("free failed")
	if err := a.Release(); !errors.Is(err, d.freeErr) {
		t.Errorf("Release with a failing free: %v, want its error", err)
	}
	checkStats(t, a, AllocStats{DriverAllocs: 7, DriverFrees: int64(len(freed))})
	if err := a.Release(); err != nil {
		t.Errorf("Release of an empty cache: %v", err)
	}
}

// freePanic returns the message of Free(b)'s panic, or "" if none.
func freePanic(a *Allocator, b Block) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	a.Free(b)
	return ""
}

func TestAllocatorFreePanics(t *testing.T) {
	d := newFakeDriver(1 << 30)
	a := d.allocator(t)
	b := mustAlloc(t, a, 4000)
	if msg := freePanic(a, b); msg != "" {
		t.Fatalf("the first Free panicked: %s", msg)
	}
	for _, c := range []struct {
		name string
		b    Block
		want string
	}{
		{"double free", b, "freed already"},
		{"foreign block", Block{Ptr: 0x1234, Size: 512}, "not from this Allocator"},
		{"wrong size", Block{Ptr: mustAlloc(t, a, 100).Ptr, Size: 1024}, "Alloc made it 512 bytes"},
	} {
		msg := freePanic(a, c.b)
		if hex := fmt.Sprintf("%#x", uintptr(c.b.Ptr)); !strings.Contains(msg, c.want) || !strings.Contains(msg, hex) {
			t.Errorf("%s: Free panicked with %q, want one naming %s and saying %q", c.name, msg, hex, c.want)
		}
	}
	// The Allocator is still usable (its mutex was unlocked) and unchanged.
	checkStats(t, a, AllocStats{InUse: 512, Cached: 4096, DriverAllocs: 2})
	if got := mustAlloc(t, a, 4096); got != b {
		t.Errorf("Alloc(4096) = %+v after the panics, want the cached %+v", got, b)
	}
}

func TestAllocatorConcurrent(t *testing.T) {
	d := newFakeDriver(1 << 40)
	a := d.allocator(t)
	sizes := []int{100, 1000, 5000, 70_000, 1 << 20, 2 << 20}
	var (
		mu    sync.Mutex
		owned = map[DevicePtr]bool{} // blocks some goroutine holds
		wg    sync.WaitGroup
	)
	const workers, rounds = 8, 300
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []Block
			for range rounds {
				if len(mine) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(mine))
					b := mine[i]
					mine = append(mine[:i], mine[i+1:]...)
					mu.Lock()
					delete(owned, b.Ptr)
					mu.Unlock()
					a.Free(b)
					continue
				}
				b, err := a.Alloc(sizes[rng.IntN(len(sizes))])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if owned[b.Ptr] {
					t.Errorf("block %#x handed out while in use", b.Ptr)
				}
				owned[b.Ptr] = true
				mu.Unlock()
				mine = append(mine, b)
			}
			for _, b := range mine {
				mu.Lock()
				delete(owned, b.Ptr)
				mu.Unlock()
				a.Free(b)
			}
		})
	}
	wg.Wait()
	st := a.Stats()
	var driverBytes int64
	for _, n := range d.live {
		driverBytes += int64(n)
	}
	if st.InUse != 0 || st.Cached != driverBytes || st.DriverAllocs != int64(len(d.live)) || st.CacheHits == 0 {
		t.Errorf("Stats() = %+v after all blocks were freed; the driver holds %d blocks, %d bytes", st, len(d.live), driverBytes)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if len(d.live) != 0 {
		t.Errorf("%d blocks left with the driver after Release", len(d.live))
	}
}

// TestAllocatorCUDA runs the Allocator on device 0 (a GPU, or the
// emulator under TestKernelsOnEmulator): blocks hold what is copied into
// them, freed blocks are reused, and an impossible request fails with
// CUDA_ERROR_OUT_OF_MEMORY after releasing the cache. It is skipped where
// Probe finds no device.
func TestAllocatorCUDA(t *testing.T) {
	_, ctx := primaryContext(t)
	a := NewAllocator(ctx)
	defer func() {
		if err := a.Release(); err != nil {
			t.Error(err)
		}
	}()

	// roundTrip fills b's first n floats with seed+i, copies them to the
	// device and back, and checks them.
	roundTrip := func(b Block, n int, seed float32) {
		t.Helper()
		src, dst := make([]float32, n), make([]float32, n)
		for i := range src {
			src[i] = seed + float32(i)
		}
		err := ctx.Do(func() error {
			if err := MemcpyHtoD(b.Ptr, unsafe.Pointer(&src[0]), uintptr(4*n)); err != nil {
				return err
			}
			return MemcpyDtoH(unsafe.Pointer(&dst[0]), b.Ptr, uintptr(4*n))
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			if dst[i] != src[i] {
				t.Fatalf("block %#x: float %d reads back as %v, want %v", b.Ptr, i, dst[i], src[i])
			}
		}
	}
	const large = 3<<20 + 100 // bytes
	small := mustAlloc(t, a, 4000)
	big := mustAlloc(t, a, large)
	if small.Size != 4096 || big.Size != 3<<20+512 || small.Ptr == big.Ptr {
		t.Fatalf("Alloc(4000), Alloc(%d) = %+v, %+v", large, small, big)
	}
	roundTrip(small, 1000, 1)
	roundTrip(big, large/4, -7)
	checkStats(t, a, AllocStats{InUse: 4096 + 3<<20 + 512, DriverAllocs: 2})

	// Freed blocks come back for requests of their class.
	a.Free(small)
	a.Free(big)
	small2, big2 := mustAlloc(t, a, 3900), mustAlloc(t, a, large-50)
	if small2 != small || big2 != big {
		t.Errorf("after Free, Alloc(3900), Alloc(%d) = %+v, %+v, want the freed %+v, %+v", large-50, small2, big2, small, big)
	}
	roundTrip(small2, 975, 1000)
	roundTrip(big2, (large-50)/4, 3)
	checkStats(t, a, AllocStats{InUse: 4096 + 3<<20 + 512, DriverAllocs: 2, CacheHits: 2})

	// An impossible request (a pebibyte) runs out of memory, releasing the
	// cache on the way; blocks in use stay valid.
	a.Free(big2)
	if strconv.IntSize == 64 {
		huge := int(uint64(1) << 50)
		_, err := a.Alloc(huge)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeOutOfMemory {
			t.Errorf("Alloc(1 PiB): %v, want CUDA_ERROR_OUT_OF_MEMORY", err)
		}
		checkStats(t, a, AllocStats{InUse: 4096, DriverAllocs: 2, DriverFrees: 1, CacheHits: 2})
		roundTrip(small2, 1024, 5)
	}
	a.Free(small2)
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.InUse != 0 || st.Cached != 0 {
		t.Errorf("Stats() = %+v after freeing and releasing everything", st)
	}
	if err := ctx.Synchronize(); err != nil {
		t.Error(err)
	}
}
