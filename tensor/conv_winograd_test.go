package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestWinogradMatchesReference runs the Winograd path itself (whatever
// the dispatch thresholds) on random eligible convolutions, forward with
// and without bias and backward data, on every tier, against the float64
// reference, within winoErrorBound. Outputs start as NaN, so a missed
// output fails; every fifth case uses chunks of one microkernel tile, so
// chunks end inside tile rows and images.
func TestWinogradMatchesReference(t *testing.T) {
	cases := 200
	if testing.Short() {
		cases = 60
	}
	forEachTierParallel(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		r := rand.New(rand.NewPCG(21, uint64(cpu.kern().tier)))
		worst := 0.0 // largest error / bound seen
		short := withWinoTiles(kn, kn.mr)
		fixed := []convCase{ // C > KC (two K blocks on AVX2), and odd sizes with asymmetric padding
			{n: 1, h: 5, w: 6, c: 300, o: 20, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
			{n: 2, h: 7, w: 1, c: 17, o: 33, kh: 3, kw: 3, p: ConvParams{PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 2}},
			{n: 5, h: 17, w: 4, c: 33, o: 17, kh: 3, kw: 3, p: ConvParams{PadTop: 0, PadLeft: 2, PadBottom: 2, PadRight: 0}},
		}
		for i := 0; i < cases+len(fixed); i++ {
			var cc convCase
			if i < len(fixed) {
				cc = fixed[i]
			} else {
				cc = winoCase(r)
			}
			kn := kn
			if i%5 == 0 {
				kn = short
			}
			switch i % 4 { // F(2×2) and F(4×4) forced where the tier has both
			case 1:
				kn = withWinoM(kn, 2)
			case 3:
				kn = withWinoM(kn, 4)
			}
			worst = max(worst, checkWinogradCase(t, kn, r, cc, i%3 == 0))
		}
		t.Logf("largest error: %.3g of the bound", worst)
	})
}

// checkWinogradCase runs convWinograd on kn for a random instance of cc
// (without bias if noBias), forward and backward data (the forward
// convolution of dy by the weights transposed and flipped, under padding
// r − 1 − pad), against the reference within winoErrorBound, outputs
// starting as NaN, and returns the largest error as a share of the bound.
func checkWinogradCase(t *testing.T, kn *gemmKernel, r *rand.Rand, cc convCase, noBias bool) float64 {
	t.Helper()
	x, w, bias, y := cc.tensors(r)
	if noBias {
		bias = nil
	}
	g := convDims("Conv2D", x, w, y, bias, cc.p)
	var b []float32
	if bias != nil {
		b = bias.data
	}
	fill(y.data, float32(math.NaN()))
	convWinograd(kn, g, y.data, x.data, w.data, b, false)
	want := y.Clone()
	Reference{}.Conv2D(want, x, w, bias, cc.p)
	bound := winoErrorBound(kn.winoTile(g), x.data, w.data, b, cc.n, cc.h, cc.w, cc.c, cc.o, cc.p)
	worst := checkBound(t, "forward "+cc.String(), y.data, want.data, bound)

	dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
	dx := Full(float32(math.NaN()), x.shape...)
	f, ok := flippedGeom(g)
	if !ok {
		t.Fatalf("%v: no flipped geometry", cc)
	}
	convWinograd(kn, f, dx.data, dy.data, w.data, nil, true)
	dxWant := Zeros(x.shape...)
	Reference{}.Conv2DBackwardData(dxWant, dy, w, cc.p)
	bound = winoErrorBound(kn.winoTile(f), dy.data, flipWeights(w.data, cc.o, cc.c, cc.kh), nil, cc.n, g.oh, g.ow, cc.o, cc.c, f.p)
	return max(worst, checkBound(t, "backward data "+cc.String(), dx.data, dxWant.data, bound))
}

// checkBound fails unless |got − want| ≤ bound elementwise, and returns the
// largest ratio of the two.
func checkBound(t *testing.T, what string, got, want []float32, bound []float64) float64 {
	t.Helper()
	worst := 0.0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= bound[i]) {
			t.Fatalf("%s: [%d] = %v, want %v (error %.3g, bound %.3g)", what, i, got[i], want[i], d, bound[i])
		}
		if bound[i] > 0 {
			worst = max(worst, d/bound[i])
		}
	}
	return worst
}

// flipWeights returns the weights of the forward convolution that is the
// backward-data pass of w [O][C][k][k]: w'[c][o][a][b] = w[o][c][k−1−a][k−1−b].
func flipWeights(w []float32, o, c, k int) []float32 {
	wf := make([]float32, len(w))
	kk := k * k
	for oo := 0; oo < o; oo++ {
		for cc := 0; cc < c; cc++ {
			for t := 0; t < kk; t++ {
				wf[(cc*o+oo)*kk+t] = w[(oo*c+cc)*kk+kk-1-t]
			}
		}
	}
	return wf
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// TestWinogradDeterministic checks that the result does not depend on the
// number of threads nor on the chunk size (bit for bit).
func TestWinogradDeterministic(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
		r := rand.New(rand.NewPCG(22, 0))
		cc := convCase{n: 3, h: 19, w: 22, c: 37, o: 45, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 2, PadBottom: 0, PadRight: 1}}
		x, w, bias, y := cc.tensors(r)
		g := convDims("Conv2D", x, w, y, bias, cc.p)
		var first []float32
		for _, run := range []struct{ procs, chunk int }{{1, 0}, {4, 0}, {3, 0}, {2, kn.mr}, {1, 7 * kn.mr}} {
			runtime.GOMAXPROCS(run.procs)
			convWinograd(withWinoTiles(kn, run.chunk), g, y.data, x.data, w.data, bias.data, false)
			if first == nil {
				first = append([]float32(nil), y.data...)
				continue
			}
			for i := range first {
				if math.Float32bits(y.data[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%d threads, chunk %d: [%d] = %v, with 1 thread %v", run.procs, run.chunk, i, y.data[i], first[i])
				}
			}
		}
	})
}

// TestWinogradKernels checks the assembly transforms of every tier the
// machine has (the AVX2 ones, which the AVX-512 tier borrows), with the Go twin on the
// channels they leave, against the Go twin alone, bit for bit, with NaN
// guards around every output row.
func TestWinogradKernels(t *testing.T) {
	for _, k := range rowKernels() {
		if !k.ok {
			continue
		}
		r := rand.New(rand.NewPCG(23, 0))
		rnd := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
			return s
		}
		same := func(what string, got, want []float32) {
			t.Helper()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, %s: [%d] = %v, Go %v", k.name, what, i, got[i], want[i])
				}
			}
		}
		for _, n := range []int{5, 8, 13, 16, 24, 31, 40, 64, 136} {
			xs, rs, vs := n+3, 4*n+19, n+5 // strides in floats, wider than the data
			x := rnd(3*rs + 3*xs + n)
			v, vGo := make([]float32, 16*vs), make([]float32, 16*vs)
			fill(v, float32(math.NaN()))
			fill(vGo, float32(math.NaN()))
			i := winogradInputKernels(k.kn, n, x, xs, rs, v, vs)
			if i != n&^7 { // the Go twin is for the last n mod 8 only
				t.Fatalf("%s: the input kernels took %d of %d channels, want %d", k.name, i, n, n&^7)
			}
			winogradInputGo(i, n, x, xs, rs, v, vs)
			winogradInputGo(0, n, x, xs, rs, vGo, vs)
			same(fmt.Sprintf("input n=%d", n), v, vGo) // the guards too: NaN where nothing was written

			ms, ys, yr := n+7, n+2, 2*n+11
			m, b := rnd(15*ms+n), rnd(n)
			y, yGo := make([]float32, yr+ys+n+5), make([]float32, yr+ys+n+5)
			fill(y, float32(math.NaN()))
			fill(yGo, float32(math.NaN()))
			i = winogradOutputKernels(k.kn, n, m, ms, y, ys, yr, b)
			if i != n&^7 {
				t.Fatalf("%s: the output kernels took %d of %d channels, want %d", k.name, i, n, n&^7)
			}
			winogradOutputGo(i, n, m, ms, y, ys, yr, b)
			winogradOutputGo(0, n, m, ms, yGo, ys, yr, b)
			same(fmt.Sprintf("output n=%d", n), y, yGo)
		}
	}
}

// TestWinogradNoAllocs checks that the Winograd path allocates nothing
// once its buffers exist.
func TestWinogradNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	forEachTier(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		cc := convCase{n: 2, h: 12, w: 12, c: 32, o: 32, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}}
		x, w, bias, y := cc.tensors(rand.New(rand.NewPCG(24, 0)))
		g := convDims("Conv2D", x, w, y, bias, cc.p)
		f, _ := flippedGeom(g)
		dx := Zeros(x.shape...)
		run := func() {
			convWinograd(kn, g, y.data, x.data, w.data, bias.data, false)
			convWinograd(kn, f, dx.data, y.data, w.data, nil, true)
		}
		run()
		if a := testing.AllocsPerRun(10, run); a != 0 {
			t.Fatalf("%v allocations per call", a)
		}
	})
}

// BenchmarkWinogradPaths times the Winograd path against the path the
// convolution takes without it (row-tap, or im2col when O is not a
// multiple of NR), forward and backward data, on the current best tier.
// GRAFT_WINO_LAYERS="N,H,W,C,O;..." picks the layers (pad 1).
//
//	GOMAXPROCS=1 go test -run '^$' -bench WinogradPaths -cpu 1 ./tensor
func BenchmarkWinogradPaths(b *testing.B) {
	layers := [][5]int{{32, 56, 56, 64, 64}, {32, 28, 28, 128, 128}, {32, 14, 14, 256, 256}, {32, 7, 7, 512, 512},
		{32, 32, 32, 64, 64}, {32, 16, 16, 128, 128}, {32, 8, 8, 256, 256}, {32, 4, 4, 512, 512}}
	if env := os.Getenv("GRAFT_WINO_LAYERS"); env != "" {
		layers = layers[:0]
		for _, l := range strings.Split(env, ";") {
			var v [5]int
			for i, f := range strings.Split(l, ",") {
				v[i], _ = strconv.Atoi(strings.TrimSpace(f))
			}
			layers = append(layers, v)
		}
	}
	tiles, _ := strconv.Atoi(os.Getenv("GRAFT_WINO_TILES")) // 0: chosen by the layer
	for _, l := range layers {
		p := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		x := RandNormal(1, 0, 1, l[0], l[1], l[2], l[3])
		w := RandNormal(2, 0, 0.1, l[4], l[3], 3, 3)
		y := ConvOutput(x, w, p)
		dy := RandNormal(3, 0, 1, y.shape...)
		dx := Zeros(x.shape...)
		g := convDims("Conv2D", x, w, y, nil, p)
		for _, pass := range []string{"fwd", "bwd_data"} {
			for _, path := range []string{"direct", "winograd"} {
				name := fmt.Sprintf("layer=%dx%dx%dx%d-%d/pass=%s/path=%s", l[0], l[1], l[2], l[3], l[4], pass, path)
				b.Run(name, func(b *testing.B) {
					force := -1
					if path == "winograd" {
						force = 1
					}
					cpu, err := NewCPUWith(kernels.Current(), CPUOptions{Winograd: force, WinogradTiles: tiles})
					if err != nil {
						b.Fatal(err)
					}
					run := func() { cpu.Conv2D(y, x, w, nil, p) }
					if pass == "bwd_data" {
						run = func() { cpu.Conv2DBackwardData(dx, dy, w, p) }
					}
					run()
					b.ReportAllocs()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cpu0 := threadCPUNanos()
					b.ResetTimer()
					for b.Loop() {
						run()
					}
					b.ReportMetric(g.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					if cpu0 >= 0 {
						b.ReportMetric(g.flops*float64(b.N)/float64(threadCPUNanos()-cpu0), "cpuGFLOP/s")
					}
				})
			}
		}
	}
}

// threadCPUNanos returns the CPU time this OS thread has run, from Linux's
// /proc/thread-self/schedstat, or −1. On a shared machine it times a
// single-threaded run better than the wall clock: time spent descheduled
// does not count.
func threadCPUNanos() int64 {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// winoCase draws a Winograd-eligible convolution: 3×3, stride 1, one
// group, padding 0..2 on each side; N 1..5, H and W 1..19, C and O 1..28,
// or in every fourth case one image of up to 10×10 with C and O 41..80.
func winoCase(r *rand.Rand) convCase {
	for {
		cc := convCase{n: 1 + r.IntN(5), h: 1 + r.IntN(19), w: 1 + r.IntN(19), c: 1 + r.IntN(28), o: 1 + r.IntN(28), kh: 3, kw: 3,
			p: ConvParams{PadTop: r.IntN(3), PadLeft: r.IntN(3), PadBottom: r.IntN(3), PadRight: r.IntN(3)}}
		if r.IntN(4) == 0 { // wider: several NR panels, longer vector runs
			cc.c, cc.o = 41+r.IntN(40), 41+r.IntN(40)
			cc.n, cc.h, cc.w = 1, 1+r.IntN(10), 1+r.IntN(10)
		}
		if oh, ow := cc.p.OutSize(cc.h, cc.w, 3, 3); oh >= 1 && ow >= 1 {
			return cc
		}
	}
}

// winoErrorBound returns, for each output of the forward convolution of x
// [N,H,W,C] by w [O,C,r,r] (+ bias) computed by Winograd F(m×m, r×r) in
// float32 (m = 2 or 4 for r = 3, see winoTile; m = 2 for r = 5), the
// first-order bound on its rounding error:
//
//	|ŷ − y| ≤ (C + k)·u·(W + |bias|),  W = |Aᵀ|·(Σ_c |G||g_c||Gᵀ| ⊙ |Bᵀ||d_c||B|)·|A|
//
// with u = 2⁻²⁴ and W the algorithm run in float64 on absolute values
// (|M| for every matrix). Each stage's rounding is bounded by a number of
// unit roundoffs times the absolute-value version of its inputs, and k
// adds them up with room for the second-order terms.
//
// F(2×2): the weight transform 4u (two two-addition levels; the ·½ are
// exact), the input transform 2u (two levels of one addition), the sum
// over C channels of products (fused multiply-adds in any blocking) C·u,
// the output transform and the bias 5u, and the float64 reference's final
// rounding u: (C + 12)·u, k = 16. W is at most 64/9 times Σ|x||w| over
// the window when the magnitudes are uniform, so this is no looser than
// the direct method's own γ_{9C} bound, and a wrong tap (an error of size
// |x·w|) is far outside it.
//
// F(4×4): the weight transform 8u (two levels of two roundings, a product
// by a rounded constant and the constant's own rounding), the input
// transform 6u (two levels of three), the output transform 8u and the
// bias u, the sum C·u and the reference u: (C + 24)·u, k = 32. Its W is
// larger (the coefficients reach 5 and 8), which is the algorithm's
// accuracy, not the test's slack.
//
// F(2×2, 5×5) (w of 5×5 kernels): the weight transform 10u (two levels of
// up to five roundings), the input transform 6u, the output transform 8u,
// the bias, the sum and the reference: (C + 26)·u, k = 40.
func winoErrorBound(m int, x, w, bias []float32, n, h, wd, c, o int, p ConvParams) []float64 {
	ks := int(math.Round(math.Sqrt(float64(len(w) / (o * c))))) // the kernel's size: 3, or 5 for F(2×2, 5×5)
	oh, ow := p.OutSize(h, wd, ks, ks)
	th, tw := (oh+m-1)/m, (ow+m-1)/m
	abs := func(v float32) float64 { return math.Abs(float64(v)) }
	var gAbs, bAbs, aAbs [][]float64 // |G|, |Bᵀ|, |Aᵀ|
	k := 16
	switch {
	case ks == 5:
		k = 40
		gAbs, bAbs, aAbs = absRows(wino25G), absRows(wino4BT), absRows(wino25AT)
	case m == 2:
		gAbs = [][]float64{{1, 0, 0}, {.5, .5, .5}, {.5, .5, .5}, {0, 0, 1}}
		bAbs = [][]float64{{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}} // |Bᵀ|
		aAbs = [][]float64{{1, 1, 1, 0}, {0, 1, 1, 1}}                             // |Aᵀ|
	default:
		k = 32
		gAbs, bAbs, aAbs = absRows(wino4G), absRows(wino4BT), absRows(wino4AT)
	}
	a := m + ks - 1
	ne := a * a
	uh := make([]float64, o*c*ne) // Û[o][c][e] = |G|·|g|·|Gᵀ|
	for oo := 0; oo < o; oo++ {
		for cc := 0; cc < c; cc++ {
			for i := 0; i < a; i++ {
				for j := 0; j < a; j++ {
					var s float64
					for r := 0; r < ks; r++ {
						for q := 0; q < ks; q++ {
							s += gAbs[i][r] * abs(w[((oo*c+cc)*ks+r)*ks+q]) * gAbs[j][q]
						}
					}
					uh[(oo*c+cc)*ne+a*i+j] = s
				}
			}
		}
	}
	bound := make([]float64, n*oh*ow*o)
	vh := make([]float64, c*ne)
	mh := make([]float64, ne)
	for nn := 0; nn < n; nn++ {
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				// V̂[c][e] = |Bᵀ|·|d|·|B|
				for cc := 0; cc < c; cc++ {
					for i := 0; i < a; i++ {
						for j := 0; j < a; j++ {
							var s float64
							for r := 0; r < a; r++ {
								for q := 0; q < a; q++ {
									iy, ix := m*ty-p.PadTop+r, m*tx-p.PadLeft+q
									if iy < 0 || iy >= h || ix < 0 || ix >= wd {
										continue
									}
									s += bAbs[i][r] * abs(x[((nn*h+iy)*wd+ix)*c+cc]) * bAbs[j][q]
								}
							}
							vh[cc*ne+a*i+j] = s
						}
					}
				}
				for oo := 0; oo < o; oo++ {
					clear(mh)
					for cc := 0; cc < c; cc++ {
						for e := range mh {
							mh[e] += uh[(oo*c+cc)*ne+e] * vh[cc*ne+e]
						}
					}
					for dy := 0; dy < m && m*ty+dy < oh; dy++ {
						for dx := 0; dx < m && m*tx+dx < ow; dx++ {
							var s float64
							for e := range mh {
								s += aAbs[dy][e/a] * mh[e] * aAbs[dx][e%a]
							}
							if bias != nil {
								s += abs(bias[oo])
							}
							bound[((nn*oh+m*ty+dy)*ow+m*tx+dx)*o+oo] = float64(c+k) * 0x1p-24 * s
						}
					}
				}
			}
		}
	}
	return bound
}

// FuzzWinograd checks the Winograd path itself, forward and backward data,
// on every tier, against the reference within winoErrorBound, on shapes
// the fuzzer picks (FuzzConv2D's shapes stay below its dispatch
// thresholds).
//
//	go test -run '^$' -fuzz FuzzWinograd ./tensor
func FuzzWinograd(f *testing.F) {
	f.Add(uint64(1), uint8(2), uint8(7), uint8(9), uint8(17), uint8(33), uint8(0x55))
	f.Add(uint64(2), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0))
	f.Add(uint64(3), uint8(4), uint8(16), uint8(5), uint8(40), uint8(9), uint8(0xff))
	f.Fuzz(func(t *testing.T, seed uint64, n, h, w, c, o, geo uint8) {
		cc := convCase{n: 1 + int(n)%4, h: 1 + int(h)%24, w: 1 + int(w)%24, c: 1 + int(c)%48, o: 1 + int(o)%48, kh: 3, kw: 3,
			p: ConvParams{PadTop: int(geo) % 3, PadLeft: int(geo>>2) % 3, PadBottom: int(geo>>4) % 3, PadRight: int(geo>>6) % 3}}
		if oh, ow := cc.p.OutSize(cc.h, cc.w, 3, 3); oh < 1 || ow < 1 {
			return
		}
		for _, tier := range kernels.TestTiers() {
			kn := cpuFor(t, tier, CPUOptions{}).kern()
			kn = withWinoTiles(kn, int(seed%4)*kn.mr) // 0: the default
			if m := int(seed>>2) % 3; m > 0 {
				kn = withWinoM(kn, 2*m) // F(2×2) or F(4×4) forced where the tier has both
			}
			r := rand.New(rand.NewPCG(seed, 1))
			x, wt, bias, y := cc.tensors(r)
			g := convDims("Conv2D", x, wt, y, bias, cc.p)
			fill(y.data, float32(math.NaN()))
			convWinograd(kn, g, y.data, x.data, wt.data, bias.data, false)
			want := y.Clone()
			Reference{}.Conv2D(want, x, wt, bias, cc.p)
			bound := winoErrorBound(kn.winoTile(g), x.data, wt.data, bias.data, cc.n, cc.h, cc.w, cc.c, cc.o, cc.p)
			checkBound(t, tier.String()+" forward "+cc.String(), y.data, want.data, bound)

			dy := RandNormal(seed, 0, 1, y.shape...)
			dx, dxWant := Full(float32(math.NaN()), x.shape...), Zeros(x.shape...)
			fg, _ := flippedGeom(g)
			convWinograd(kn, fg, dx.data, dy.data, wt.data, nil, true)
			Reference{}.Conv2DBackwardData(dxWant, dy, wt, cc.p)
			bound = winoErrorBound(kn.winoTile(fg), dy.data, flipWeights(wt.data, cc.o, cc.c, 3), nil, cc.n, g.oh, g.ow, cc.o, cc.c, fg.p)
			checkBound(t, tier.String()+" backward data "+cc.String(), dx.data, dxWant.data, bound)
		}
	})
}

// TestWinogradDispatch checks which convolutions the CPU backend sends to
// the Winograd path.
func TestWinogradDispatch(t *testing.T) {
	pad1 := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	for _, c := range []struct {
		n, h, w, c, o, k int
		p                ConvParams
		fwd, bwd         bool // on every tier
		asm              bool // on the tiers with the F(4×4) kernels only (F(2×2, 5×5))
	}{
		{32, 56, 56, 64, 64, 3, pad1, true, true, false},
		{1, 5, 7, 16, 16, 3, ConvParams{PadTop: 2, PadRight: 2}, true, true, false},
		{1, 5, 7, 16, 12, 3, pad1, false, false, false}, // backward data is a forward pass with C = 12
		{1, 5, 7, 12, 16, 3, pad1, false, false, false},
		{1, 9, 9, 32, 32, 3, ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1}, false, false, false},
		{1, 9, 9, 32, 32, 3, ConvParams{DilationH: 2, DilationW: 2, PadTop: 2, PadLeft: 2}, false, false, false},
		{1, 9, 9, 32, 32, 3, ConvParams{Groups: 2}, false, false, false},
		{1, 9, 9, 32, 32, 3, ConvParams{PadTop: 3}, false, false, false},
		{1, 9, 9, 32, 32, 5, ConvParams{}, false, false, true},
		{1, 9, 9, 32, 32, 5, ConvParams{PadTop: 4, PadLeft: 4}, false, false, true},
		{1, 9, 9, 32, 32, 5, ConvParams{PadTop: 5}, false, false, false},
		{1, 9, 9, 16, 12, 5, ConvParams{}, false, false, false},
		{1, 9, 9, 32, 32, 5, ConvParams{StrideH: 2, StrideW: 2}, false, false, false},
	} {
		x, w := Zeros(c.n, c.h, c.w, c.c), Zeros(c.o, c.c/max(c.p.Groups, 1), c.k, c.k)
		g := convDims("Conv2D", x, w, ConvOutput(x, w, c.p), nil, c.p)
		for _, tier := range []kernels.Tier{kernels.Generic, kernels.AVX2, kernels.AVX512} {
			if ok, _ := kernels.Supported(tier); !ok {
				continue
			}
			kn := gemmKernelFor(tier)
			fwd, bwd := c.fwd, c.bwd
			if c.asm && kn.wino4 {
				fwd, bwd = true, true
			}
			if got := winogradOK(kn, g); got != fwd {
				t.Errorf("%s %+v: forward on the Winograd path %v, want %v", tier, c, got, fwd)
			}
			if got := winogradBackwardDataOK(kn, g); got != bwd {
				t.Errorf("%s %+v: backward data on the Winograd path %v, want %v", tier, c, got, bwd)
			}
		}
	}
}

// winoWeightCall returns a winoCall set up to transform random weights for
// C input and O output channels with panels of unr, forward or flipped
// (w read as [C][O][3][3]).
func winoWeightCall(r *rand.Rand, C, O, unr int, flip bool) *winoCall {
	c := &winoCall{flip: flip, unr: unr}
	c.g.c, c.g.o = C, O
	c.op = ceilDiv(O, unr) * unr
	c.us = C*c.op + 16
	c.u = make([]float32, 16*c.us)
	c.w = make([]float32, 9*C*O)
	for i := range c.w {
		c.w[i] = float32(r.NormFloat64())
	}
	return c
}

// BenchmarkWinogradWeights times the weight transform alone, one thread,
// forward and flipped (backward data), on the AVX2 and AVX-512 panel
// widths (16, 32).
//
//	go test -run '^$' -bench WinogradWeights -cpu 1 ./tensor
func BenchmarkWinogradWeights(b *testing.B) {
	for _, l := range [][3]int{{64, 64, 16}, {512, 512, 16}, {64, 64, 32}, {512, 512, 32}} {
		for _, flip := range []bool{false, true} {
			b.Run(fmt.Sprintf("c=%d/o=%d/unr=%d/flip=%v", l[0], l[1], l[2], flip), func(b *testing.B) {
				c := winoWeightCall(rand.New(rand.NewPCG(25, 0)), l[0], l[1], l[2], flip)
				c.transformWeights(0, c.op)
				b.SetBytes(int64(4 * 16 * l[0] * c.op))
				for b.Loop() {
					c.transformWeights(0, c.op)
				}
			})
		}
	}
}

// TestWinogradWeightsBitExact checks transformWeights against the scalar
// transform it replaced (transformWeightsRef) bit for bit: forward and
// flipped, panel widths 16 and 32 and the generic tier's (O), O a multiple
// of the panel width or not, channels that fill the blocks of 16 or not,
// whole ranges and parts of them. The two U buffers start as different
// NaNs, so a float inside the blocks that either one leaves unwritten
// differs.
func TestWinogradWeightsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(26, 0))
	for _, l := range []struct{ c, o, unr int }{
		{16, 16, 16}, {17, 33, 16}, {37, 45, 16}, {64, 64, 16}, {300, 20, 16}, {5, 3, 16},
		{40, 64, 32}, {33, 17, 32}, {24, 45, 45}, {19, 16, 16}, {31, 7, 7},
		// a 32-lane panel whose second block of 16 lies wholly past O
		{20, 12, 32}, {5, 3, 32}, {16, 16, 32}, {17, 40, 32},
	} {
		for _, flip := range []bool{false, true} {
			c := winoWeightCall(r, l.c, l.o, l.unr, flip)
			// special values, in some filters
			for i := 0; i < len(c.w); i += 97 {
				c.w[i] = []float32{float32(math.Inf(1)), float32(math.NaN()), 0, float32(math.Copysign(0, -1)), 1e-45, math.MaxFloat32}[i%6]
			}
			want := make([]float32, len(c.u))
			np := c.op / c.unr
			for _, parts := range []int{1, 2, 3} {
				fill(c.u, math.Float32frombits(0x7fc00001))
				fill(want, math.Float32frombits(0x7fc00002))
				for p := 0; p < parts; p++ {
					o0, o1 := p*np/parts*c.unr, (p+1)*np/parts*c.unr
					c.transformWeights(o0, o1)
					ref := *c
					ref.u = want
					ref.transformWeightsRef(o0, o1)
				}
				for i := range want {
					if i%c.us >= l.c*c.op {
						continue // the skew between the elements' blocks
					}
					if math.Float32bits(c.u[i]) != math.Float32bits(want[i]) {
						t.Fatalf("C=%d O=%d unr=%d flip=%v parts=%d: u[%d] = %v (%#x), scalar %v (%#x)",
							l.c, l.o, l.unr, flip, parts, i, c.u[i], math.Float32bits(c.u[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// transformWeightsRef is the scalar weight transform that transformWeights
// replaced, kept as its reference: one (o, c) pair at a time, its 16
// elements written to 16 streams.
func (c *winoCall) transformWeightsRef(o0, o1 int) {
	g := c.g
	C, O, unr := g.c, g.o, c.unr
	for jp := o0 / unr; jp < o1/unr; jp++ {
		var dst [16][]float32
		for e := range dst {
			dst[e] = c.u[e*c.us+jp*C*unr : e*c.us+(jp+1)*C*unr]
		}
		for ch := 0; ch < C; ch++ {
			for j := 0; j < unr; j++ {
				o, i := jp*unr+j, ch*unr+j
				if o >= O {
					for e := range dst {
						dst[e][i] = 0
					}
					continue
				}
				var k [9]float32
				if c.flip {
					src := (*[9]float32)(c.w[(ch*O+o)*9:])
					for t := range k {
						k[t] = src[8-t]
					}
				} else {
					k = *(*[9]float32)(c.w[(o*C+ch)*9:])
				}
				// a = G·g (4×3), then U = a·Gᵀ (4×4)
				for r, a := range [4][3]float32{
					{k[0], k[1], k[2]},
					{0.5 * (k[0] + k[3] + k[6]), 0.5 * (k[1] + k[4] + k[7]), 0.5 * (k[2] + k[5] + k[8])},
					{0.5 * (k[0] - k[3] + k[6]), 0.5 * (k[1] - k[4] + k[7]), 0.5 * (k[2] - k[5] + k[8])},
					{k[6], k[7], k[8]},
				} {
					dst[4*r][i] = a[0]
					dst[4*r+1][i] = 0.5 * (a[0] + a[1] + a[2])
					dst[4*r+2][i] = 0.5 * (a[0] - a[1] + a[2])
					dst[4*r+3][i] = a[2]
				}
			}
		}
	}
}

// withWinoM returns kn forcing the Winograd tile m (see winoTile).
func withWinoM(kn *gemmKernel, m int) *gemmKernel {
	c := *kn
	c.winoM = m
	return &c
}

// withWinoTiles returns kn with n tiles per Winograd chunk (0: chosen by
// the layer), as CPUOptions.WinogradTiles makes it.
func withWinoTiles(kn *gemmKernel, n int) *gemmKernel {
	c := *kn
	c.winoTiles = n
	return &c
}
