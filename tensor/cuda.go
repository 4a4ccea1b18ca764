package tensor

import (
	"errors"
	"runtime"
	"sync"

	"github.com/graftml/graft/kernels/cuda"
)

// CUDA is the backend on an NVIDIA GPU: graft's CUDA kernels (package
// kernels/cuda), queued in order on one stream of the device's primary
// context.
//
// Tensors are device-resident under it. Every tensor created while CUDA is
// the default backend (Zeros, FromSlice, Clone, …) has a device mirror,
// shared by its views, that is allocated on its first use by an operation
// and freed (into a caching allocator) when the tensor is collected. Each
// side knows whether it holds the current values: an operation uploads an
// input only when the host holds newer values than the device, and writes
// its outputs on the device alone; Data, At and String copy a tensor back
// only when the device holds newer values. So a training step copies the
// batch in and the loss out, and nothing else: DeviceStats counts the
// copies.
//
// Data hands out the host slice for reading and writing, so it marks the
// host as holding the current values: call it again after any operation
// and before writing through the slice (a write through a slice obtained
// before an operation wrote the tensor is lost). Operations from several
// goroutines are queued in turn; a tensor written by one goroutine must
// not be used by another at the same time, as on the CPU.
//
// Softmax over an axis that is not the last, and a few degenerate shapes
// (BatchNormTrain of no rows, pooling of no pixels, Pad beyond 8
// dimensions), run on the CPU: they copy their inputs to the host and
// leave their outputs there. Every other operation runs on the GPU.
//
// The CPU and Reference backends work on host slices: given a tensor that
// follows the default backend and whose current values a GPU holds, they
// bring it to the host first (and their writes are what the GPU reads
// next); a tensor placed on a CUDA backend (MoveTo) is refused by the CPU
// backend, naming both.
//
// An operation that fails on the device (out of memory, a launch error)
// panics with a *DeviceError. Make one with NewCUDA; the default backend
// is chosen at start (see DeviceReport).
type CUDA struct{ g *gpu }

// DeviceError is the panic value of a backend operation that failed on its
// device.
type DeviceError struct {
	Op  string // the operation
	Err error  // the driver's or the kernel call's error
}

func (e *DeviceError) Error() string { return "tensor." + e.Op + " on the GPU: " + e.Err.Error() }

// Unwrap returns the device's error.
func (e *DeviceError) Unwrap() error { return e.Err }

// GPUStats counts a CUDA backend's copies between host and device and
// its device memory.
type GPUStats struct {
	HostToDevice, DeviceToHost           int64 // copies
	HostToDeviceBytes, DeviceToHostBytes int64
	Memory                               cuda.AllocStats
}

// gpu is the state of a CUDA backend.
type gpu struct {
	info   cuda.Info
	ctx    cuda.Context
	k      *cuda.Kernels
	alloc  *cuda.Allocator
	stream cuda.Stream

	mu      sync.Mutex // held by every operation, from queueing to return
	stats   GPUStats
	scratch cuda.Block // labels (int32) and the loss, for SoftmaxCrossEntropy
	labels  []int32
	loss    [1]float32 // the loss read back (on the heap, with g)
	// The mirrors of the operation under way: live keeps them (so their
	// memory) from being collected until it is queued; pending are its
	// outputs, marked device-current once the kernel is queued.
	live, pending []*mirror
}

// CUDAOptions say which driver library and device a CUDA backend opens.
type CUDAOptions struct {
	// Library is the driver library: "" for the one this process has
	// loaded already, else GRAFT_CUDA_LIB's, else libcuda.so.1. A process
	// loads one driver library (see cuda.LoadLibrary).
	Library string
	// Device is the GPU's ordinal, from 0.
	Device int
	// MemoryLimit caps the device memory the backend holds (in use and
	// cached), in bytes; past it an operation fails as on a full device.
	// 0: no cap but the device's.
	MemoryLimit int64
}

// NewCUDA opens device 0 with the process's driver library (GRAFT_CUDA_LIB,
// else libcuda.so.1) and loads graft's kernels into its primary context:
// NewCUDAWith(CUDAOptions{}).
func NewCUDA() (CUDA, error) { return NewCUDAWith(CUDAOptions{}) }

// NewCUDAWith makes a CUDA backend on the device and driver library opts
// name. It fails when the driver library cannot be loaded (or another is
// loaded already), the device does not answer, or the GPU is older than
// the kernels (compute capability 8.0). Each call makes a backend of its
// own, with its own stream and memory cache, on the device's primary
// context; tensors of one cannot be given to another (MoveTo them).
func NewCUDAWith(opts CUDAOptions) (CUDA, error) {
	if err := loadDriver(opts.Library); err != nil {
		return CUDA{}, err
	}
	info, err := cuda.ProbeDevice(opts.Device)
	if err != nil {
		return CUDA{}, err
	}
	c, err := newGPU(info)
	if err == nil && opts.MemoryLimit > 0 {
		c.g.alloc.SetLimit(opts.MemoryLimit)
	}
	return c, err
}

// loadDriver binds the driver library named as in CUDAOptions.Library:
// library, or the process's (cuda.Load) when it is "".
func loadDriver(library string) error {
	if library != "" {
		return cuda.LoadLibrary(library)
	}
	return cuda.Load()
}

func newGPU(info cuda.Info) (CUDA, error) {
	dev, err := cuda.GetDevice(info.Ordinal)
	if err != nil {
		return CUDA{}, err
	}
	ctx, err := dev.PrimaryContext()
	if err != nil {
		return CUDA{}, err
	}
	g := &gpu{info: info, ctx: ctx}
	err = ctx.Do(func() error {
		var err error
		if g.k, err = cuda.LoadKernels(ctx); err != nil {
			return err
		}
		g.stream, err = cuda.NewStream(1) // CU_STREAM_NON_BLOCKING
		return err
	})
	if err != nil {
		return CUDA{}, errors.Join(err, ctx.Release())
	}
	g.alloc = cuda.NewAllocator(ctx)
	return CUDA{g}, nil
}

// Name says which GPU runs the operations.
func (c CUDA) Name() string { return "cuda: " + c.g.info.Name }

// Stats returns the backend's copies and memory so far.
func (c CUDA) Stats() GPUStats {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	s := c.g.stats
	s.Memory = c.g.alloc.Stats()
	return s
}

// Synchronize waits until every queued operation has finished; timing a
// GPU needs it (an operation returns once queued).
func (c CUDA) Synchronize() {
	g := c.g
	g.begin()
	defer g.end()
	g.check("Synchronize", g.stream.Synchronize())
}

// Synchronize waits until the default backend has finished every queued
// operation: operations on a GPU return once queued, so timing one needs
// it. It does nothing on the CPU.
func Synchronize() {
	if g := activeGPU(); g != nil {
		CUDA{g}.Synchronize()
	}
}

// DeviceStats returns the default backend's copies between host and device
// and its device memory; all zero on the CPU.
func DeviceStats() GPUStats {
	if g := activeGPU(); g != nil {
		return CUDA{g}.Stats()
	}
	return GPUStats{}
}

// activeGPU returns the default backend's GPU, or nil on the CPU.
func activeGPU() *gpu {
	if c, ok := Default().(CUDA); ok {
		return c.g
	}
	return nil
}

// begin makes the GPU current on this goroutine's OS thread and holds the
// backend's lock; end undoes both.
func (g *gpu) begin() {
	g.mu.Lock()
	if err := g.current(); err != nil {
		g.mu.Unlock()
		panic(&DeviceError{"begin", err})
	}
}

func (g *gpu) end() {
	clear(g.live)
	g.live, g.pending = g.live[:0], g.pending[:0]
	runtime.UnlockOSThread()
	g.mu.Unlock()
}

// current locks the goroutine to its OS thread and makes the GPU's
// context current there; runtime.UnlockOSThread undoes the lock, which a
// failure has already undone.
func (g *gpu) current() error {
	runtime.LockOSThread()
	err := g.ctx.SetCurrent()
	if err != nil {
		runtime.UnlockOSThread()
	}
	return err
}

// check panics with a *DeviceError on err, leaving the outputs as they
// were; without an error the outputs named so far (out, inout) hold their
// current values on the device alone.
func (g *gpu) check(op string, err error) {
	g.fail(op, err)
	for _, m := range g.pending {
		m.state = onDevice
	}
	g.pending = g.pending[:0]
}

// fail panics with a *DeviceError on err.
func (g *gpu) fail(op string, err error) {
	if err != nil {
		panic(&DeviceError{op, err})
	}
}
