package tensor

import (
	"fmt"
	"math"

	"github.com/graftml/graft/kernels"
)

// CPU is the CPU backend: blocked, multi-threaded SGEMM and vectorised
// elementwise kernels of one kernel tier. The zero value, CPU{}, runs the
// process's tier (kernels.Current(): the best this CPU has, or GRAFT_CPU's);
// NewCPU makes one that runs a given tier whatever the process's, so that
// two CPU backends of different tiers can run side by side.
type CPU struct {
	k *gemmKernel // nil: the process's tier (one pointer: a CPU in a Backend allocates nothing)
}

// NewCPU returns a CPU backend that runs tier t's kernels, or, with
// standIns, the pure-Go stand-ins of t's kernels (the same geometry, for
// tests on machines without t). It fails where this machine or build
// cannot run them.
func NewCPU(t kernels.Tier, standIns bool) (CPU, error) {
	return NewCPUWith(t, CPUOptions{StandIns: standIns})
}

// CPUOptions are a CPU backend's settings beyond its tier, for tests,
// benchmarks and tuning; the zero value is what CPU{} does.
type CPUOptions struct {
	// StandIns runs the pure-Go stand-ins of the tier's own kernels.
	StandIns bool
	// Winograd +1 runs every 3×3 convolution the Winograd path can run
	// on it, −1 none, 0 those where it pays.
	Winograd int
	// GemmPack forces which SGEMM operands are packed: "none", "a", "b"
	// or "ab"; "" decides by the shapes (the process default is
	// GRAFT_GEMM_PACK's).
	GemmPack string
	// WinogradTiles sets the output tiles per Winograd chunk of the
	// forward and backward-data passes (for tuning); 0 chooses by the
	// layer's channels. The weight gradients size their own chunks.
	WinogradTiles int
}

// NewCPUWith is NewCPU with options.
func NewCPUWith(t kernels.Tier, o CPUOptions) (CPU, error) {
	var k *gemmKernel
	switch {
	case o.StandIns:
		if ok, why := kernels.StandInsSupported(t); !ok {
			return CPU{}, fmt.Errorf("tensor.NewCPU: no stand-ins for tier %s: %s", t, why)
		}
		k = standInKernelFor(t)
	default:
		if ok, why := kernels.Supported(t); !ok {
			return CPU{}, fmt.Errorf("tensor.NewCPU: tier %s: %s", t, why)
		}
		k = gemmKernelFor(t)
	}
	switch o.GemmPack {
	case "", "none", "a", "b", "ab":
	default:
		return CPU{}, fmt.Errorf("tensor.NewCPU: GemmPack %q: want none, a, b, ab or nothing", o.GemmPack)
	}
	if o.WinogradTiles < 0 {
		return CPU{}, fmt.Errorf("tensor.NewCPU: WinogradTiles %d: want 0 or more", o.WinogradTiles)
	}
	if o.Winograd != 0 || o.GemmPack != "" || o.WinogradTiles != 0 {
		c := *k
		c.wino, c.pack, c.winoTiles = max(-1, min(1, o.Winograd)), o.GemmPack, o.WinogradTiles
		k = &c
	}
	return CPU{k: k}, nil
}

// kern returns the kernel set the backend runs.
func (cpu CPU) kern() *gemmKernel {
	if cpu.k != nil {
		return cpu.k
	}
	return cpuKernel()
}

// Tier returns the kernel tier the backend runs, and whether it runs the
// tier's stand-ins.
func (cpu CPU) Tier() (kernels.Tier, bool) {
	k := cpu.kern()
	return k.tier, k.id == kidStandIn
}

// Name returns "cpu/<tier>" ("cpu/<tier>-standins" for stand-ins).
func (cpu CPU) Name() string {
	t, s := cpu.Tier()
	if s {
		return "cpu/" + t.String() + "-standins"
	}
	return "cpu/" + t.String()
}

// Sgemm is the package's Sgemm on this backend's kernels: C =
// alpha·op(A)·op(B) + beta·C on row-major slices.
func (cpu CPU) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmOn(cpu.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMul runs Sgemm on the tensors' storage.
func (cpu CPU) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	sameBackend("MatMul", cpu, c, a, b)
	kn := cpu.kern()
	m, n, k := matMulDims(c, a, b, transA, transB)
	sgemmOn(kn, transA, transB, m, n, k, alpha, a.data, max(a.shape[1], 1), b.data, max(b.shape[1], 1), beta, c.data, max(n, 1))
}

// Add computes z = x + y.
func (cpu CPU) Add(z, x, y *Tensor) {
	sameBackend("Add", cpu, z, x, y)
	mustSameShape("Add", z, x, y)
	addAct(cpu.kern(), z.data, x.data, y.data, FusedAct{})
}

// Mul computes z = x·y elementwise.
func (cpu CPU) Mul(z, x, y *Tensor) {
	sameBackend("Mul", cpu, z, x, y)
	kn := cpu.kern()
	mustSameShape("Mul", z, x, y)
	mulF32(kn, z.data, x.data, y.data)
}

// Scale computes y = alpha·x.
func (cpu CPU) Scale(y *Tensor, alpha float32, x *Tensor) {
	sameBackend("Scale", cpu, y, x)
	kn := cpu.kern()
	mustSameShape("Scale", y, x)
	scaleF32(kn, y.data, alpha, x.data)
}

// Axpy computes y += alpha·x.
func (cpu CPU) Axpy(y *Tensor, alpha float32, x *Tensor) {
	sameBackend("Axpy", cpu, y, x)
	kn := cpu.kern()
	mustSameShape("Axpy", y, x)
	axpyF32(kn, y.data, alpha, x.data)
}

// ReLU computes y = max(x, 0); NaN passes through.
func (cpu CPU) ReLU(y, x *Tensor) {
	sameBackend("ReLU", cpu, y, x)
	mustSameShape("ReLU", y, x)
	reluParallel(cpu.kern(), y.data, x.data)
}

// ReLUGrad computes dx = dy where x > 0, else 0.
func (cpu CPU) ReLUGrad(dx, x, dy *Tensor) {
	sameBackend("ReLUGrad", cpu, dx, x, dy)
	kn := cpu.kern()
	mustSameShape("ReLUGrad", dx, x, dy)
	reluGradF32(kn, dx.data, x.data, dy.data)
}

// Sum reduces along axis: vector sums of contiguous runs when the axis is
// the last, else vector adds of whole rows.
func (cpu CPU) Sum(dst, src *Tensor, axis int) {
	sameBackend("Sum", cpu, dst, src)
	kn := cpu.kern()
	outer, r, inner := reduceDims("Sum", dst, src, axis)
	for o := 0; o < outer; o++ {
		block := src.data[o*r*inner : (o+1)*r*inner]
		out := dst.data[o*inner : (o+1)*inner]
		if inner == 1 {
			out[0] = sumF32(kn, block)
			continue
		}
		if r == 0 {
			clear(out)
			continue
		}
		copy(out, block[:inner])
		for a := 1; a < r; a++ {
			addF32(kn, out, out, block[a*inner:(a+1)*inner])
		}
	}
}

// Max reduces along axis by the maximum (vector maxima of whole rows when
// the axis is not the last); NaN propagates.
func (cpu CPU) Max(dst, src *Tensor, axis int) {
	sameBackend("Max", cpu, dst, src)
	kn := cpu.kern()
	outer, r, inner := reduceDims("Max", dst, src, axis)
	for o := 0; o < outer; o++ {
		block := src.data[o*r*inner : (o+1)*r*inner]
		out := dst.data[o*inner : (o+1)*inner]
		for j := range out {
			out[j] = float32(math.Inf(-1))
		}
		if inner > 1 {
			for a := 0; a < r; a++ {
				maxF32(kn, out, out, block[a*inner:(a+1)*inner])
			}
			continue
		}
		for _, v := range block {
			if m := out[0]; v > m || (v != v && m == m) {
				out[0] = v
			}
		}
	}
}

// The slice kernels below run the assembly (elem_amd64.go) on the longest
// multiple-of-8 prefix when the tier is AVX2 or better, and plain Go on the
// rest. Their references are the methods of Reference.

func addF32(kn *gemmKernel, z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	i := addFast(kn, z, x, y)
	for ; i < len(z); i++ {
		z[i] = x[i] + y[i]
	}
}

func mulF32(kn *gemmKernel, z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	i := mulFast(kn, z, x, y)
	for ; i < len(z); i++ {
		z[i] = x[i] * y[i]
	}
}

func scaleF32(kn *gemmKernel, y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	i := scaleFast(kn, y, alpha, x)
	for ; i < len(y); i++ {
		y[i] = alpha * x[i]
	}
}

func axpyF32(kn *gemmKernel, y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	i := axpyFast(kn, y, alpha, x)
	for ; i < len(y); i++ {
		y[i] = fma32(alpha, x[i], y[i]) // one rounding, as the kernels' fused multiply-add
	}
}

func reluF32(kn *gemmKernel, y, x []float32) {
	x = x[:len(y)]
	i := reluFast(kn, y, x)
	for ; i < len(y); i++ {
		v := x[i]
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

func reluGradF32(kn *gemmKernel, dx, x, dy []float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	i := reluGradFast(kn, dx, x, dy)
	for ; i < len(dx); i++ {
		if x[i] > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

func sumF32(kn *gemmKernel, x []float32) float32 {
	s, i := sumFast(kn, x)
	for ; i < len(x); i++ {
		s += x[i]
	}
	return s
}

// fmaF32 computes z[i] += x[i]·y[i].
func fmaF32(kn *gemmKernel, z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	i := fmaFast(kn, z, x, y)
	for ; i < len(z); i++ {
		z[i] = fma32(x[i], y[i], z[i])
	}
}

// subF32 computes z = x − y.
func subF32(kn *gemmKernel, z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	i := subFast(kn, z, x, y)
	for ; i < len(z); i++ {
		z[i] = x[i] - y[i]
	}
}

// maxF32 computes z = max(x, y) elementwise; NaN in either gives NaN.
func maxF32(kn *gemmKernel, z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	i := maxFast(kn, z, x, y)
	for ; i < len(z); i++ {
		a, b := x[i], y[i]
		switch {
		case a != a || b != b:
			z[i] = a + b // NaN
		case b > a:
			z[i] = b
		default:
			z[i] = a
		}
	}
}

// colSum adds to acc[j], j < len(acc), the sum over rows r < rows of
// x[r·ldx + j]: the bias gradient of a layer whose output rows are pixels.
func colSum(kn *gemmKernel, acc, x []float32, rows, ldx int) {
	j0 := colSumFast(kn, acc, x, rows, ldx)
	if j0 == len(acc) {
		return
	}
	tail := acc[j0:]
	for r := 0; r < rows; r++ { // row by row: the columns left are few
		row := x[r*ldx+j0 : r*ldx+len(acc)]
		for j, v := range row {
			tail[j] += v
		}
	}
}
