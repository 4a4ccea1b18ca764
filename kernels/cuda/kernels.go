package cuda

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

//go:generate go run ../../tools/gen/cuda -dir .

// fatbin is graft's kernels compiled by tools/gen/cuda from the .cu files
// here: SASS for sm_80 and sm_90, PTX for compute_80 (kernels_gen.go says
// which nvcc built it).
//
//go:embed kernels.fatbin
var fatbin []byte

// FatbinInfo describes the embedded kernel image in one line: the nvcc
// that built it, its targets and size.
func FatbinInfo() string {
	return fmt.Sprintf("%s; %s; %d kernels, %d bytes", fatbinNVCC, fatbinTargets, len(fatbinKernels), len(fatbin))
}

// MinComputeCapability is the oldest GPU the kernels run on, as
// 10·major + minor (8.0: A100): the fatbin holds sm_80/sm_90 SASS and
// compute_80 PTX, which the driver cannot compile for older GPUs.
const MinComputeCapability = 80

// ErrUnsupportedDevice is matched (errors.Is) by LoadKernels' error for a
// GPU older than MinComputeCapability.
var ErrUnsupportedDevice = errors.New("cuda: GPU too old for graft's kernels (need compute capability 8.0)")

// ErrNotLoaded is returned by a Kernels method called on a nil or unloaded
// Kernels.
var ErrNotLoaded = errors.New("cuda: kernels not loaded (use LoadKernels)")

// ArgError is a kernel call refused before launching: a size, stride or
// pointer that cannot be right. Nothing was queued.
type ArgError struct {
	Op  string // the method, e.g. "Sgemm"
	Msg string // what is wrong, e.g. "lda 3 < 5"
}

func (e *ArgError) Error() string { return "cuda: " + e.Op + ": " + e.Msg }

// Kernels is graft's kernel image loaded into one context, with a handle
// for each kernel. Its methods queue work on a stream and return without
// waiting; like every call that acts on a context, they must run with its
// context current (inside Context.Do). All pointers are device addresses
// of float32 data (int32 for labels), 4-byte aligned; sizes are elements.
// A Kernels may be used from several goroutines, each in its own Do.
type Kernels struct {
	// AllowTF32 lets Sgemm run on the tensor cores in TF32: several times
	// the FP32 rate, but A and B are rounded to 10-bit mantissas
	// (relative error about 1e-3 instead of 1e-6). Off unless set.
	AllowTF32 bool

	mod  Module
	sms  int                  // the device's multiprocessors: tile and split choices
	fn   [numKernels]Function // by kernelID
	tile int                  // SGEMM tile for tests: 0 chooses, 64 or 128 forces
	gen  bool                 // tests: no depthwise kernels, always the implicit GEMM
	// split, for tests, forces the number of pixel slices of the weight
	// gradients (0 chooses).
	split int

	args *argArena // kernel arguments, reused by every launch
}

// maxKernelArgs is the most arguments a kernel of the fatbin takes.
const maxKernelArgs = 16

// argArena holds one launch's kernel arguments where the driver reads
// them: values, the bytes of an argument struct, and the array of
// pointers to them that cuLaunchKernel takes. It is pinned for the
// Kernels' life, so launching allocates nothing and pins nothing.
type argArena struct {
	mu   sync.Mutex // one launch at a time
	vals [maxKernelArgs]uint64
	buf  [256]byte // struct arguments, each at a multiple of 8 bytes
	ptrs [maxKernelArgs]unsafe.Pointer
	pin  runtime.Pinner
}

func newArgArena() *argArena {
	a := new(argArena)
	a.pin.Pin(a)
	return a
}

// LoadKernels loads the embedded kernels into context c, which must be
// current (call it inside c.Do). It fails with ErrUnsupportedDevice on a
// GPU older than compute capability 8.0. Release the module with Unload.
func LoadKernels(c Context) (*Kernels, error) {
	major, err := c.Device().Attribute(AttrComputeCapabilityMajor)
	if err != nil {
		return nil, err
	}
	minor, err := c.Device().Attribute(AttrComputeCapabilityMinor)
	if err != nil {
		return nil, err
	}
	if 10*major+minor < MinComputeCapability {
		return nil, fmt.Errorf("%w: device %d has %d.%d", ErrUnsupportedDevice, c.Device(), major, minor)
	}
	k := &Kernels{}
	if k.sms, err = c.Device().Attribute(AttrMultiprocessorCount); err != nil {
		return nil, err
	}
	if k.mod, err = LoadModule(fatbin); err != nil {
		return nil, err
	}
	for id, name := range kernelNames {
		if k.fn[id], err = k.mod.Function(name); err != nil {
			return nil, errors.Join(err, k.mod.Unload())
		}
	}
	k.args = newArgArena() // last: pinned until Unload, so no error path may drop it
	return k, nil
}

// Unload unloads the kernels from their context (which must be current);
// the Kernels is unusable afterwards, and must not be in use by another
// goroutine when Unload is called. A Kernels dropped without Unload keeps
// its module and its (pinned) argument arena.
func (k *Kernels) Unload() error {
	if k == nil || k.mod.h == 0 {
		return nil
	}
	a := k.args
	a.mu.Lock() // after any launch under way
	defer a.mu.Unlock()
	err := k.mod.Unload()
	a.pin.Unpin()
	*k = Kernels{}
	return err
}

// kernelID indexes Kernels.fn; kernelNames gives each its name in the
// fatbin.
type kernelID int

const (
	kSgemm128NN kernelID = iota
	kSgemm128NT
	kSgemm128TN
	kSgemm128TT
	kSgemm64NN
	kSgemm64NT
	kSgemm64TN
	kSgemm64TT
	kSgemmTF32NN
	kSgemmTF32NT
	kSgemmTF32TN
	kSgemmTF32TT
	kSgemmScale
	kConvFwd
	kConvBwdData
	kConvBwdWeights
	kDWConvFwd
	kDWConvBwdData
	kDWConvBwdWeights
	kMaxPoolFwd
	kMaxPoolBwd
	kAvgPoolFwd
	kAvgPoolBwd
	kGlobalAvgPoolFwd
	kGlobalAvgPoolBwd
	kBNTrainStats
	kBNTrainApply
	kBNInference
	kBNBwdReduce
	kBNBwdData
	kFill
	kAdd
	kMul
	kScale
	kAxpy
	kActFwd
	kActBwd
	kSoftmax
	kSoftmaxGrad
	kSoftmaxXent
	kSumRows
	kSumCols
	kSGD
	kAdam
	kRowsBroadcast
	kTranspose
	kMaxAxis
	kCopyStrided
	kPad
	kDropout
	numKernels
)

var kernelNames = [numKernels]string{
	kSgemm128NN:       "sgemm_128_nn",
	kSgemm128NT:       "sgemm_128_nt",
	kSgemm128TN:       "sgemm_128_tn",
	kSgemm128TT:       "sgemm_128_tt",
	kSgemm64NN:        "sgemm_64_nn",
	kSgemm64NT:        "sgemm_64_nt",
	kSgemm64TN:        "sgemm_64_tn",
	kSgemm64TT:        "sgemm_64_tt",
	kSgemmTF32NN:      "sgemm_tf32_nn",
	kSgemmTF32NT:      "sgemm_tf32_nt",
	kSgemmTF32TN:      "sgemm_tf32_tn",
	kSgemmTF32TT:      "sgemm_tf32_tt",
	kSgemmScale:       "sgemm_scale",
	kConvFwd:          "conv2d_fwd",
	kConvBwdData:      "conv2d_bwd_data",
	kConvBwdWeights:   "conv2d_bwd_weights",
	kDWConvFwd:        "dw_conv2d_fwd",
	kDWConvBwdData:    "dw_conv2d_bwd_data",
	kDWConvBwdWeights: "dw_conv2d_bwd_weights",
	kMaxPoolFwd:       "maxpool2d_fwd",
	kMaxPoolBwd:       "maxpool2d_bwd",
	kAvgPoolFwd:       "avgpool2d_fwd",
	kAvgPoolBwd:       "avgpool2d_bwd",
	kGlobalAvgPoolFwd: "global_avgpool_fwd",
	kGlobalAvgPoolBwd: "global_avgpool_bwd",
	kBNTrainStats:     "bn_train_stats",
	kBNTrainApply:     "bn_train_apply",
	kBNInference:      "bn_inference",
	kBNBwdReduce:      "bn_bwd_reduce",
	kBNBwdData:        "bn_bwd_data",
	kFill:             "ew_fill",
	kAdd:              "ew_add",
	kMul:              "ew_mul",
	kScale:            "ew_scale",
	kAxpy:             "ew_axpy",
	kActFwd:           "act_fwd",
	kActBwd:           "act_bwd",
	kSoftmax:          "softmax_rows",
	kSoftmaxGrad:      "softmax_grad_rows",
	kSoftmaxXent:      "softmax_xent",
	kSumRows:          "sum_rows",
	kSumCols:          "sum_cols",
	kSGD:              "sgd_update",
	kAdam:             "adam_update",
	kRowsBroadcast:    "rows_broadcast",
	kTranspose:        "transpose_batched",
	kMaxAxis:          "max_axis",
	kCopyStrided:      "copy_strided",
	kPad:              "pad_nd",
	kDropout:          "dropout",
}

// dim3 is a grid or block size.
type dim3 = [3]uint32

// launch queues kernel id with the given arguments, each of which must
// have the exact type of the kernel's parameter: DevicePtr for a pointer,
// int32 for int, int64 for long long, uint64 for unsigned long long,
// float32 for float, or a pointer to
// one of the argument structs.
func (k *Kernels) launch(op string, id kernelID, grid, block dim3, s Stream, args ...any) error {
	if k == nil || k.mod.h == 0 {
		return ErrNotLoaded
	}
	if err := Load(); err != nil {
		return err
	}
	a := k.args
	a.mu.Lock()
	defer a.mu.Unlock()
	off := 0
	for i, arg := range args {
		a.ptrs[i] = unsafe.Pointer(&a.vals[i])
		switch v := arg.(type) {
		case DevicePtr:
			a.vals[i] = uint64(v)
		case int32: // little-endian (amd64, arm64): the value's bytes come first
			a.vals[i] = uint64(uint32(v))
		case int64:
			a.vals[i] = uint64(v)
		case uint64:
			a.vals[i] = v
		case float32:
			a.vals[i] = uint64(math.Float32bits(v))
		case *convArgs:
			a.ptrs[i], off = a.put(off, unsafe.Pointer(v), unsafe.Sizeof(*v))
		case *poolArgs:
			a.ptrs[i], off = a.put(off, unsafe.Pointer(v), unsafe.Sizeof(*v))
		case *adamArgs:
			a.ptrs[i], off = a.put(off, unsafe.Pointer(v), unsafe.Sizeof(*v))
		case *padArgs:
			a.ptrs[i], off = a.put(off, unsafe.Pointer(v), unsafe.Sizeof(*v))
		default: // a programming error in this package (naming the value would make args escape)
			panic("cuda: " + op + ": an argument of " + kernelNames[id] + " has an unsupported type")
		}
	}
	var params uintptr
	if len(args) > 0 {
		params = uintptr(unsafe.Pointer(&a.ptrs[0]))
	}
	r := call(raw.launchKernel, k.fn[id].h, uintptr(grid[0]), uintptr(grid[1]), uintptr(grid[2]),
		uintptr(block[0]), uintptr(block[1]), uintptr(block[2]), 0, s.h, params, 0)
	if err := check("cuLaunchKernel", r); err != nil {
		return fmt.Errorf("cuda: %s: %s: %w", op, kernelNames[id], err)
	}
	return nil
}

// put copies an argument struct of size bytes at p into the arena at
// byte off and returns where it went and the next free offset.
func (a *argArena) put(off int, p unsafe.Pointer, size uintptr) (unsafe.Pointer, int) {
	if off+int(size) > len(a.buf) {
		panic("cuda: kernel argument structs overflow the argument arena")
	}
	copy(a.buf[off:], unsafe.Slice((*byte)(p), size))
	return unsafe.Pointer(&a.buf[off]), off + (int(size)+7)&^7
}

// launch1D queues kernel id over n elements with a grid-stride loop:
// blocks of 256 threads, enough blocks for every element up to 64 per SM.
func (k *Kernels) launch1D(op string, id kernelID, n int, s Stream, args ...any) error {
	if n == 0 {
		return nil
	}
	return k.launch(op, id, dim3{uint32(min(ceilDiv(n, 256), 64*max(k.sms, 1))), 1, 1}, dim3{256, 1, 1}, s, args...)
}

// flag is a C int holding a bool.
func flag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// maxGridYZ is the largest grid y or z size.
const maxGridYZ = 65535

// argCheck gathers the first thing wrong with a call's arguments.
type argCheck struct {
	op  string
	err error
}

func (c *argCheck) failf(format string, args ...any) {
	if c.err == nil {
		c.err = &ArgError{Op: c.op, Msg: fmt.Sprintf(format, args...)}
	}
}

// The checks below take their names as one comma-separated string and
// their values as typed variadics, so that a call boxes nothing and
// allocates nothing unless it fails.

// nameAt returns the i-th of the comma-separated names.
func nameAt(names string, i int) string {
	for ; i > 0; i-- {
		_, names, _ = strings.Cut(names, ",")
	}
	name, _, _ := strings.Cut(names, ",")
	return name
}

// sizes checks that each of the named sizes is in [0, 2³¹).
func (c *argCheck) sizes(names string, vs ...int) {
	for i, v := range vs {
		if v < 0 || v > math.MaxInt32 {
			c.failf("%s = %d, want 0 ≤ %s < 2³¹", nameAt(names, i), v, nameAt(names, i))
		}
	}
}

// positive checks that each of the named values is in [1, 2³¹).
func (c *argCheck) positive(names string, vs ...int) {
	for i, v := range vs {
		if v < 1 || v > math.MaxInt32 {
			c.failf("%s = %d, want 1 ≤ %s < 2³¹", nameAt(names, i), v, nameAt(names, i))
		}
	}
}

// ptrs checks the named pointers: each must be 4-byte aligned and, when
// need is set, not null.
func (c *argCheck) ptrs(need bool, names string, ps ...DevicePtr) {
	for i, p := range ps {
		switch {
		case p == 0 && need:
			c.failf("%s is a null pointer", nameAt(names, i))
		case p%4 != 0:
			c.failf("%s = %#x is not 4-byte aligned", nameAt(names, i), uintptr(p))
		}
	}
}

// product checks that the product of the sizes fits in an int and, for
// the kernels that index with int, in [0, 2³¹) when small is set; it
// returns the product.
func (c *argCheck) product(what string, small bool, dims ...int) int {
	p := 1
	for _, d := range dims {
		if d < 0 {
			return 0 // reported by sizes
		}
		if d != 0 && p > math.MaxInt/d {
			c.failf("%s overflows", what)
			return 0
		}
		p *= d
	}
	if small && p > math.MaxInt32 {
		c.failf("%s = %d elements, at most 2³¹−1", what, p)
	}
	return p
}
