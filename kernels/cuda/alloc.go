package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// The Allocator's rounding: every size is a multiple of allocGranule, and
// sizes up to smallAlloc fall into size classes.
const (
	allocGranule = 512     // bytes
	smallAlloc   = 1 << 20 // bytes: the largest size that gets a size class
)

// Block is device memory from an Allocator: Size bytes at Ptr. Size is the
// request rounded up to its size class, so at least what was asked for.
// The zero Block is what Alloc(0) returns; freeing it does nothing.
type Block struct {
	Ptr  DevicePtr // the first byte
	Size int       // bytes usable from Ptr
}

// AllocStats counts an Allocator's memory and work (Allocator.Stats).
type AllocStats struct {
	InUse        int64 // bytes in blocks handed out by Alloc and not yet freed
	Cached       int64 // bytes in freed blocks kept for reuse, not yet given back to the driver
	DriverAllocs int64 // successful device allocations (cuMemAlloc)
	DriverFrees  int64 // blocks given back to the driver (cuMemFree) by Release or an out-of-memory retry
	CacheHits    int64 // Allocs served from the cache, with no driver call
}

// Allocator is a caching allocator of device memory in one context, a
// simplified form of PyTorch's: Free keeps a block for a later Alloc of
// the same size class instead of giving it back to the driver, so steady
// work (a training step allocating the same buffers each time) makes no
// driver calls, which are slow (cuMemFree waits for the device).
//
// Sizes are rounded up to a multiple of 512 bytes. Blocks of up to 1 MiB
// then fall into size classes, four per power of two from 2 KiB (512,
// 1024, 1536, 2048, 2560, 3072, 3584, 4096, 5120, …: a quarter more than
// the rounded size at most), so one freed block serves requests of nearby
// sizes; larger blocks are cached by their rounded size alone. Blocks are
// never split or merged.
//
// When the driver is out of memory, Alloc gives the whole cache back to
// it and tries once more. Release gives the cache back on demand; blocks
// in use stay valid.
//
// An Allocator is safe for use by several goroutines at once: one mutex
// guards it, held across the driver calls. Its methods make the context
// current themselves (Context.Do), so they may be called inside or outside
// a Do of the same context. Freeing a block twice, or one that did not
// come from this Allocator, is a programmer error: Free panics, naming
// the pointer. Make one with NewAllocator; the zero Allocator is not
// usable.
type Allocator struct {
	alloc func(bytes uintptr) (DevicePtr, error) // the driver's allocation
	free  func(p DevicePtr) error                // and its release

	mu    sync.Mutex
	limit int64               // bytes the allocator may hold from the driver (in use and cached); 0: no limit
	cache map[int][]DevicePtr // free blocks by size (class), most recently freed last
	live  map[DevicePtr]int   // blocks in use, with their sizes
	stats AllocStats
}

// NewAllocator returns an empty Allocator of device memory in ctx. Call
// Release when done with it; blocks still in use are not freed.
func NewAllocator(ctx Context) *Allocator {
	return newAllocator(
		func(bytes uintptr) (p DevicePtr, err error) {
			err = ctx.Do(func() error {
				var aerr error
				p, aerr = MemAlloc(bytes)
				return aerr
			})
			return p, err
		},
		func(p DevicePtr) error { return ctx.Do(p.Free) },
	)
}

// SetLimit caps the device memory the Allocator holds from the driver (in
// use and cached together) at bytes; 0 or less removes the cap. An Alloc
// beyond it fails as the driver does when the device is full (an *Error
// with CodeOutOfMemory, after releasing the cache and trying again): to
// share a GPU with other work, or to test what a program does when memory
// runs out. Blocks already held are not affected.
func (a *Allocator) SetLimit(bytes int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limit = max(bytes, 0)
}

// driverAlloc is a.alloc within the limit; a.mu is held.
func (a *Allocator) driverAlloc(size int) (DevicePtr, error) {
	if a.limit > 0 && a.stats.InUse+a.stats.Cached+int64(size) > a.limit {
		return 0, &Error{Code: CodeOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", Call: "cuMemAlloc_v2",
			Msg: fmt.Sprintf("%d bytes more would pass the Allocator's limit of %d (%d in use, %d cached)", size, a.limit, a.stats.InUse, a.stats.Cached)}
	}
	return a.alloc(uintptr(size))
}

// newAllocator returns an Allocator over the given driver functions (tests
// pass fakes).
func newAllocator(alloc func(uintptr) (DevicePtr, error), free func(DevicePtr) error) *Allocator {
	return &Allocator{
		alloc: alloc,
		free:  free,
		cache: make(map[int][]DevicePtr),
		live:  make(map[DevicePtr]int),
	}
}

// sizeClass returns the size of the block that serves a request of n > 0
// bytes (at most math.MaxInt-allocGranule+1): n rounded up to a multiple
// of allocGranule and, up to smallAlloc, further up to a multiple of a
// quarter of the power of two at or below it (2ᵏ·{1, 1.25, 1.5, 1.75}),
// where that quarter exceeds allocGranule.
func sizeClass(n int) int {
	n = roundUp(n, allocGranule)
	if n > smallAlloc {
		return n
	}
	step := (1 << (bits.Len(uint(n)) - 1)) / 4 // a quarter of the power of two at or below n
	return roundUp(n, max(step, allocGranule))
}

// roundUp rounds n up to a multiple of m, a power of two.
func roundUp(n, m int) int { return (n + m - 1) &^ (m - 1) }

// Alloc returns a block of at least bytes bytes of device memory, from the
// cache when a freed block of the same size class is there, else from the
// driver. Alloc(0) returns the zero Block and no error. An error from the
// driver wraps its *Error; for CUDA_ERROR_OUT_OF_MEMORY (CodeOutOfMemory)
// that is after the cache was released and the allocation retried. The
// memory is not cleared.
func (a *Allocator) Alloc(bytes int) (Block, error) {
	switch {
	case bytes == 0:
		return Block{}, nil
	case bytes < 0 || bytes > math.MaxInt-allocGranule+1:
		return Block{}, fmt.Errorf("cuda: Allocator.Alloc: cannot allocate %d bytes", bytes)
	}
	size := sizeClass(bytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if free := a.cache[size]; len(free) > 0 {
		p := free[len(free)-1]
		if len(free) == 1 {
			delete(a.cache, size)
		} else {
			a.cache[size] = free[:len(free)-1]
		}
		a.stats.Cached -= int64(size)
		a.stats.CacheHits++
		return a.use(p, size), nil
	}
	p, err := a.driverAlloc(size)
	if e := (*Error)(nil); errors.As(err, &e) && e.Code == CodeOutOfMemory {
		// A failed cuMemFree during the release matters only when the
		// retry fails too (a sticky driver error shows again anyway).
		cached := a.stats.Cached
		rerr := a.release()
		if p, err = a.driverAlloc(size); err != nil {
			if rerr != nil {
				err = errors.Join(err, fmt.Errorf("releasing the cache: %w", rerr))
			}
			return Block{}, fmt.Errorf("cuda: Allocator.Alloc(%d bytes, %d as a block): out of memory also after releasing %d cached bytes: %w",
				bytes, size, cached, err)
		}
	}
	if err != nil {
		return Block{}, fmt.Errorf("cuda: Allocator.Alloc(%d bytes, %d as a block): %w", bytes, size, err)
	}
	a.stats.DriverAllocs++
	return a.use(p, size), nil
}

// use records p as a block of size bytes in use and returns it; a.mu is
// held.
func (a *Allocator) use(p DevicePtr, size int) Block {
	a.live[p] = size
	a.stats.InUse += int64(size)
	return Block{Ptr: p, Size: size}
}

// Free returns b to the cache for a later Alloc; the device memory stays
// allocated until Release. Work queued on the device that still uses b
// must be ordered before any use of the block by its next owner (on one
// stream, it is). Freeing the zero Block does nothing. Free panics, naming
// the pointer, when b is not in use: freed already, not from this
// Allocator, or with another Size than Alloc gave it.
func (a *Allocator) Free(b Block) {
	if b == (Block{}) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	size, ok := a.live[b.Ptr]
	switch {
	case !ok:
		panic(fmt.Sprintf("cuda: Allocator.Free: block %#x (%d bytes) is not in use: freed already, or not from this Allocator",
			uintptr(b.Ptr), b.Size))
	case size != b.Size:
		panic(fmt.Sprintf("cuda: Allocator.Free: block %#x has Size %d, but Alloc made it %d bytes", uintptr(b.Ptr), b.Size, size))
	}
	delete(a.live, b.Ptr)
	a.stats.InUse -= int64(size)
	a.stats.Cached += int64(size)
	a.cache[size] = append(a.cache[size], b.Ptr)
}

// Release gives every cached block back to the driver; blocks in use are
// untouched and may be freed (into the cache) later. The cache is empty
// afterwards even when a driver call fails; the error joins the failures.
func (a *Allocator) Release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.release()
}

// release is Release with a.mu held.
func (a *Allocator) release() error {
	var errs []error
	for size, free := range a.cache {
		for _, p := range free {
			if err := a.free(p); err != nil {
				errs = append(errs, err)
			} else {
				a.stats.DriverFrees++
			}
		}
		delete(a.cache, size)
	}
	a.stats.Cached = 0
	return errors.Join(errs...)
}

// Stats returns the Allocator's current counts.
func (a *Allocator) Stats() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}
