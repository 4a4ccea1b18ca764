package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Device is a GPU, numbered from 0 (a CUdevice).
type Device int32

// Attribute names a device property (a CUdevice_attribute).
type Attribute int32

// The device attributes Probe reads.
const (
	AttrMaxThreadsPerBlock           Attribute = 1  // threads per block, at most
	AttrMaxSharedMemoryPerBlock      Attribute = 8  // bytes of shared memory per block without opt-in
	AttrWarpSize                     Attribute = 10 // threads per warp
	AttrMultiprocessorCount          Attribute = 16 // streaming multiprocessors (SMs)
	AttrComputeCapabilityMajor       Attribute = 75 // compute capability, major part
	AttrComputeCapabilityMinor       Attribute = 76 // compute capability, minor part
	AttrMaxSharedMemoryPerBlockOptin Attribute = 97 // bytes of shared memory per block with opt-in
)

// DeviceCount returns how many GPUs the driver sees (after Init).
func DeviceCount() (int, error) {
	var n int32
	err := do("cuDeviceGetCount", func() result { return cuDeviceGetCount(&n) })
	return int(n), err
}

// GetDevice returns the device with the given ordinal (after Init).
func GetDevice(ordinal int) (Device, error) {
	var d Device
	err := do("cuDeviceGet", func() result { return cuDeviceGet(&d, int32(ordinal)) })
	return d, err
}

// Name returns the device's product name.
func (d Device) Name() (string, error) {
	var buf [256]byte
	err := do("cuDeviceGetName", func() result { return cuDeviceGetName(&buf[0], int32(len(buf)), d) })
	if err != nil {
		return "", err
	}
	return goString(&buf[0]), nil
}

// Attribute returns one of the device's properties.
func (d Device) Attribute(a Attribute) (int, error) {
	var v int32
	err := do("cuDeviceGetAttribute", func() result { return cuDeviceGetAttribute(&v, a, d) })
	return int(v), err
}

// TotalMem returns the device's memory in bytes.
func (d Device) TotalMem() (uint64, error) {
	var n uint64
	err := do("cuDeviceTotalMem_v2", func() result { return cuDeviceTotalMem(&n, d) })
	return n, err
}

// PrimaryContext retains the device's primary context, the one the CUDA
// runtime shares; balance it with Context.Release.
func (d Device) PrimaryContext() (Context, error) {
	c := Context{dev: d}
	err := do("cuDevicePrimaryCtxRetain", func() result { return cuDevicePrimaryCtxRetain(&c.h, d) })
	return c, err
}

// Context is a device's primary context (a CUcontext).
type Context struct {
	h   uintptr
	dev Device
}

// Device returns the context's device.
func (c Context) Device() Device { return c.dev }

// Release drops the reference PrimaryContext took.
func (c Context) Release() error {
	return do("cuDevicePrimaryCtxRelease_v2", func() result { return cuDevicePrimaryCtxRelease(c.dev) })
}

// Do runs f with c current: it locks the goroutine to its OS thread,
// pushes c onto that thread's context stack, runs f and pops c again
// (also when f panics). Memory, module, stream, event and launch calls
// belong inside f. f's error comes first; a failed pop is joined to it.
func (c Context) Do(f func() error) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := do("cuCtxPushCurrent_v2", func() result { return cuCtxPushCurrent(c.h) }); err != nil {
		return err
	}
	defer func() {
		var popped uintptr
		err = errors.Join(err, do("cuCtxPopCurrent_v2", func() result { return cuCtxPopCurrent(&popped) }))
	}()
	return f()
}

// SetCurrent makes c the current context of the calling OS thread,
// replacing the top of its stack. It only means something to a goroutine
// that has called runtime.LockOSThread; prefer Do.
func (c Context) SetCurrent() error {
	if err := Load(); err != nil {
		return err
	}
	return check("cuCtxSetCurrent", call(raw.ctxSetCurrent, c.h))
}

// Synchronize waits until all work queued in c has finished.
func (c Context) Synchronize() error {
	return c.Do(func() error { return do("cuCtxSynchronize", func() result { return cuCtxSynchronize() }) })
}

// DevicePtr is an address in device memory (a CUdeviceptr).
type DevicePtr uintptr

// MemAlloc allocates bytes of device memory in the current context.
func MemAlloc(bytes uintptr) (DevicePtr, error) {
	var p DevicePtr
	err := do("cuMemAlloc_v2", func() result { return cuMemAlloc(&p, bytes) })
	return p, err
}

// Free releases memory from MemAlloc; the context it came from must be
// current.
func (p DevicePtr) Free() error {
	return do("cuMemFree_v2", func() result { return cuMemFree(p) })
}

// MemcpyHtoD copies bytes from host memory at src to dst and returns when
// the copy is done.
func MemcpyHtoD(dst DevicePtr, src unsafe.Pointer, bytes uintptr) error {
	err := do("cuMemcpyHtoD_v2", func() result { return cuMemcpyHtoD(dst, src, bytes) })
	runtime.KeepAlive(src)
	return err
}

// MemcpyDtoH copies bytes from src to host memory at dst and returns when
// the copy is done.
func MemcpyDtoH(dst unsafe.Pointer, src DevicePtr, bytes uintptr) error {
	err := do("cuMemcpyDtoH_v2", func() result { return cuMemcpyDtoH(dst, src, bytes) })
	runtime.KeepAlive(dst)
	return err
}

// MemcpyDtoD copies bytes between two device buffers.
func MemcpyDtoD(dst, src DevicePtr, bytes uintptr) error {
	return do("cuMemcpyDtoD_v2", func() result { return cuMemcpyDtoD(dst, src, bytes) })
}

// MemcpyHtoDAsync queues a copy of bytes from host memory at src to dst
// on stream s. Go memory is pageable, so the driver stages it before
// returning; keep src alive and unchanged until s is synchronised all the
// same, as page-locked memory is read later.
func MemcpyHtoDAsync(dst DevicePtr, src unsafe.Pointer, bytes uintptr, s Stream) error {
	if err := Load(); err != nil {
		return err
	}
	err := check("cuMemcpyHtoDAsync_v2", callPtr(raw.memcpyHtoDAsync, uintptr(dst), uintptr(src), bytes, s.h))
	runtime.KeepAlive(src)
	return err
}

// MemcpyDtoHAsync queues a copy of bytes from src to host memory at dst
// on stream s; dst holds the data once s is synchronised.
func MemcpyDtoHAsync(dst unsafe.Pointer, src DevicePtr, bytes uintptr, s Stream) error {
	if err := Load(); err != nil {
		return err
	}
	err := check("cuMemcpyDtoHAsync_v2", callPtr(raw.memcpyDtoHAsync, uintptr(dst), uintptr(src), bytes, s.h))
	runtime.KeepAlive(dst)
	return err
}

// MemcpyDtoDAsync queues a copy of bytes from src to dst, both device
// memory, on stream s.
func MemcpyDtoDAsync(dst, src DevicePtr, bytes uintptr, s Stream) error {
	if err := Load(); err != nil {
		return err
	}
	return check("cuMemcpyDtoDAsync_v2", call(raw.memcpyDtoDAsync, uintptr(dst), uintptr(src), bytes, s.h))
}

// MemsetD32 sets n 32-bit words from dst to v (for float32 data, pass
// math.Float32bits of the value).
func MemsetD32(dst DevicePtr, v uint32, n uintptr) error {
	return do("cuMemsetD32_v2", func() result { return cuMemsetD32(dst, v, n) })
}

// Stream is a queue of device work (a CUstream). The zero Stream is the
// context's default (NULL) stream.
type Stream struct{ h uintptr }

// StreamNonBlocking makes a stream that does not wait for the default
// stream (CU_STREAM_NON_BLOCKING), a flag for NewStream.
const StreamNonBlocking = 1

// NewStream creates a stream in the current context with the given flags
// (0 or StreamNonBlocking).
func NewStream(flags uint32) (Stream, error) {
	var s Stream
	err := do("cuStreamCreate", func() result { return cuStreamCreate(&s.h, flags) })
	return s, err
}

// Synchronize waits until all work queued on s has finished.
func (s Stream) Synchronize() error {
	if err := Load(); err != nil {
		return err
	}
	return check("cuStreamSynchronize", call(raw.streamSynchronize, s.h))
}

// Destroy destroys s once its queued work has finished.
func (s Stream) Destroy() error {
	return do("cuStreamDestroy_v2", func() result { return cuStreamDestroy(s.h) })
}

// Module is loaded device code: PTX, a cubin or a fatbin (a CUmodule).
type Module struct{ h uintptr }

// LoadModule loads device code into the current context. PTX is text and
// must end in a NUL byte for the driver; LoadModule adds one when image
// lacks it (harmless for binary images).
func LoadModule(image []byte) (Module, error) {
	if len(image) == 0 {
		return Module{}, errors.New("cuda: cuModuleLoadData: empty image")
	}
	if image[len(image)-1] != 0 {
		image = append(image[:len(image):len(image)], 0)
	}
	var m Module
	err := do("cuModuleLoadData", func() result { return cuModuleLoadData(&m.h, unsafe.Pointer(&image[0])) })
	runtime.KeepAlive(image)
	return m, err
}

// Function returns the kernel called name (its mangled name for C++,
// the plain one for extern "C" kernels).
func (m Module) Function(name string) (Function, error) {
	var f Function
	err := do("cuModuleGetFunction", func() result { return cuModuleGetFunction(&f.h, m.h, name) })
	if err != nil {
		return f, fmt.Errorf("%w (kernel %q)", err, name)
	}
	return f, nil
}

// Unload unloads m; its functions become invalid.
func (m Module) Unload() error {
	return do("cuModuleUnload", func() result { return cuModuleUnload(m.h) })
}

// Function is a kernel in a loaded module (a CUfunction).
type Function struct{ h uintptr }

// Launch queues fn on stream s with grid×block threads and sharedMem
// bytes of dynamic shared memory. Each of args points to one kernel
// argument's value, in order and of the kernel parameter's exact size:
// for a kernel (float *y, const float *x, int n) pass
// unsafe.Pointer(&yPtr), unsafe.Pointer(&xPtr), unsafe.Pointer(&n) with
// yPtr, xPtr DevicePtr and n int32. The driver copies the values during
// the call, so they may change as soon as Launch returns.
func Launch(fn Function, grid, block [3]uint32, sharedMem uint32, s Stream, args ...unsafe.Pointer) error {
	var params unsafe.Pointer // the void** kernelParams array
	var pin runtime.Pinner    // the array holds Go pointers: pin them for the call
	defer pin.Unpin()
	for i, a := range args {
		if a == nil {
			return fmt.Errorf("cuda: cuLaunchKernel: argument %d is a nil pointer", i)
		}
		pin.Pin(a)
	}
	if len(args) > 0 {
		pin.Pin(&args[0])
		params = unsafe.Pointer(&args[0])
	}
	err := do("cuLaunchKernel", func() result {
		return cuLaunchKernel(fn.h, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedMem, s.h, params, nil)
	})
	runtime.KeepAlive(args)
	return err
}

// Event marks a point in a stream, for timing and waiting (a CUevent).
type Event struct{ h uintptr }

// Flags for NewEvent.
const (
	EventBlockingSync  = 1 // Synchronize blocks the thread instead of spinning
	EventDisableTiming = 2 // no timing data: cheaper, unusable for ElapsedTime
)

// NewEvent creates an event in the current context with the given flags
// (0 for a timing event).
func NewEvent(flags uint32) (Event, error) {
	var e Event
	err := do("cuEventCreate", func() result { return cuEventCreate(&e.h, flags) })
	return e, err
}

// Record queues e on stream s: it completes when the work queued before
// it has.
func (e Event) Record(s Stream) error {
	return do("cuEventRecord", func() result { return cuEventRecord(e.h, s.h) })
}

// Synchronize waits until e has completed.
func (e Event) Synchronize() error {
	return do("cuEventSynchronize", func() result { return cuEventSynchronize(e.h) })
}

// Destroy destroys e.
func (e Event) Destroy() error {
	return do("cuEventDestroy_v2", func() result { return cuEventDestroy(e.h) })
}

// ElapsedTime returns the device time between two completed events
// (resolution about half a microsecond).
func ElapsedTime(start, end Event) (time.Duration, error) {
	var ms float32
	err := do("cuEventElapsedTime", func() result { return cuEventElapsedTime(&ms, start.h, end.h) })
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}
