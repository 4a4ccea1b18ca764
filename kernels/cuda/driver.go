package cuda

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DefaultLibrary is the driver library Load opens unless GRAFT_CUDA_LIB
// names another.
const DefaultLibrary = "libcuda.so.1"

// ErrNoLibrary is matched (errors.Is) by the error Load returns when the
// driver library cannot be opened; the error's text adds dlopen's reason.
var ErrNoLibrary = errors.New("cuda: no driver library")

// Driver result codes that callers may want to tell apart (Error.Code).
const (
	CodeInvalidValue          = 1   // CUDA_ERROR_INVALID_VALUE
	CodeOutOfMemory           = 2   // CUDA_ERROR_OUT_OF_MEMORY
	CodeNotInitialized        = 3   // CUDA_ERROR_NOT_INITIALIZED: cuInit was not called
	CodeNoDevice              = 100 // CUDA_ERROR_NO_DEVICE: a driver, but no usable GPU
	CodeUnsupportedPTXVersion = 222 // CUDA_ERROR_UNSUPPORTED_PTX_VERSION: PTX newer than the driver
	CodeNotFound              = 500 // CUDA_ERROR_NOT_FOUND, e.g. no such kernel in a module
)

// Error is a failed driver call.
type Error struct {
	Code int    // the CUresult
	Name string // its name from cuGetErrorName, e.g. CUDA_ERROR_NO_DEVICE
	Msg  string // its description from cuGetErrorString
	Call string // the driver function that returned it, e.g. cuInit
}

// Error formats e as "cuda: CALL: NAME (CODE): MSG".
func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "CUresult"
	}
	s := fmt.Sprintf("cuda: %s: %s (%d)", e.Call, name, e.Code)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// result is a CUresult, the status every driver function returns.
type result int32

// The driver entry points, set by Load. The versioned (_v2) names are the
// ones cuda.h maps the plain names to.
var (
	cuGetErrorName            func(r result, str **byte) result
	cuGetErrorString          func(r result, str **byte) result
	cuInit                    func(flags uint32) result
	cuDriverGetVersion        func(version *int32) result
	cuDeviceGetCount          func(count *int32) result
	cuDeviceGet               func(dev *Device, ordinal int32) result
	cuDeviceGetName           func(name *byte, n int32, dev Device) result
	cuDeviceGetAttribute      func(v *int32, attr Attribute, dev Device) result
	cuDeviceTotalMem          func(bytes *uint64, dev Device) result
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev Device) result
	cuDevicePrimaryCtxRelease func(dev Device) result
	cuCtxPushCurrent          func(ctx uintptr) result
	cuCtxPopCurrent           func(ctx *uintptr) result
	cuCtxSetCurrent           func(ctx uintptr) result
	cuCtxSynchronize          func() result
	cuMemAlloc                func(p *DevicePtr, bytes uintptr) result
	cuMemFree                 func(p DevicePtr) result
	cuMemcpyHtoD              func(dst DevicePtr, src unsafe.Pointer, bytes uintptr) result
	cuMemcpyDtoH              func(dst unsafe.Pointer, src DevicePtr, bytes uintptr) result
	cuMemcpyDtoD              func(dst, src DevicePtr, bytes uintptr) result
	cuMemcpyHtoDAsync         func(dst DevicePtr, src unsafe.Pointer, bytes uintptr, s uintptr) result
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src DevicePtr, bytes uintptr, s uintptr) result
	cuMemsetD32               func(dst DevicePtr, v uint32, n uintptr) result
	cuStreamCreate            func(s *uintptr, flags uint32) result
	cuStreamDestroy           func(s uintptr) result
	cuStreamSynchronize       func(s uintptr) result
	cuModuleLoadData          func(m *uintptr, image unsafe.Pointer) result
	cuModuleGetFunction       func(f *uintptr, m uintptr, name string) result
	cuModuleUnload            func(m uintptr) result
	cuEventCreate             func(e *uintptr, flags uint32) result
	cuEventRecord             func(e, s uintptr) result
	cuEventSynchronize        func(e uintptr) result
	cuEventElapsedTime        func(ms *float32, start, end uintptr) result
	cuEventDestroy            func(e uintptr) result
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params, extra unsafe.Pointer) result
)

// symbols pairs each entry point with the library symbol it binds.
var symbols = []struct {
	fptr any
	name string
}{
	{&cuGetErrorName, "cuGetErrorName"},
	{&cuGetErrorString, "cuGetErrorString"},
	{&cuInit, "cuInit"},
	{&cuDriverGetVersion, "cuDriverGetVersion"},
	{&cuDeviceGetCount, "cuDeviceGetCount"},
	{&cuDeviceGet, "cuDeviceGet"},
	{&cuDeviceGetName, "cuDeviceGetName"},
	{&cuDeviceGetAttribute, "cuDeviceGetAttribute"},
	{&cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
	{&cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
	{&cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
	{&cuCtxPushCurrent, "cuCtxPushCurrent_v2"},
	{&cuCtxPopCurrent, "cuCtxPopCurrent_v2"},
	{&cuCtxSetCurrent, "cuCtxSetCurrent"},
	{&cuCtxSynchronize, "cuCtxSynchronize"},
	{&cuMemAlloc, "cuMemAlloc_v2"},
	{&cuMemFree, "cuMemFree_v2"},
	{&cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
	{&cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
	{&cuMemcpyDtoD, "cuMemcpyDtoD_v2"},
	{&cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"},
	{&cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"},
	{&cuMemsetD32, "cuMemsetD32_v2"},
	{&cuStreamCreate, "cuStreamCreate"},
	{&cuStreamDestroy, "cuStreamDestroy_v2"},
	{&cuStreamSynchronize, "cuStreamSynchronize"},
	{&cuModuleLoadData, "cuModuleLoadData"},
	{&cuModuleGetFunction, "cuModuleGetFunction"},
	{&cuModuleUnload, "cuModuleUnload"},
	{&cuEventCreate, "cuEventCreate"},
	{&cuEventRecord, "cuEventRecord"},
	{&cuEventSynchronize, "cuEventSynchronize"},
	// cuEventElapsedTime_v2 exists only from CUDA 12.8 drivers on; the
	// original has the same signature and is in every driver.
	{&cuEventElapsedTime, "cuEventElapsedTime"},
	{&cuEventDestroy, "cuEventDestroy_v2"},
	{&cuLaunchKernel, "cuLaunchKernel"},
}

// raw holds the addresses of the entry points called at every operation
// of a backend, which call (a plain purego.SyscallN) reaches without
// allocating.
var raw struct {
	ctxSetCurrent, launchKernel, streamSynchronize    uintptr
	memcpyHtoDAsync, memcpyDtoHAsync, memcpyDtoDAsync uintptr
}

// rawSymbols pairs each raw entry point with its symbol.
var rawSymbols = []struct {
	addr *uintptr
	name string
}{
	{&raw.ctxSetCurrent, "cuCtxSetCurrent"},
	{&raw.launchKernel, "cuLaunchKernel"},
	{&raw.streamSynchronize, "cuStreamSynchronize"},
	{&raw.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"},
	{&raw.memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"},
	{&raw.memcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"},
}

// The driver library this process has bound (see LoadLibrary).
var (
	loadMu     sync.Mutex
	loadedPath string      // "" until a library is bound; loadMu guards it
	bound      atomic.Bool // a library is bound: Load's lock-free fast path, taken at every operation
)

// Load opens the driver library (GRAFT_CUDA_LIB, else libcuda.so.1) and
// binds its entry points, unless a library is bound already (by Load or
// LoadLibrary): then it returns nil. An error matching ErrNoLibrary means
// the library could not be opened; a driver without one of the entry
// points (older than CUDA 11) is an error naming the symbol. A failure is
// not remembered: a later call tries again.
func Load() error {
	if bound.Load() {
		return nil
	}
	path := os.Getenv("GRAFT_CUDA_LIB")
	if path == "" {
		path = DefaultLibrary
	}
	return LoadLibrary(path)
}

// Loaded returns the path of the driver library this process has bound,
// or "" when none is.
func Loaded() string {
	loadMu.Lock()
	defer loadMu.Unlock()
	return loadedPath
}

// LoadLibrary opens the driver library at path (libcuda.so.1, or a
// driver-compatible library such as tools/cudaemu's emulator) and binds
// its entry points. A process binds one driver library, as a C program
// links one: once one is bound, loading it again returns nil, and loading
// another returns an error naming both (after checking the other, so that
// a missing library or symbol is still reported as such). The entry
// points are all looked up before any is bound, so a failed load leaves
// the process as it was.
func LoadLibrary(path string) error {
	loadMu.Lock()
	defer loadMu.Unlock()
	if path == loadedPath {
		return nil
	}
	lib, err := dlopen(path)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(symbols)+len(rawSymbols))
	for _, s := range symbols {
		names = append(names, s.name)
	}
	for _, s := range rawSymbols {
		names = append(names, s.name)
	}
	addrs := make([]uintptr, len(names))
	for i, name := range names {
		if addrs[i], err = lookup(lib, name); err != nil {
			return fmt.Errorf("cuda: %s lacks %s (driver too old?): %v", path, name, err)
		}
	}
	if loadedPath != "" {
		return fmt.Errorf("cuda: the driver library %s is loaded in this process; cannot load %s as well", loadedPath, path)
	}
	for i, s := range symbols {
		bindAddr(s.fptr, addrs[i])
	}
	for i, s := range rawSymbols {
		*s.addr = addrs[len(symbols)+i]
	}
	loadedPath = path
	bound.Store(true)
	return nil
}

// check turns a driver call's result into nil or an *Error, with the name
// and description the driver gives for the code.
func check(call string, r result) error {
	if r == 0 {
		return nil
	}
	e := &Error{Code: int(r), Call: call}
	var s *byte
	if cuGetErrorName(r, &s) == 0 {
		e.Name = goString(s)
	}
	s = nil
	if cuGetErrorString(r, &s) == 0 {
		e.Msg = goString(s)
	}
	return e
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// do loads the driver, makes the driver call f and checks its result
// under the name call. Every exported function goes through it, so none
// can reach an unbound entry point.
func do(call string, f func() result) error {
	if err := Load(); err != nil {
		return err
	}
	return check(call, f())
}

// Init loads the driver and initialises it (cuInit). Every call that
// touches a device needs it first; calling it again is cheap.
func Init() error {
	return do("cuInit", func() result { return cuInit(0) })
}

// DriverVersion returns the CUDA version the driver supports, as
// 1000·major + 10·minor (12020 is 12.2). It does not need Init.
func DriverVersion() (int, error) {
	var v int32
	err := do("cuDriverGetVersion", func() result { return cuDriverGetVersion(&v) })
	return int(v), err
}
