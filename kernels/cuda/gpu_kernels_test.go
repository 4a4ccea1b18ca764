package cuda_test

// Conformance tests of the CUDA kernels against graft's plain Go
// references (package tensor), and the SGEMM benchmark. Every test that
// needs a GPU skips, saying so, where cuda.Probe finds none. Outputs start
// as NaN (every element must be written) between guard bands of a
// sentinel (nothing may be written outside).

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/kernels/cuda"
	"github.com/graftml/graft/tensor"
)

// gpu is device 0 with the kernels loaded, set up once per test binary
// (after useGPU has bound the driver library).
type gpu struct {
	info cuda.Info
	ctx  cuda.Context
	k    *cuda.Kernels
}

var (
	probeErr error
	gpuSetup = sync.OnceValues(func() (*gpu, error) {
		info, err := cuda.Probe()
		if err != nil {
			probeErr = err
			return nil, err
		}
		dev, err := cuda.GetDevice(0)
		if err != nil {
			return nil, err
		}
		ctx, err := dev.PrimaryContext()
		if err != nil {
			return nil, err
		}
		g := &gpu{info: info, ctx: ctx}
		err = ctx.Do(func() error {
			g.k, err = cuda.LoadKernels(ctx)
			return err
		})
		return g, err
	})
)

// useGPU returns the GPU, or skips tb when there is none to use.
func useGPU(tb testing.TB) *gpu {
	tb.Helper()
	if _, err := cuda.ProbeForTest(tb); err != nil {
		tb.Skipf("no GPU, skipping the CUDA kernel tests (run them on a machine with one, or on the emulator: GRAFT_CUDAEMU_LIB): %v", err)
	}
	g, err := gpuSetup()
	switch {
	case probeErr != nil:
		tb.Skipf("no GPU, skipping the CUDA kernel tests (run them on a machine with one): %v", probeErr)
	case errors.Is(err, cuda.ErrUnsupportedDevice):
		tb.Skipf("skipping the CUDA kernel tests: %v", err)
	case err != nil:
		tb.Fatalf("GPU setup: %v", err)
	}
	return g
}

// sess is one test's device work: it runs inside the context's Do, on the
// default stream, and frees its buffers at the end.
type sess struct {
	tb   testing.TB
	k    *cuda.Kernels
	bufs []cuda.DevicePtr
}

// run runs f with the context current.
func (g *gpu) run(tb testing.TB, f func(s *sess)) {
	tb.Helper()
	err := g.ctx.Do(func() error {
		s := &sess{tb: tb, k: g.k}
		defer func() {
			for _, p := range s.bufs {
				p.Free()
			}
		}()
		f(s)
		return cuda.Stream{}.Synchronize()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func (s *sess) must(err error) {
	s.tb.Helper()
	if err != nil {
		s.tb.Fatal(err)
	}
}

// guard floats of sentinel surround every buffer.
const (
	guard        = 16
	sentinelBits = 0x7fbadbad // a NaN no kernel computes
)

// dev is a device buffer of n floats at p, inside an allocation at base
// of total floats.
type dev struct {
	p     cuda.DevicePtr
	n     int
	base  cuda.DevicePtr
	total int
}

// upAt copies host into a new buffer that starts off floats after a
// 16-byte boundary (off 1 defeats float4 accesses).
func (s *sess) upAt(host []float32, off int) dev {
	s.tb.Helper()
	total := len(host) + 2*guard + off
	base, err := cuda.MemAlloc(uintptr(total * 4))
	s.must(err)
	s.bufs = append(s.bufs, base)
	all := make([]float32, total)
	for i := range all {
		all[i] = math.Float32frombits(sentinelBits)
	}
	copy(all[guard+off:], host)
	s.must(cuda.MemcpyHtoD(base, unsafe.Pointer(&all[0]), uintptr(total*4)))
	return dev{p: base + cuda.DevicePtr((guard+off)*4), n: len(host), base: base, total: total}
}

func (s *sess) up(host []float32) dev { return s.upAt(host, 0) }

// out is a buffer of n NaNs, for outputs every element of which must be
// written.
func (s *sess) out(n int) dev { return s.up(filled(n, float32(math.NaN()))) }

// upInts copies int32 data to the device.
func (s *sess) upInts(host []int32) cuda.DevicePtr {
	p, err := cuda.MemAlloc(uintptr(max(len(host), 1) * 4))
	s.must(err)
	s.bufs = append(s.bufs, p)
	if len(host) > 0 {
		s.must(cuda.MemcpyHtoD(p, unsafe.Pointer(&host[0]), uintptr(len(host)*4)))
	}
	return p
}

// down waits for the queued work and returns d's contents; it fails if a
// kernel wrote into the guard bands.
func (s *sess) down(d dev) []float32 {
	s.tb.Helper()
	s.must(cuda.Stream{}.Synchronize())
	all := make([]float32, d.total)
	s.must(cuda.MemcpyDtoH(unsafe.Pointer(&all[0]), d.base, uintptr(d.total*4)))
	off := int(d.p-d.base) / 4
	for i, v := range all {
		if (i < off || i >= off+d.n) && math.Float32bits(v) != sentinelBits {
			s.tb.Fatalf("a kernel wrote outside its buffer: float %d of %d (data at [%d, %d)) is %v", i, d.total, off, off+d.n, v)
		}
	}
	return all[off : off+d.n]
}

// tolerance gives the allowed error of element i.
type tolerance func(i int, want float32) float64

// rel allows abs + r·|want|.
func rel(r, abs float64) tolerance {
	return func(_ int, want float32) float64 { return abs + r*math.Abs(float64(want)) }
}

// bound allows the rounding error of a sum of terms products, from
// absRef, the reference computed on absolute values: (terms+2)·2⁻²²·|·|,
// plus extra·absRef for inputs rounded before multiplying (TF32).
func bound(absRef []float32, terms int, extra float64) tolerance {
	return func(i int, _ float32) float64 {
		return (float64(terms+2)*0x1p-22+extra)*float64(absRef[i]) + 1e-30
	}
}

// near fails tb unless every got[i] is within tol of want[i] (NaN only
// where want is NaN).
func near(tb testing.TB, what string, got, want []float32, tol tolerance) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		ok := math.IsNaN(g) == math.IsNaN(w) && (math.IsNaN(w) || g == w || math.Abs(g-w) <= tol(i, want[i]))
		if !ok {
			if bad < 5 {
				tb.Errorf("%s: [%d] = %v, want %v (error %.3g, allowed %.3g)", what, i, g, w, math.Abs(g-w), tol(i, want[i]))
			}
			bad++
		}
	}
	if bad > 0 {
		tb.Fatalf("%s: %d of %d values wrong", what, bad, len(want))
	}
}

// same fails tb unless got and want are the same bits.
func same(tb testing.TB, what string, got, want []float32) {
	tb.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			tb.Fatalf("%s: [%d] = %v (%#x), want %v (%#x) exactly", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func filled(n int, x float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = x
	}
	return v
}

func abs(v []float32) []float32 {
	a := make([]float32, len(v))
	for i, x := range v {
		a[i] = float32(math.Abs(float64(x)))
	}
	return a
}

// ---- SGEMM ----

type gemmCase struct {
	ta, tb      bool
	m, n, k     int
	alpha, beta float32
	pad, off    int // extra floats per row of every matrix; offset of every matrix from 16-byte alignment
}

func (c gemmCase) String() string {
	return fmt.Sprintf("ta=%v,tb=%v,%dx%dx%d,alpha=%v,beta=%v,pad=%d,off=%d", c.ta, c.tb, c.m, c.n, c.k, c.alpha, c.beta, c.pad, c.off)
}

// gemmCases are the shapes Sgemm is checked on: ragged sizes around the
// tiles, every transpose, beta 0 (C unread, NaN there) and not, padded
// and unaligned matrices.
func gemmCases() []gemmCase {
	var cs []gemmCase
	i := 0
	for _, m := range []int{1, 7, 17, 33, 129, 200} {
		for _, n := range []int{1, 7, 17, 33, 129, 200} {
			for _, k := range []int{1, 8, 17, 33, 200} {
				for tr := 0; tr < 4; tr++ {
					c := gemmCase{ta: tr&2 != 0, tb: tr&1 != 0, m: m, n: n, k: k, alpha: 1, pad: i % 3 % 2 * 3, off: i % 5 % 2}
					if i%2 == 1 {
						c.alpha, c.beta = 0.5, -1.5
					}
					cs = append(cs, c)
					i++
				}
			}
		}
	}
	return cs
}

// gemmOperands makes a case's A, B and C as stored (C NaN where beta = 0).
func gemmOperands(r *rand.Rand, c gemmCase) (a, b, cm []float32, lda, ldb, ldc int) {
	ra, ca, rb, cb := c.m, c.k, c.k, c.n
	if c.ta {
		ra, ca = ca, ra
	}
	if c.tb {
		rb, cb = cb, rb
	}
	lda, ldb, ldc = ca+c.pad, cb+c.pad, c.n+c.pad
	a, b = tensorcheck.Normal(r, ra*lda), tensorcheck.Normal(r, rb*ldb)
	if c.beta == 0 {
		cm = filled(c.m*ldc, float32(math.NaN()))
	} else {
		cm = tensorcheck.Normal(r, c.m*ldc)
	}
	return a, b, cm, lda, ldb, ldc
}

// checkSgemm runs case c on the GPU and compares it with SgemmRef; extra
// is the relative error the inputs' rounding allows (TF32).
func checkSgemm(s *sess, r *rand.Rand, c gemmCase, extra float64) {
	s.tb.Helper()
	a, b, cm, lda, ldb, ldc := gemmOperands(r, c)
	da, db, dc := s.upAt(a, c.off), s.upAt(b, c.off), s.upAt(cm, c.off)
	s.must(s.k.Sgemm(cuda.Stream{}, c.ta, c.tb, c.m, c.n, c.k, c.alpha, da.p, lda, db.p, ldb, c.beta, dc.p, ldc))
	got := s.down(dc)
	want := append([]float32(nil), cm...)
	tensor.SgemmRef(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
	absRef := abs(cm)
	tensor.SgemmRef(c.ta, c.tb, c.m, c.n, c.k, float32(math.Abs(float64(c.alpha))), abs(a), lda, abs(b), ldb,
		float32(math.Abs(float64(c.beta))), absRef, ldc)
	tol := bound(absRef, c.k, extra)
	near(s.tb, c.String(), got, want, func(i int, w float32) float64 {
		if i%ldc >= c.n {
			return 0 // the padding between rows of C: untouched
		}
		return tol(i, w)
	})
}

func TestSgemmCUDA(t *testing.T) {
	g := useGPU(t)
	t.Log(g.info)
	defer cuda.SetSgemmTile(g.k, 0)
	for _, tile := range []int{128, 64} {
		t.Run(fmt.Sprintf("tile=%d", tile), func(t *testing.T) {
			cuda.SetSgemmTile(g.k, tile)
			r := rand.New(rand.NewPCG(1, uint64(tile)))
			g.run(t, func(s *sess) {
				for _, c := range gemmCases() {
					checkSgemm(s, r, c, 0)
				}
			})
		})
	}
	t.Run("tile=auto", func(t *testing.T) {
		cuda.SetSgemmTile(g.k, 0)
		r := rand.New(rand.NewPCG(2, 2))
		g.run(t, func(s *sess) {
			for _, c := range []gemmCase{{m: 1000, n: 1100, k: 300, alpha: 1}, {ta: true, tb: true, m: 513, n: 257, k: 129, alpha: 2, beta: 1}} {
				checkSgemm(s, r, c, 0)
			}
		})
	})
}

// TestSgemmCUDATF32 checks the opt-in tensor-core kernel with TF32's
// tolerance (inputs rounded to 10-bit mantissas).
func TestSgemmCUDATF32(t *testing.T) {
	g := useGPU(t)
	g.k.AllowTF32 = true
	defer func() { g.k.AllowTF32 = false }()
	r := rand.New(rand.NewPCG(3, 3))
	g.run(t, func(s *sess) {
		for i, c := range gemmCases() {
			if i%3 == 0 {
				checkSgemm(s, r, c, 0x1p-9)
			}
		}
	})
}

// TestSgemmCUDASpecial: alpha = 0 and k = 0 leave A and B unread (NaN
// there changes nothing) and scale C, or zero it when beta = 0; empty
// products do nothing.
func TestSgemmCUDASpecial(t *testing.T) {
	g := useGPU(t)
	g.run(t, func(s *sess) {
		nan := float32(math.NaN())
		for _, c := range []struct {
			alpha, beta float32
			k           int
		}{{0, 2, 5}, {0, 0, 5}, {1, 3, 0}, {1, 0, 0}} {
			m, n := 9, 13
			a, b := s.up(filled(m*max(c.k, 1), nan)), s.up(filled(max(c.k, 1)*n, nan))
			init := tensorcheck.Normal(rand.New(rand.NewPCG(4, 4)), m*n)
			if c.beta == 0 {
				init = filled(m*n, nan)
			}
			dc := s.up(init)
			s.must(s.k.Sgemm(cuda.Stream{}, false, false, m, n, c.k, c.alpha, a.p, max(c.k, 1), b.p, n, c.beta, dc.p, n))
			want := make([]float32, m*n)
			for i := range want {
				if c.beta != 0 {
					want[i] = c.beta * init[i]
				}
			}
			near(t, fmt.Sprintf("alpha=%v beta=%v k=%d", c.alpha, c.beta, c.k), s.down(dc), want, rel(1e-6, 0))
		}
		s.must(s.k.Sgemm(cuda.Stream{}, false, false, 0, 5, 5, 1, 0, 5, 0, 5, 0, 0, 5))
		s.must(s.k.Sgemm(cuda.Stream{}, false, false, 5, 0, 5, 1, 0, 5, 0, 1, 0, 0, 1))
	})
}

// BenchmarkSgemmCUDA times C = A·B (no transposes, beta 0) on square
// matrices with CUDA events: FP32 and, opt-in, TF32. GRAFT_BENCH_SHAPES=
// 512,1024 replaces the sizes 1024, 2048, 4096.
func BenchmarkSgemmCUDA(b *testing.B) {
	g := useGPU(b)
	sizes := []int{1024, 2048, 4096}
	if env := os.Getenv("GRAFT_BENCH_SHAPES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			d, err := strconv.Atoi(f)
			if err != nil || d < 1 {
				b.Fatalf("GRAFT_BENCH_SHAPES: %q is not a size", f)
			}
			sizes = append(sizes, d)
		}
	}
	for _, impl := range []string{"fp32", "tf32"} {
		for _, d := range sizes {
			b.Run(fmt.Sprintf("impl=%s/shape=%dx%dx%d", impl, d, d, d), func(b *testing.B) {
				g.k.AllowTF32 = impl == "tf32"
				defer func() { g.k.AllowTF32 = false }()
				g.run(b, func(s *sess) { benchSgemm(b, s, d) })
			})
		}
	}
}

func benchSgemm(b *testing.B, s *sess, d int) {
	r := rand.New(rand.NewPCG(5, 5))
	x, y, z := s.up(tensorcheck.Normal(r, d*d)), s.up(tensorcheck.Normal(r, d*d)), s.out(d*d)
	gemm := func() { s.must(s.k.Sgemm(cuda.Stream{}, false, false, d, d, d, 1, x.p, d, y.p, d, 0, z.p, d)) }
	start, err := cuda.NewEvent(0)
	s.must(err)
	defer start.Destroy()
	end, err := cuda.NewEvent(0)
	s.must(err)
	defer end.Destroy()
	gemm() // warm up: the first launch loads the module's code
	s.must(cuda.Stream{}.Synchronize())
	b.ResetTimer()
	s.must(start.Record(cuda.Stream{}))
	for range b.N {
		gemm()
	}
	s.must(end.Record(cuda.Stream{}))
	s.must(end.Synchronize())
	b.StopTimer()
	elapsed, err := cuda.ElapsedTime(start, end)
	s.must(err)
	b.ReportMetric(2*float64(d)*float64(d)*float64(d)*float64(b.N)/elapsed.Seconds()/1e9, "GFLOP/s")
}

// ---- convolution and pooling ----

// convCases cover every parameter: strides, asymmetric padding, dilation,
// groups, depthwise (multiplier 1 and 2), 1×1, non-square kernels, tiles
// crossed by the channel counts, a window larger than the input.
var convCases = []cuda.ConvShape{
	{N: 2, H: 7, W: 9, C: 3, O: 5, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 1, H: 17, W: 13, C: 8, O: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 0, PadLeft: 1, PadBottom: 2, PadRight: 1},
	{N: 2, H: 11, W: 12, C: 5, O: 6, KH: 3, KW: 2, DilationH: 2, DilationW: 3, PadTop: 2, PadLeft: 1, PadBottom: 1, PadRight: 3},
	{N: 2, H: 8, W: 8, C: 4, O: 6, KH: 3, KW: 3, Groups: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 3, H: 5, W: 7, C: 33, O: 17, KH: 1, KW: 1},
	{N: 2, H: 9, W: 9, C: 70, O: 65, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 1, H: 9, W: 10, C: 12, O: 198, KH: 1, KW: 7, StrideW: 3, PadLeft: 3, PadRight: 3, Groups: 3},
	{N: 2, H: 10, W: 6, C: 17, O: 17, KH: 3, KW: 3, Groups: 17, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 1, H: 15, W: 14, C: 40, O: 40, KH: 5, KW: 5, Groups: 40, StrideH: 2, StrideW: 2, DilationH: 2, DilationW: 1, PadTop: 3, PadLeft: 2, PadBottom: 1, PadRight: 2},
	{N: 2, H: 6, W: 6, C: 4, O: 8, KH: 3, KW: 3, Groups: 4, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 1, H: 2, W: 3, C: 2, O: 3, KH: 5, KW: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
	{N: 4, H: 28, W: 28, C: 1, O: 32, KH: 5, KW: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
}

func convParams(p cuda.ConvShape) tensor.ConvParams {
	return tensor.ConvParams{StrideH: p.StrideH, StrideW: p.StrideW, DilationH: p.DilationH, DilationW: p.DilationW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight, Groups: p.Groups}
}

// convTensors are a case's host operands and their absolute values.
type convTensors struct {
	x, w, bias, dy       *tensor.Tensor
	ax, aw, abias, ady   *tensor.Tensor
	xs, ws, ys           []int
	groups, taps, pixels int
}

func newConvTensors(r *rand.Rand, p cuda.ConvShape) convTensors {
	oh, ow := p.OutSize()
	g := max(p.Groups, 1)
	c := convTensors{xs: []int{p.N, p.H, p.W, p.C}, ws: []int{p.O, p.C / g, p.KH, p.KW}, ys: []int{p.N, oh, ow, p.O},
		groups: g, taps: p.KH * p.KW, pixels: p.N * oh * ow}
	mk := func(shape ...int) (*tensor.Tensor, *tensor.Tensor) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := tensorcheck.Normal(r, n)
		return tensor.FromSlice(v, shape...), tensor.FromSlice(abs(v), shape...)
	}
	c.x, c.ax = mk(c.xs...)
	c.w, c.aw = mk(c.ws...)
	c.bias, c.abias = mk(p.O)
	c.dy, c.ady = mk(c.ys...)
	return c
}

// TestConvCUDA checks the three passes on every case, the depthwise ones
// also through the implicit GEMM, the weight gradient with and without
// pixel slices.
func TestConvCUDA(t *testing.T) {
	g := useGPU(t)
	defer cuda.SetGenericConv(g.k, false)
	defer cuda.SetSplit(g.k, 0)
	r := rand.New(rand.NewPCG(6, 6))
	for i, p := range convCases {
		for _, generic := range []bool{false, true} {
			if generic && !(p.Groups == p.C && p.O == p.C) {
				continue
			}
			t.Run(fmt.Sprintf("case=%d/generic=%v", i, generic), func(t *testing.T) {
				cuda.SetGenericConv(g.k, generic)
				c := newConvTensors(r, p)
				g.run(t, func(s *sess) { checkConv(s, p, c) })
			})
		}
	}
}

func checkConv(s *sess, p cuda.ConvShape, c convTensors) {
	ref, cp := tensor.Reference{}, convParams(p)
	st := cuda.Stream{}
	x, w, bias, dy := s.up(c.x.Data()), s.up(c.w.Data()), s.up(c.bias.Data()), s.up(c.dy.Data())
	cg := p.C / c.groups

	for _, withBias := range []bool{false, true} {
		y := s.out(len(c.dy.Data()))
		want, wantAbs := tensor.Zeros(c.ys...), tensor.Zeros(c.ys...)
		if withBias {
			s.must(s.k.Conv2DForward(st, p, y.p, x.p, w.p, bias.p))
			ref.Conv2D(want, c.x, c.w, c.bias, cp)
			ref.Conv2D(wantAbs, c.ax, c.aw, c.abias, cp)
		} else {
			s.must(s.k.Conv2DForward(st, p, y.p, x.p, w.p, 0))
			ref.Conv2D(want, c.x, c.w, nil, cp)
			ref.Conv2D(wantAbs, c.ax, c.aw, nil, cp)
		}
		near(s.tb, fmt.Sprintf("forward (bias %v)", withBias), s.down(y), want.Data(), bound(wantAbs.Data(), cg*c.taps, 0))
	}

	dx := s.out(len(c.x.Data()))
	s.must(s.k.Conv2DBackwardData(st, p, dx.p, dy.p, w.p))
	want, wantAbs := tensor.Zeros(c.xs...), tensor.Zeros(c.xs...)
	ref.Conv2DBackwardData(want, c.dy, c.w, cp)
	ref.Conv2DBackwardData(wantAbs, c.ady, c.aw, cp)
	near(s.tb, "backward data", s.down(dx), want.Data(), bound(wantAbs.Data(), p.O/c.groups*c.taps, 0))

	wantW, wantWAbs := tensor.Zeros(c.ws...), tensor.Zeros(c.ws...)
	wantB, wantBAbs := tensor.Zeros(p.O), tensor.Zeros(p.O)
	ref.Conv2DBackwardWeights(wantW, wantB, c.x, c.dy, cp)
	ref.Conv2DBackwardWeights(wantWAbs, wantBAbs, c.ax, c.ady, cp)
	for _, split := range []int{0, 1, 3} {
		cuda.SetSplit(s.k, split)
		dw, db := s.out(len(wantW.Data())), s.out(p.O)
		s.must(s.k.Conv2DBackwardWeights(st, p, dw.p, db.p, x.p, dy.p))
		near(s.tb, fmt.Sprintf("backward weights (split %d)", split), s.down(dw), wantW.Data(), bound(wantWAbs.Data(), c.pixels, 0))
		near(s.tb, fmt.Sprintf("backward bias (split %d)", split), s.down(db), wantB.Data(), bound(wantBAbs.Data(), c.pixels, 0))
	}
	dw := s.out(len(wantW.Data()))
	s.must(s.k.Conv2DBackwardWeights(st, p, dw.p, 0, x.p, dy.p)) // no bias gradient
	near(s.tb, "backward weights (no db)", s.down(dw), wantW.Data(), bound(wantWAbs.Data(), c.pixels, 0))
}

var poolCases = []cuda.PoolShape{
	{N: 2, H: 8, W: 8, C: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 1, H: 7, W: 9, C: 33, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{N: 2, H: 7, W: 9, C: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, CountIncludePad: true},
	{N: 1, H: 10, W: 11, C: 4, KH: 3, KW: 2, StrideH: 3, StrideW: 2, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 1, CeilMode: true},
	{N: 1, H: 10, W: 11, C: 4, KH: 3, KW: 2, StrideH: 3, StrideW: 2, PadTop: 1, PadRight: 1, CeilMode: true, CountIncludePad: true},
	{N: 2, H: 9, W: 9, C: 7, KH: 3, KW: 3, DilationH: 2, DilationW: 2, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
	{N: 1, H: 5, W: 5, C: 1, KH: 5, KW: 5},
	{N: 3, H: 6, W: 4, C: 17, KH: 1, KW: 1},
}

// TestPoolCUDA checks max and average pooling, both passes; every other
// case draws from five values, so windows hold ties (the first maximum
// wins), and one holds a NaN.
func TestPoolCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(7, 7))
	ref, st := tensor.Reference{}, cuda.Stream{}
	for i, p := range poolCases {
		t.Run(fmt.Sprint("case=", i), func(t *testing.T) {
			oh, ow := p.OutSize()
			xs, ys := []int{p.N, p.H, p.W, p.C}, []int{p.N, oh, ow, p.C}
			xv := tensorcheck.Normal(r, p.N*p.H*p.W*p.C)
			if i%2 == 1 {
				for j := range xv {
					xv[j] = float32(r.IntN(5))
				}
			}
			if i == 1 {
				xv[len(xv)/2] = float32(math.NaN())
			}
			x, dyv := tensor.FromSlice(xv, xs...), tensorcheck.Normal(r, p.N*oh*ow*p.C)
			dy := tensor.FromSlice(dyv, ys...)
			pp := tensor.PoolParams{KH: p.KH, KW: p.KW, CeilMode: p.CeilMode, CountIncludePad: p.CountIncludePad,
				ConvParams: tensor.ConvParams{StrideH: p.StrideH, StrideW: p.StrideW, DilationH: p.DilationH, DilationW: p.DilationW,
					PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight}}
			g.run(t, func(s *sess) {
				dx, ddy := s.up(xv), s.up(dyv)
				for _, isMax := range []bool{true, false} {
					y, want := s.out(len(dyv)), tensor.Zeros(ys...)
					din, wantDx := s.out(len(xv)), tensor.Zeros(xs...)
					if isMax {
						s.must(s.k.MaxPool2DForward(st, p, y.p, dx.p))
						s.must(s.k.MaxPool2DBackward(st, p, din.p, dx.p, ddy.p))
						ref.MaxPool2D(want, x, pp)
						ref.MaxPool2DBackward(wantDx, x, dy, pp)
					} else {
						s.must(s.k.AvgPool2DForward(st, p, y.p, dx.p))
						s.must(s.k.AvgPool2DBackward(st, p, din.p, ddy.p))
						ref.AvgPool2D(want, x, pp)
						ref.AvgPool2DBackward(wantDx, dy, pp)
					}
					near(t, fmt.Sprintf("max=%v forward", isMax), s.down(y), want.Data(), rel(2e-6, 1e-6))
					near(t, fmt.Sprintf("max=%v backward", isMax), s.down(din), wantDx.Data(), rel(2e-6, 1e-6))
				}
			})
		})
	}
}

func TestGlobalAvgPoolCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(8, 8))
	ref := tensor.Reference{}
	for _, sh := range [][3]int{{1, 1, 1}, {2, 7, 5}, {3, 49, 33}, {2, 196, 100}} {
		n, hw, c := sh[0], sh[1], sh[2]
		xv, dyv := tensorcheck.Normal(r, n*hw*c), tensorcheck.Normal(r, n*c)
		want, wantDx := tensor.Zeros(n, c), tensor.Zeros(n, hw, 1, c)
		ref.GlobalAvgPool(want, tensor.FromSlice(xv, n, hw, 1, c))
		ref.GlobalAvgPoolBackward(wantDx, tensor.FromSlice(dyv, n, c))
		g.run(t, func(s *sess) {
			x, dy, y, dx := s.up(xv), s.up(dyv), s.out(n*c), s.out(n*hw*c)
			s.must(s.k.GlobalAvgPool(cuda.Stream{}, n, hw, c, y.p, x.p))
			s.must(s.k.GlobalAvgPoolBackward(cuda.Stream{}, n, hw, c, dx.p, dy.p))
			near(t, fmt.Sprint(sh, " forward"), s.down(y), want.Data(), rel(1e-5, 1e-6))
			near(t, fmt.Sprint(sh, " backward"), s.down(dx), wantDx.Data(), rel(1e-6, 0))
		})
	}
}

// ---- normalisation, activations, elementwise ----

func TestBatchNormCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(9, 9))
	ref, st := tensor.Reference{}, cuda.Stream{}
	for i, sh := range [][2]int{{1, 1}, {7, 3}, {100, 33}, {1000, 70}, {4097, 5}} {
		rows, c := sh[0], sh[1]
		p := cuda.BatchNormParams{Momentum: 0.1, Eps: 1e-5, UnbiasedVar: i%2 == 0, ReLU: i%3 == 1}
		tp := tensor.BatchNormParams{Momentum: p.Momentum, Eps: p.Eps, UnbiasedVar: p.UnbiasedVar, ReLU: p.ReLU}
		xv := tensorcheck.Normal(r, rows*c)
		for j := range xv {
			xv[j] = 3 + 2*xv[j] // off-centre, to catch cancellation
		}
		vec := func() []float32 { return tensorcheck.Normal(r, c) }
		gam, bet, rm, dyv := vec(), vec(), vec(), tensorcheck.Normal(r, rows*c)
		rv := abs(vec())
		x, dy := tensor.FromSlice(xv, rows, c), tensor.FromSlice(dyv, rows, c)
		gamma, beta := tensor.FromSlice(gam, c), tensor.FromSlice(bet, c)
		wantRM, wantRV := tensor.FromSlice(append([]float32(nil), rm...), c), tensor.FromSlice(append([]float32(nil), rv...), c)
		wantY, wantMean, wantInv := tensor.Zeros(rows, c), tensor.Zeros(c), tensor.Zeros(c)
		ref.BatchNormTrain(wantY, x, gamma, beta, wantRM, wantRV, wantMean, wantInv, tp)
		wantInf := tensor.Zeros(rows, c)
		ref.BatchNormInference(wantInf, x, gamma, beta, tensor.FromSlice(rm, c), tensor.FromSlice(rv, c), tp)
		wantDx, wantDg, wantDb := tensor.Zeros(rows, c), tensor.Zeros(c), tensor.Zeros(c)
		ref.BatchNormBackward(wantDx, wantDg, wantDb, x, dy, gamma, wantMean, wantInv)
		g.run(t, func(s *sess) {
			dx, ddy, dg, db := s.up(xv), s.up(dyv), s.up(gam), s.up(bet)
			drm, drv, y, mean, inv := s.up(rm), s.up(rv), s.out(rows*c), s.out(c), s.out(c)
			s.must(s.k.BatchNormTrain(st, rows, c, p, y.p, dx.p, dg.p, db.p, drm.p, drv.p, mean.p, inv.p))
			what := fmt.Sprintf("%dx%d", rows, c)
			near(t, what+" train y", s.down(y), wantY.Data(), rel(1e-5, 1e-5))
			near(t, what+" saved mean", s.down(mean), wantMean.Data(), rel(1e-6, 1e-6))
			near(t, what+" saved invstd", s.down(inv), wantInv.Data(), rel(1e-5, 0))
			near(t, what+" running mean", s.down(drm), wantRM.Data(), rel(1e-6, 1e-6))
			near(t, what+" running var", s.down(drv), wantRV.Data(), rel(1e-5, 0))
			yi := s.out(rows * c)
			s.must(s.k.BatchNormInference(st, rows, c, p, yi.p, dx.p, dg.p, db.p, s.up(rm).p, s.up(rv).p))
			near(t, what+" inference y", s.down(yi), wantInf.Data(), rel(1e-5, 1e-5))
			// Backward from the reference's saved statistics, with and without dx.
			sm, si := s.up(wantMean.Data()), s.up(wantInv.Data())
			gx, gg, gb := s.out(rows*c), s.out(c), s.out(c)
			s.must(s.k.BatchNormBackward(st, rows, c, gx.p, gg.p, gb.p, dx.p, ddy.p, dg.p, sm.p, si.p))
			scale := 1e-5 * math.Sqrt(float64(rows))
			near(t, what+" dgamma", s.down(gg), wantDg.Data(), rel(1e-5, scale))
			near(t, what+" dbeta", s.down(gb), wantDb.Data(), rel(1e-5, scale))
			near(t, what+" dx", s.down(gx), wantDx.Data(), rel(1e-4, 1e-4))
			gg2 := s.out(c)
			s.must(s.k.BatchNormBackward(st, rows, c, 0, gg2.p, gb.p, dx.p, ddy.p, dg.p, sm.p, si.p))
			near(t, what+" dgamma without dx", s.down(gg2), wantDg.Data(), rel(1e-5, scale))
		})
	}
}

func TestActivationCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(10, 10))
	ref := tensor.Reference{}
	for _, n := range []int{1, 1000, 4097} {
		xv := tensorcheck.Normal(r, n)
		for i := range xv {
			xv[i] *= 4
		}
		special := []float32{0, 6, -6, 1e-3, -1e-3, 30, -30, 100, -100}
		copy(xv, special[:min(n, len(special))])
		dyv := tensorcheck.Normal(r, n)
		for a := cuda.Activation(0); a < cuda.NumActivations; a++ {
			ta, alpha := tensor.Activation(a), float32(0.1)
			x, dy := tensor.FromSlice(xv, n), tensor.FromSlice(dyv, n)
			wantY, wantDx := tensor.Zeros(n), tensor.Zeros(n)
			ref.Activate(wantY, x, ta, alpha)
			ref.ActivateGrad(wantDx, x, wantY, dy, ta, alpha)
			g.run(t, func(s *sess) {
				dx, ddy, y, gx := s.up(xv), s.up(dyv), s.out(n), s.out(n)
				s.must(s.k.Activate(cuda.Stream{}, a, alpha, n, y.p, dx.p))
				s.must(s.k.ActivateGrad(cuda.Stream{}, a, alpha, n, gx.p, dx.p, s.up(wantY.Data()).p, ddy.p))
				near(t, fmt.Sprintf("%v n=%d", ta, n), s.down(y), wantY.Data(), rel(4e-6, 1e-7))
				near(t, fmt.Sprintf("%v grad n=%d", ta, n), s.down(gx), wantDx.Data(), rel(4e-6, 1e-7))
			})
		}
	}
}

func TestElementwiseCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(11, 11))
	ref, st := tensor.Reference{}, cuda.Stream{}
	for _, n := range []int{1, 33, 100003} {
		xv, yv := tensorcheck.Normal(r, n), tensorcheck.Normal(r, n)
		x, y := tensor.FromSlice(xv, n), tensor.FromSlice(yv, n)
		add, mul, scale, axpy := tensor.Zeros(n), tensor.Zeros(n), tensor.Zeros(n), tensor.FromSlice(append([]float32(nil), yv...), n)
		ref.Add(add, x, y)
		ref.Mul(mul, x, y)
		ref.Scale(scale, -1.25, x)
		ref.Axpy(axpy, 0.75, x)
		g.run(t, func(s *sess) {
			dx, dy, z1, z2, z3, f := s.up(xv), s.up(yv), s.out(n), s.out(n), s.out(n), s.out(n)
			s.must(s.k.Add(st, n, z1.p, dx.p, dy.p))
			s.must(s.k.Mul(st, n, z2.p, dx.p, dy.p))
			s.must(s.k.Scale(st, n, -1.25, z3.p, dx.p))
			s.must(s.k.Fill(st, n, 2.5, f.p))
			same(t, "add", s.down(z1), add.Data())
			same(t, "mul", s.down(z2), mul.Data())
			same(t, "scale", s.down(z3), scale.Data())
			same(t, "fill", s.down(f), filled(n, 2.5))
			s.must(s.k.Axpy(st, n, 0.75, dy.p, dx.p)) // in place, y += 0.75·x
			near(t, "axpy", s.down(dy), axpy.Data(), rel(0x1p-23, 0))
		})
	}
}

// ---- softmax, cross-entropy, sums ----

func TestSoftmaxCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(12, 12))
	ref := tensor.Reference{}
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {5, 33}, {33, 1000}, {1000, 10}} {
		rows, cols := sh[0], sh[1]
		xv, dyv := tensorcheck.Normal(r, rows*cols), tensorcheck.Normal(r, rows*cols)
		for i := range xv {
			xv[i] *= 5
		}
		for _, log := range []bool{false, true} {
			x, dy := tensor.FromSlice(xv, rows, cols), tensor.FromSlice(dyv, rows, cols)
			wantY, wantDx := tensor.Zeros(rows, cols), tensor.Zeros(rows, cols)
			ref.Softmax(wantY, x, 1, log)
			ref.SoftmaxGrad(wantDx, wantY, dy, 1, log)
			g.run(t, func(s *sess) {
				y, dx := s.out(rows*cols), s.out(rows*cols)
				s.must(s.k.Softmax(cuda.Stream{}, rows, cols, log, y.p, s.up(xv).p))
				s.must(s.k.SoftmaxGrad(cuda.Stream{}, rows, cols, log, dx.p, s.up(wantY.Data()).p, s.up(dyv).p))
				what := fmt.Sprintf("%dx%d log=%v", rows, cols, log)
				near(t, what, s.down(y), wantY.Data(), rel(1e-6, 1e-7))
				near(t, what+" grad", s.down(dx), wantDx.Data(), rel(1e-6, 1e-6))
			})
		}
	}
}

func TestSoftmaxCrossEntropyCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(13, 13))
	for i, sh := range [][2]int{{1, 1}, {1, 10}, {7, 3}, {100, 10}, {3000, 37}} {
		n, k := sh[0], sh[1]
		smoothing := float32(i%2) * 0.1
		xv := tensorcheck.Normal(r, n*k)
		labels, labels32 := make([]int, n), make([]int32, n)
		for j := range labels {
			labels[j] = r.IntN(k)
			labels32[j] = int32(labels[j])
		}
		grad := tensor.Zeros(n, k)
		want := tensor.Reference{}.SoftmaxCrossEntropy(grad, tensor.FromSlice(xv, n, k), labels, smoothing)
		g.run(t, func(s *sess) {
			loss, dg, logits, lab := s.out(1), s.out(n*k), s.up(xv), s.upInts(labels32)
			s.must(s.k.SoftmaxCrossEntropy(cuda.Stream{}, n, k, smoothing, loss.p, dg.p, logits.p, lab))
			what := fmt.Sprintf("%dx%d smoothing %v", n, k, smoothing)
			near(t, what+" loss", s.down(loss), []float32{want}, rel(1e-6, 0))
			near(t, what+" grad", s.down(dg), grad.Data(), rel(1e-5, 1e-9))
			loss2 := s.out(1)
			s.must(s.k.SoftmaxCrossEntropy(cuda.Stream{}, n, k, smoothing, loss2.p, 0, logits.p, lab))
			near(t, what+" loss without grad", s.down(loss2), []float32{want}, rel(1e-6, 0))
		})
	}
	g.run(t, func(s *sess) { // a label out of range: NaN, not a crash
		loss := s.out(1)
		s.must(s.k.SoftmaxCrossEntropy(cuda.Stream{}, 2, 3, 0, loss.p, 0, s.up(tensorcheck.Normal(r, 6)).p, s.upInts([]int32{1, 3})))
		if v := s.down(loss)[0]; !math.IsNaN(float64(v)) {
			t.Errorf("loss with label 3 of 3 classes = %v, want NaN", v)
		}
	})
}

func TestSumCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(14, 14))
	for _, sh := range [][3]int{{1, 1, 1}, {1, 100000, 1}, {7, 33, 1}, {1000, 3, 1}, {1, 5000, 64}, {3, 17, 33}, {2, 0, 3}, {5, 1, 70}} {
		outer, n, inner := sh[0], sh[1], sh[2]
		src := tensorcheck.Normal(r, outer*n*inner)
		want := tensor.Zeros(outer, inner)
		tensor.Reference{}.Sum(want, tensor.FromSlice(src, outer, n, inner), 1)
		wantAbs := tensor.Zeros(outer, inner)
		tensor.Reference{}.Sum(wantAbs, tensor.FromSlice(abs(src), outer, n, inner), 1)
		g.run(t, func(s *sess) {
			dst := s.out(outer * inner)
			s.must(s.k.Sum(cuda.Stream{}, outer, n, inner, dst.p, s.up(src).p))
			near(t, fmt.Sprint("sum ", sh), s.down(dst), want.Data(), bound(wantAbs.Data(), 0, 0))
		})
	}
	src := tensorcheck.Normal(r, 1<<20)
	var total float64
	for _, v := range src {
		total += float64(v)
	}
	g.run(t, func(s *sess) {
		dst := s.out(1)
		s.must(s.k.SumAll(cuda.Stream{}, len(src), dst.p, s.up(src).p))
		near(t, "sum of all", s.down(dst), []float32{float32(total)}, rel(1e-6, 0))
	})
}

// ---- layout: row broadcast and batched transposes ----

func TestLayoutCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(15, 15))
	for _, sh := range [][3]int{{1, 1, 1}, {1, 7, 17}, {2, 33, 3}, {3, 64, 32}, {2, 1, 100}, {4, 100, 1}, {1, 1000, 70}, {2, 0, 5}} {
		batch, rows, cols := sh[0], sh[1], sh[2]
		src := tensorcheck.Normal(r, batch*rows*cols)
		want := make([]float32, len(src))
		for z := 0; z < batch; z++ {
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					want[(z*cols+j)*rows+i] = src[(z*rows+i)*cols+j]
				}
			}
		}
		b := tensorcheck.Normal(r, cols)
		wantB := make([]float32, rows*cols)
		for i := range wantB {
			wantB[i] = b[i%cols]
		}
		g.run(t, func(s *sess) {
			dst, y := s.out(len(src)), s.out(rows*cols)
			s.must(s.k.Transpose(cuda.Stream{}, batch, rows, cols, dst.p, s.up(src).p))
			same(t, fmt.Sprint("transpose ", sh), s.down(dst), want)
			s.must(s.k.BroadcastRows(cuda.Stream{}, rows, cols, y.p, s.up(b).p))
			same(t, fmt.Sprint("broadcast ", sh), s.down(y), wantB)
		})
	}
}

// TestTransposeCUDALarge transposes more row tiles and more matrices
// than a grid's y and z hold: the kernel loops over them.
func TestTransposeCUDALarge(t *testing.T) {
	g := useGPU(t)
	for _, sh := range [][3]int{{1, 65535*32 + 40, 1}, {70000, 1, 2}} {
		batch, rows, cols := sh[0], sh[1], sh[2]
		src := make([]float32, batch*rows*cols)
		for i := range src {
			src[i] = float32(i)
		}
		want := make([]float32, len(src))
		for z := 0; z < batch; z++ {
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					want[(z*cols+j)*rows+i] = src[(z*rows+i)*cols+j]
				}
			}
		}
		g.run(t, func(s *sess) {
			dst := s.out(len(src))
			s.must(s.k.Transpose(cuda.Stream{}, batch, rows, cols, dst.p, s.up(src).p))
			same(t, fmt.Sprint("transpose ", sh), s.down(dst), want)
		})
	}
}

// ---- max, strided copies, padding, dropout ----

func TestShapeKernelsCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(16, 16))
	ref := tensor.Reference{}
	for _, sh := range [][3]int{{1, 1, 1}, {3, 17, 5}, {2, 0, 3}, {1, 1000, 1}, {33, 7, 1}} {
		outer, n, inner := sh[0], sh[1], sh[2]
		src := tensorcheck.Normal(r, outer*n*inner)
		if len(src) > 3 {
			src[2] = float32(math.NaN())
		}
		want := tensor.Zeros(outer, inner)
		ref.Max(want, tensor.FromSlice(src, outer, n, inner), 1)
		g.run(t, func(s *sess) {
			dst := s.out(outer * inner)
			s.must(s.k.MaxAxis(cuda.Stream{}, outer, n, inner, dst.p, s.up(src).p))
			same(t, fmt.Sprint("max ", sh), s.down(dst), want.Data())
		})
	}
	// concatenation of [2,3,4] and [2,5,4] along axis 1, and back
	a, b := tensorcheck.Normal(r, 24), tensorcheck.Normal(r, 40)
	whole := tensor.Zeros(2, 8, 4)
	ref.Concat(whole, 1, tensor.FromSlice(a, 2, 3, 4), tensor.FromSlice(b, 2, 5, 4))
	g.run(t, func(s *sess) {
		w := s.out(64)
		s.must(s.k.CopyStrided(cuda.Stream{}, 2, 12, 32, 12, w.p, s.up(a).p))
		s.must(s.k.CopyStrided(cuda.Stream{}, 2, 20, 32, 20, w.p+48, s.up(b).p))
		same(t, "concat", s.down(w), whole.Data())
		back := s.out(40)
		s.must(s.k.CopyStrided(cuda.Stream{}, 2, 20, 20, 32, back.p, w.p+48))
		same(t, "split", s.down(back), b)
	})
	for _, mode := range []tensor.PadMode{tensor.PadConstant, tensor.PadReflect, tensor.PadEdge} {
		src := tensorcheck.Normal(r, 3*4*5)
		pads := [][2]int{{1, 0}, {3, 2}, {-1, 2}}
		want := tensor.Zeros(4, 9, 6)
		ref.Pad(want, tensor.FromSlice(src, 3, 4, 5), pads, mode, 2.5)
		g.run(t, func(s *sess) {
			dst := s.out(4 * 9 * 6)
			s.must(s.k.Pad(cuda.Stream{}, []int{4, 9, 6}, []int{3, 4, 5}, []int{1, 3, -1}, cuda.PadMode(mode), 2.5, dst.p, s.up(src).p))
			same(t, fmt.Sprint("pad mode ", mode), s.down(dst), want.Data())
		})
	}
	for _, p := range []float32{0, 0.3, 0.9} {
		x := tensorcheck.Normal(r, 10007)
		y, mask := tensor.Zeros(10007), tensor.Zeros(10007)
		ref.Dropout(y, mask, tensor.FromSlice(x, 10007), p, 77)
		g.run(t, func(s *sess) {
			dy, dm := s.out(10007), s.out(10007)
			s.must(s.k.Dropout(cuda.Stream{}, 10007, p, 1/(1-p), 77, dy.p, dm.p, s.up(x).p))
			same(t, fmt.Sprint("dropout mask p=", p), s.down(dm), mask.Data())
			same(t, fmt.Sprint("dropout y p=", p), s.down(dy), y.Data())
		})
	}
}

// ---- optimizers: the same bits as the Go updates ----

func TestOptimizersCUDA(t *testing.T) {
	g := useGPU(t)
	r := rand.New(rand.NewPCG(15, 15))
	st := cuda.Stream{}
	for _, n := range []int{1, 1000, 70001} {
		w0, grad, m0, v0 := tensorcheck.Normal(r, n), tensorcheck.Normal(r, n), tensorcheck.Normal(r, n), abs(tensorcheck.Normal(r, n))
		for _, c := range []struct {
			momentum, wd    float32
			nesterov, first bool
		}{{0, 0, false, false}, {0, 1e-2, false, false}, {0.9, 1e-4, false, true}, {0.9, 1e-4, false, false}, {0.9, 0, true, false}} {
			w, buf := append([]float32(nil), w0...), append([]float32(nil), m0...)
			tensor.SGDUpdate(w, grad, buf, 0.05, c.momentum, c.wd, c.nesterov, c.first)
			g.run(t, func(s *sess) {
				dw, dbuf := s.up(w0), s.up(m0)
				s.must(s.k.SGD(st, n, 0.05, c.momentum, c.wd, c.nesterov, c.first, dw.p, s.up(grad).p, dbuf.p))
				what := fmt.Sprintf("SGD n=%d %+v", n, c)
				same(t, what+" w", s.down(dw), w)
				if c.momentum != 0 {
					same(t, what+" buf", s.down(dbuf), buf)
				} else {
					same(t, what+" buf untouched", s.down(dbuf), m0)
				}
			})
		}
		for _, decoupled := range []bool{false, true} {
			p := cuda.AdamStep{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2, Decoupled: decoupled}
			step := 3.0
			p.StepSize = float32(float64(p.LR) / (1 - math.Pow(float64(p.Beta1), step)))
			p.SqrtBC2 = float32(math.Sqrt(1 - math.Pow(float64(p.Beta2), step)))
			w, m, v := append([]float32(nil), w0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
			tensor.AdamUpdate(w, grad, m, v, p.LR, p.Beta1, p.Beta2, p.Eps, p.WeightDecay, p.StepSize, p.SqrtBC2, decoupled)
			g.run(t, func(s *sess) {
				dw, dm, dv := s.up(w0), s.up(m0), s.up(v0)
				s.must(s.k.Adam(st, n, p, dw.p, s.up(grad).p, dm.p, dv.p))
				what := fmt.Sprintf("Adam n=%d decoupled=%v", n, decoupled)
				same(t, what+" w", s.down(dw), w)
				same(t, what+" m", s.down(dm), m)
				same(t, what+" v", s.down(dv), v)
			})
		}
	}
}

// TestShapesMatchTensor checks, without a GPU, that the output sizes the
// kernels assume are the tensor package's.
func TestShapesMatchTensor(t *testing.T) {
	for _, p := range convCases {
		oh, ow := p.OutSize()
		th, tw := convParams(p).OutSize(p.H, p.W, p.KH, p.KW)
		if oh != th || ow != tw {
			t.Errorf("%+v: OutSize %dx%d, tensor says %dx%d", p, oh, ow, th, tw)
		}
	}
	for _, p := range poolCases {
		oh, ow := p.OutSize()
		th, tw := tensor.PoolParams{KH: p.KH, KW: p.KW, CeilMode: p.CeilMode, ConvParams: tensor.ConvParams{
			StrideH: p.StrideH, StrideW: p.StrideW, DilationH: p.DilationH, DilationW: p.DilationW,
			PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight}}.OutSize(p.H, p.W)
		if oh != th || ow != tw {
			t.Errorf("%+v: OutSize %dx%d, tensor says %dx%d", p, oh, ow, th, tw)
		}
	}
	names := []string{"relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "Activation(6)"} // the last: none
	for a := cuda.Activation(0); a <= cuda.NumActivations; a++ {
		if got := tensor.Activation(a).String(); got != names[a] {
			t.Errorf("activation %d is tensor's %s, the kernels' %s", a, got, names[a])
		}
	}
}

// BenchmarkLaunch times queueing one small kernel (Axpy on one element,
// four arguments) and waiting for nothing: the host's fixed cost of every
// operation of the CUDA backend. It allocates nothing.
func BenchmarkLaunch(b *testing.B) {
	g := useGPU(b)
	g.run(b, func(s *sess) {
		x, y := s.up([]float32{1}), s.up([]float32{2})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.must(s.k.Axpy(cuda.Stream{}, 1, 0.5, y.p, x.p))
		}
	})
}
