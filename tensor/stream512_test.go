package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// streamOps are the slice kernels with AVX-512 streaming twins
// (kernels/amd64/stream512_amd64.s), each run on z (and x, y) in place.
var streamOps = []struct {
	name string
	run  func(kn *gemmKernel, z, x, y []float32)
}{
	{"add", func(kn *gemmKernel, z, x, y []float32) { addF32(kn, z, x, y) }},
	{"mul", func(kn *gemmKernel, z, x, y []float32) { mulF32(kn, z, x, y) }},
	{"sub", func(kn *gemmKernel, z, x, y []float32) { subF32(kn, z, x, y) }},
	{"max", func(kn *gemmKernel, z, x, y []float32) { maxF32(kn, z, x, y) }},
	{"fma", func(kn *gemmKernel, z, x, y []float32) { fmaF32(kn, z, x, y) }},
	{"scale", func(kn *gemmKernel, z, x, _ []float32) { scaleF32(kn, z, -1.25, x) }},
	{"axpy", func(kn *gemmKernel, z, x, _ []float32) { axpyF32(kn, z, 0.75, x) }},
	{"relu", func(kn *gemmKernel, z, x, _ []float32) { reluF32(kn, z, x) }},
	{"reluGrad", func(kn *gemmKernel, z, x, y []float32) { reluGradF32(kn, z, x, y) }},
	{"clamp", func(kn *gemmKernel, z, x, _ []float32) { clampF32(kn, z, x, 0, 6) }},
	{"clampNeg", func(kn *gemmKernel, z, x, _ []float32) { clampF32(kn, z, x, float32(math.Copysign(0, -1)), 1) }},
	{"colSum", func(kn *gemmKernel, z, x, _ []float32) { colSum(kn, z, x, 3, len(z)) }},
	{"colSum1", func(kn *gemmKernel, z, x, _ []float32) { colSum(kn, z, x, 1, len(z)) }},
}

var streamSpecials = []float32{0, float32(math.Copysign(0, -1)), 6, -6, 1, 1e-45, -1e-45,
	float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc01234), math.Float32frombits(0xffc05678)}

// runStreamOp runs op on copies of z, x, y (x holding three rows of len(z)
// for the column sums) inside guard bands, on the tier t, and returns z.
func runStreamOp(t *testing.T, tier kernels.TestTier, run func(kn *gemmKernel, z, x, y []float32), z, x, y []float32) []float32 {
	t.Helper()
	kn := cpuFor(t, tier, CPUOptions{}).kern()
	n := len(z)
	buf := make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = guard
	}
	zz := buf[guardLen : guardLen+n]
	copy(zz, z)
	run(kn, zz, append([]float32(nil), x...), append([]float32(nil), y...))
	for i, v := range buf {
		if (i < guardLen || i >= len(buf)-guardLen) && math.Float32bits(v) != math.Float32bits(guard) {
			t.Fatalf("tier %s: wrote outside z at buffer index %d", tier, i)
		}
	}
	return append([]float32(nil), zz...)
}

// checkStream512 runs every streaming op on the AVX-512 assembly and on its
// stand-ins (the AVX2 kernels, the plain Go loops and colSumStandIn), and
// requires the same bits (any NaN for a NaN).
func checkStream512(t *testing.T, z, x, y []float32) {
	asm, si := kernels.TestTier{Tier: kernels.AVX512}, kernels.TestTier{Tier: kernels.AVX512, StandIns: true}
	for _, op := range streamOps {
		got := runStreamOp(t, asm, op.run, z, x, y)
		want := runStreamOp(t, si, op.run, z, x, y)
		for i := range want {
			g, w := got[i], want[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("%s, n=%d: [%d] = %v (%#x), stand-in %v (%#x); x=%v y=%v z=%v", op.name, len(z), i, g,
					math.Float32bits(g), w, math.Float32bits(w), x[i], y[i], z[i])
			}
		}
	}
}

// TestStream512MatchesStandIns checks the AVX-512 streaming kernels
// against their stand-ins bit for bit on every length up to 200 (every
// masked tail, each after 0–3 full vectors and loop steps) and a few
// long ones, with ±0, ±Inf, NaNs and subnormals among the values. It needs
// AVX-512 hardware; elsewhere the stand-ins run in the tier-walking tests.
func TestStream512MatchesStandIns(t *testing.T) {
	if ok, why := kernels.Supported(kernels.AVX512); !ok {
		t.Skip(why)
	}
	r := rand.New(rand.NewPCG(512, 1))
	vals := func(n int) []float32 {
		return withSpecials(r, n, streamSpecials).data
	}
	lens := []int{1000, 4099, 65536 + 13}
	for n := 0; n <= 200; n++ {
		lens = append(lens, n)
	}
	for _, n := range lens {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			checkStream512(t, vals(n), vals(3*n), vals(n))
		})
	}
}

// TestColSumMatchesReference checks colSum on every tier against float64
// sums, on ragged widths, row counts and row strides.
func TestColSumMatchesReference(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(7, uint64(cpu.kern().tier)))
		for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, 200} {
			for _, rows := range []int{0, 1, 2, 3, 5, 64} {
				ldx := n + r.IntN(5)
				x := make([]float32, max(rows*ldx, 1))
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				acc := make([]float32, n)
				want := make([]float64, n)
				for j := range acc {
					acc[j] = float32(r.NormFloat64())
					want[j] = float64(acc[j])
					for q := 0; q < rows; q++ {
						want[j] += float64(x[q*ldx+j])
					}
				}
				colSum(cpu.kern(), acc, x, rows, ldx)
				for j, v := range acc {
					if math.Abs(float64(v)-want[j]) > 1e-5*float64(rows+1) {
						t.Fatalf("n=%d rows=%d ldx=%d: acc[%d] = %v, want %v", n, rows, ldx, j, v, want[j])
					}
				}
			}
		}
	})
}

// FuzzStream512 runs the AVX-512 streaming kernels against their
// stand-ins on values and a length taken from the input.
func FuzzStream512(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 0x7f, 0xc0, 0, 1, 0x80, 0, 0, 0})
	f.Add(make([]byte, 4*37))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ok, why := kernels.Supported(kernels.AVX512); !ok {
			t.Skip(why)
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		n := len(v) / 3
		x := make([]float32, 3*n)
		copy(x, v)
		checkStream512(t, v[:n], x, v[n:2*n])
	})
}

// BenchmarkStream times the streaming slice kernels and the optimizer
// steps on each tier at L1-, L2- and memory-sized lengths (GB/s counts
// every float read and written once).
func BenchmarkStream(b *testing.B) {
	type bop struct {
		name   string
		floats int // floats moved per element
		run    func(kn *gemmKernel, z, x, y, w []float32)
	}
	adam := &adamConsts{0.9, 0.1, 0.999, 0.001, 1e-8, 0, 1e-3, 1, 1}
	ops := []bop{
		{"add", 3, func(kn *gemmKernel, z, x, y, _ []float32) { addF32(kn, z, x, y) }},
		{"axpy", 3, func(kn *gemmKernel, z, x, _, _ []float32) { axpyF32(kn, z, 0.5, x) }},
		{"relu", 2, func(kn *gemmKernel, z, x, _, _ []float32) { reluF32(kn, z, x) }},
		{"reluGrad", 3, func(kn *gemmKernel, z, x, y, _ []float32) { reluGradF32(kn, z, x, y) }},
		{"clamp", 2, func(kn *gemmKernel, z, x, _, _ []float32) { clampF32(kn, z, x, 0, 6) }},
		{"max", 3, func(kn *gemmKernel, z, x, y, _ []float32) { maxF32(kn, z, x, y) }},
		{"colSum", 1, func(kn *gemmKernel, z, x, _, _ []float32) { colSum(kn, z[:64], x, len(z)/64, 64) }},
		{"sgd", 5, func(kn *gemmKernel, z, x, y, _ []float32) { sgdFast(kn, z, x, y, 0.1, 0.9, 1e-4, false, false) }},
		{"adam", 7, func(kn *gemmKernel, z, x, y, w []float32) { adamFast(kn, z, x, y, w, adam, false) }},
	}
	for _, n := range []int{4096, 65536, 1 << 21} {
		z, x, y, w := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(i%7)-3, float32(i%5)
		}
		for _, op := range ops {
			for _, tier := range []kernels.Tier{kernels.AVX2, kernels.AVX512} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", op.name, n, tier), func(b *testing.B) {
					cpu, err := NewCPU(tier, false)
					if err != nil {
						b.Skip(err)
					}
					kn := cpu.kern()
					for b.Loop() {
						op.run(kn, z, x, y, w)
					}
					b.ReportMetric(float64(op.floats*4*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				})
			}
		}
	}
}
