package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/graftml/graft/kernels"
)

// randTaps returns nt ascending tap offsets (elements) with gaps of 0..3
// elements beyond 1.
func randTaps(r *rand.Rand, nt int) []int {
	toff := make([]int, nt)
	for i := 1; i < nt; i++ {
		toff[i] = toff[i-1] + 1 + r.IntN(4)
	}
	return toff
}

func bytesOf(off []int) []int {
	b := make([]int, len(off))
	for i, o := range off {
		b[i] = 4 * o
	}
	return b
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// near reports whether got is within a float32 summation error of want,
// a sum of terms whose magnitudes add up to mag.
func near(got, want, mag float64) bool {
	return math.Abs(got-want) <= 1e-6*(mag+1)*8
}

// rowKernels are the row kernels TestConvRowKernel runs where it can:
// the AVX2 one, the AVX-512 one and its stand-in.
func rowKernels() []struct {
	name string
	kn   *gemmKernel
	nr   int
	ok   bool
} {
	a2, _ := kernels.Supported(kernels.AVX2)
	a512, _ := kernels.Supported(kernels.AVX512)
	si, _ := kernels.StandInsSupported(kernels.AVX512)
	return []struct {
		name string
		kn   *gemmKernel
		nr   int
		ok   bool
	}{
		{"ConvRowAVX2x6x16", gemmKernelFor(kernels.AVX2), 16, a2},
		{"ConvRowAVX512x12x32", gemmKernelFor(kernels.AVX512), 32, a512},
		{"stand-in of ConvRowAVX512x12x32", standInKernelFor(kernels.AVX512), 32, si},
	}
}

// TestConvRowKernel runs the row kernels against plain loops: pixel
// counts 1..40 (partial last tiles), 1..30 taps, pixel strides below and
// above the tap span, with and without bias; rows of y past np and the
// floats beyond each written row's nr hold guard values that must
// survive. The stand-in of the AVX-512 kernel also runs beside it, where
// the hardware has it, and must match it bit for bit.
func TestConvRowKernel(t *testing.T) {
	for _, k := range rowKernels() {
		if !k.ok {
			t.Logf("%s: not on this machine or build", k.name)
			continue
		}
		nr := k.nr
		var twin *gemmKernel // the stand-in, beside the assembly
		if nr == 32 && k.kn.id != kidStandIn {
			twin = standInKernelFor(kernels.AVX512)
		}
		pixes := []int{convRowPixels(nr)}
		if nr == 32 {
			pixes = convRowTiles[:]
		}
		r := rand.New(rand.NewPCG(31, 32))
		for i := 0; i < 40*len(pixes); i++ {
			np, P := 1+i/len(pixes), pixes[i%len(pixes)]
			for iter := 0; iter < 6; iter++ {
				nt := 1 + r.IntN(30)
				toff := randTaps(r, nt)
				xs := 1 + r.IntN(5)
				ldy := nr + r.IntN(3)*16 + r.IntN(2)*5
				x := randFloats(r, ((np+P-1)/P*P-1)*xs+toff[nt-1]+1)
				b := randFloats(r, nt*nr)
				var bias []float32
				if iter%2 == 0 {
					bias = randFloats(r, nr)
				}
				ybuf := make([]float32, (np+1)*ldy+guardLen)
				for i := range ybuf {
					ybuf[i] = guard
				}
				callConvRow(k.kn, nr, P, np, nt, x, 4*xs, bytesOf(toff), b, bias, ybuf, ldy)
				name := fmt.Sprintf("%s: pix=%d np=%d nt=%d xs=%d ldy=%d bias=%v", k.name, P, np, nt, xs, ldy, bias != nil)
				if twin != nil {
					y2 := make([]float32, len(ybuf))
					for i := range y2 {
						y2[i] = guard
					}
					callConvRow(twin, nr, P, np, nt, x, 4*xs, bytesOf(toff), b, bias, y2, ldy)
					for i := range y2 {
						if math.Float32bits(y2[i]) != math.Float32bits(ybuf[i]) {
							t.Fatalf("%s: y[%d] = %v, stand-in %v", name, i, ybuf[i], y2[i])
						}
					}
				}
				for p := 0; p <= np; p++ {
					for j := 0; j < ldy; j++ {
						got := ybuf[p*ldy+j]
						if p == np || j >= nr {
							if math.Float32bits(got) != math.Float32bits(guard) {
								t.Fatalf("%s: y[%d][%d] = %v written, want the guard", name, p, j, got)
							}
							continue
						}
						var want, mag float64
						if bias != nil {
							want, mag = float64(bias[j]), math.Abs(float64(bias[j]))
						}
						for k, o := range toff {
							v := float64(x[o+p*xs]) * float64(b[k*nr+j])
							want += v
							mag += math.Abs(v)
						}
						if !near(float64(got), want, mag) {
							t.Fatalf("%s: y[%d][%d] = %v, want %v", name, p, j, got, want)
						}
					}
				}
			}
		}
	}
}

// TestConvWGradKernels runs the tap weight-gradient kernels
// (ConvWGradAVX2x<r>x16, ConvWGradAVX512x<r>x32 and x64 and their stand-in, where
// the machine has them) for r = 1..6 against plain loops over 1..4 rows
// of 1..37 pixels, adding into a c that holds values already; the floats
// after each row's filters hold guards. The AVX-512 kernels must match
// their stand-in bit for bit.
func TestConvWGradKernels(t *testing.T) {
	for _, k := range rowKernels() {
		if !k.ok {
			continue
		}
		widths := []int{k.nr}
		if k.nr == 32 {
			widths = []int{32, 64} // ConvWGradAVX512x<r>x32 and x64
		}
		var twin *gemmKernel
		if k.nr == 32 && k.kn.id != kidStandIn {
			twin = standInKernelFor(kernels.AVX512)
		}
		r := rand.New(rand.NewPCG(33, 34))
		for ti := 0; ti < 6*len(widths); ti++ {
			taps, F := 1+ti/len(widths), widths[ti%len(widths)]
			for _, np := range []int{1, 2, 5, 7, 16, 17, 33, 37} {
				for nr := 1; nr <= 4; nr++ {
					toff := randTaps(r, taps)
					r.Shuffle(taps, func(i, j int) { toff[i], toff[j] = toff[j], toff[i] })
					xs := 1 + r.IntN(4)
					span := 0
					for _, o := range toff {
						span = max(span, o)
					}
					xrs := (np-1)*xs + 1 + r.IntN(9)
					x := randFloats(r, (nr-1)*xrs+(np-1)*xs+span+1)
					dys := F + r.IntN(3)
					dy := randFloats(r, (nr*np-1)*dys+F)
					ldc := F + r.IntN(4)
					c := randFloats(r, taps*ldc)
					for i := 0; i < taps; i++ {
						for j := F; j < ldc; j++ {
							c[i*ldc+j] = guard
						}
					}
					c0 := append([]float32(nil), c...)
					callConvWGrad(k.kn, F, np, nr, x, 4*xs, 4*xrs, bytesOf(toff), dy, dys, c, ldc)
					name := fmt.Sprintf("%d filters, %s: taps=%d np=%d nr=%d xs=%d xrs=%d dys=%d ldc=%d", F, k.name, taps, np, nr, xs, xrs, dys, ldc)
					if twin != nil {
						c2 := append([]float32(nil), c0...)
						callConvWGrad(twin, F, np, nr, x, 4*xs, 4*xrs, bytesOf(toff), dy, dys, c2, ldc)
						for i := range c2 {
							if math.Float32bits(c2[i]) != math.Float32bits(c[i]) {
								t.Fatalf("%s: c[%d] = %v, stand-in %v", name, i, c[i], c2[i])
							}
						}
					}
					for i := 0; i < taps; i++ {
						for j := 0; j < ldc; j++ {
							got := c[i*ldc+j]
							if j >= F {
								if math.Float32bits(got) != math.Float32bits(guard) {
									t.Fatalf("%s: c[%d][%d] = %v written, want the guard", name, i, j, got)
								}
								continue
							}
							var s, mag float64
							for q := 0; q < nr; q++ {
								for p := 0; p < np; p++ {
									v := float64(x[toff[i]+q*xrs+p*xs]) * float64(dy[(q*np+p)*dys+j])
									s += v
									mag += math.Abs(v)
								}
							}
							want := float64(c0[i*ldc+j]) + s
							if !near(float64(got), want, mag+math.Abs(float64(c0[i*ldc+j]))) {
								t.Fatalf("%s: c[%d][%d] = %v, want %v", name, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestDotRowsKernel runs the dot-row kernels (DotRowsAVX2x6,
// DotRowsAVX512x12 and its stand-in, where the machine has them) against
// plain loops: 1..40 pixels (partial last tiles), 1..6 kernel rows of
// 16..96 floats (odd and even counts of 16), pixel strides shorter and
// longer than a row; y values between and after the written ones hold
// guards. DotRowsAVX512x12 must match its stand-in bit for bit.
func TestDotRowsKernel(t *testing.T) {
	for _, k := range rowKernels() {
		if !k.ok {
			continue
		}
		P := k.kn.dotPixels()
		var twin *gemmKernel
		if P == 12 && k.kn.id != kidStandIn {
			twin = standInKernelFor(kernels.AVX512)
		}
		r := rand.New(rand.NewPCG(35, 36))
		for np := 1; np <= 40; np++ {
			for iter := 0; iter < 4; iter++ {
				nk, n := 1+r.IntN(6), 16*(1+r.IntN(6))
				lda := 1 + r.IntN(2*n)
				aoff := make([]int, nk)
				for k := 1; k < nk; k++ {
					aoff[k] = aoff[k-1] + r.IntN(3*n)
				}
				ys := 1 + r.IntN(3)
				a := randFloats(r, ((np+P-1)/P*P-1)*lda+aoff[nk-1]+n)
				w := randFloats(r, nk*n)
				y := make([]float32, np*ys+guardLen)
				for i := range y {
					y[i] = guard
				}
				callDotRows(k.kn, np, nk, n, a, lda, bytesOf(aoff), w, y, ys)
				name := fmt.Sprintf("%s: np=%d nk=%d n=%d lda=%d ys=%d", k.name, np, nk, n, lda, ys)
				if twin != nil {
					y2 := make([]float32, len(y))
					for i := range y2 {
						y2[i] = guard
					}
					callDotRows(twin, np, nk, n, a, lda, bytesOf(aoff), w, y2, ys)
					for i := range y2 {
						if math.Float32bits(y2[i]) != math.Float32bits(y[i]) {
							t.Fatalf("%s: y[%d] = %v, stand-in %v", name, i, y[i], y2[i])
						}
					}
				}
				for i, got := range y {
					if i%ys != 0 || i/ys >= np {
						if math.Float32bits(got) != math.Float32bits(guard) {
							t.Fatalf("%s: y[%d] = %v written, want the guard", name, i, got)
						}
						continue
					}
					p := i / ys
					var want, mag float64
					for k := 0; k < nk; k++ {
						for v := 0; v < n; v++ {
							s := float64(a[aoff[k]+p*lda+v]) * float64(w[k*n+v])
							want += s
							mag += math.Abs(s)
						}
					}
					if !near(float64(got), want, mag) {
						t.Fatalf("%s: y[%d] = %v, want %v", name, p, got, want)
					}
				}
			}
		}
	}
}

// TestConvGatherKernel runs ConvGatherAVX2x6x16 against plain loops: 1..6
// pixels stored, windows anywhere (overlapping or not), 1..5 kernel rows
// of 1..70 floats, with and without bias; rows past np and the floats
// after each row's 16 hold guards.
func TestConvGatherKernel(t *testing.T) {
	if ok, why := kernels.Supported(kernels.AVX2); !ok {
		t.Skip(why)
	}
	r := rand.New(rand.NewPCG(37, 38))
	for iter := 0; iter < 300; iter++ {
		np, nkr, kc := 1+r.IntN(6), 1+r.IntN(5), 1+r.IntN(70)
		roff := make([]int, nkr)
		for k := range roff {
			roff[k] = r.IntN(200)
		}
		var poff [6]int
		for i := range poff {
			poff[i] = r.IntN(300)
		}
		x := randFloats(r, 300+200+kc)
		b := randFloats(r, nkr*kc*16)
		var bias []float32
		if iter%2 == 0 {
			bias = randFloats(r, 16)
		}
		ldy := 16 + r.IntN(3)
		y := make([]float32, 6*ldy+guardLen)
		for i := range y {
			y[i] = guard
		}
		var pb [6]int
		for i, o := range poff {
			pb[i] = 4 * o
		}
		callConvGather(kc, x, &pb, bytesOf(roff), b, bias, y, ldy, np)
		name := fmt.Sprintf("np=%d nkr=%d kc=%d ldy=%d bias=%v", np, nkr, kc, ldy, bias != nil)
		for i := 0; i < 6; i++ {
			for j := 0; j < ldy; j++ {
				got := y[i*ldy+j]
				if i >= np || j >= 16 {
					if math.Float32bits(got) != math.Float32bits(guard) {
						t.Fatalf("%s: y[%d][%d] = %v written, want the guard", name, i, j, got)
					}
					continue
				}
				var want, mag float64
				if bias != nil {
					want, mag = float64(bias[j]), math.Abs(float64(bias[j]))
				}
				for k := 0; k < nkr; k++ {
					for q := 0; q < kc; q++ {
						v := float64(x[poff[i]+roff[k]+q]) * float64(b[(k*kc+q)*16+j])
						want += v
						mag += math.Abs(v)
					}
				}
				if !near(float64(got), want, mag) {
					t.Fatalf("%s: y[%d][%d] = %v, want %v", name, i, j, got, want)
				}
			}
		}
	}
}

// TestConvThreadsBitIdentical checks that every convolution pass gives
// the same bits on 1, 2 and 3 threads, on the shapes of the paths that
// split work: few channels (rows, tap weight gradients, dot products over
// kernel rows), gathered tiles, depthwise, a strided RGB stem and a
// ResNet-style layer (Winograd, im2col weight gradients).
func TestConvThreadsBitIdentical(t *testing.T) {
	pad := func(k int) ConvParams { return ConvParams{PadTop: k, PadLeft: k, PadBottom: k, PadRight: k} }
	s2 := ConvParams{StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3}
	dw := pad(1)
	dw.Groups = 48
	cases := []convCase{
		{n: 4, h: 28, w: 28, c: 1, o: 32, kh: 5, kw: 5, p: pad(2)},
		{n: 19, h: 12, w: 12, c: 2, o: 32, kh: 5, kw: 5, p: pad(2)},
		{n: 4, h: 14, w: 14, c: 32, o: 64, kh: 5, kw: 5, p: pad(2)},
		{n: 2, h: 30, w: 30, c: 3, o: 32, kh: 7, kw: 7, p: s2},
		{n: 3, h: 17, w: 19, c: 48, o: 48, kh: 3, kw: 3, p: dw},
		{n: 2, h: 9, w: 9, c: 64, o: 64, kh: 3, kw: 3, p: pad(1)},
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
		r := rand.New(rand.NewPCG(41, uint64(cpu.kern().tier)))
		for _, cc := range cases {
			x, w, bias, y := cc.tensors(r)
			dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
			var first [][]float32
			for _, procs := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(procs)
				dx, dwt, db := Zeros(x.shape...), Zeros(w.shape...), Zeros(cc.o)
				cpu.Conv2D(y, x, w, bias, cc.p)
				cpu.Conv2DBackwardData(dx, dy, w, cc.p)
				cpu.Conv2DBackwardWeights(dwt, db, x, dy, cc.p)
				got := [][]float32{append([]float32(nil), y.data...), dx.data, dwt.data, db.data}
				if first == nil {
					first = got
					continue
				}
				for k, name := range []string{"forward", "backward data", "backward weights", "bias gradient"} {
					for i := range got[k] {
						if math.Float32bits(got[k][i]) != math.Float32bits(first[k][i]) {
							t.Fatalf("%s %s, %d threads: [%d] = %v, with 1 thread %v", cc, name, procs, i, got[k][i], first[k][i])
						}
					}
				}
			}
		}
	})
}

// avx512DepthwiseKernels returns the kernel sets that run the AVX-512
// depthwise kernels here: the assembly (on AVX-512 hardware) and its
// stand-ins; it skips t when neither runs.
func avx512DepthwiseKernels(t *testing.T) []*gemmKernel {
	t.Helper()
	var kns []*gemmKernel
	if ok, _ := kernels.Supported(kernels.AVX512); ok {
		kns = append(kns, gemmKernelFor(kernels.AVX512))
	}
	if ok, _ := kernels.StandInsSupported(kernels.AVX512); ok {
		kns = append(kns, standInKernelFor(kernels.AVX512))
	}
	if len(kns) == 0 {
		t.Skip("neither the AVX-512 depthwise kernels nor their stand-ins run here")
	}
	return kns
}

// TestDepthwiseRowKernel runs DepthwiseRowAVX512 and its stand-in (where
// the machine has them) against plain loops: 1..27 pixels (every tile
// shape: 8×1, 4×2, 1×4, and their mixes), 0..12 taps, 1..70 channels
// (whole and masked blocks of 16, and 1×4 tiles whose last blocks are past
// nc), pixel strides shorter and longer than the channels (and 0, as the
// edge pixels use), with and without bias, no activation, ReLU or a clamp,
// and now and then a NaN input. Between and after the written
// channels y holds guards that must survive. The assembly must match its
// stand-in bit for bit (a NaN for a NaN, its payload unspecified).
func TestDepthwiseRowKernel(t *testing.T) {
	kns := avx512DepthwiseKernels(t)
	r := rand.New(rand.NewPCG(51, 52))
	for iter := 0; iter < 600; iter++ {
		np, nt, nc := r.IntN(28), r.IntN(13), 1+r.IntN(70)
		if iter < 70 {
			nc = 1 + iter // every channel count
		}
		xs := nc + r.IntN(2*nc) - nc/2 // floats; may be below nc
		if r.IntN(8) == 0 {
			xs = 0
		}
		xoff, step := randTaps(r, nt), 1+r.IntN(nc) // ascending, gaps of up to 4·nc
		for i := range xoff {
			xoff[i] *= step
		}
		woff := make([]int, nt)
		for i := range woff {
			woff[i] = i * nc
		}
		ys := nc + r.IntN(5)
		xlen, wlen := 1, 1
		if nt > 0 && np > 0 {
			xlen = (np-1)*xs + xoff[nt-1] + nc
			wlen = woff[nt-1] + nc
		}
		x, w := randFloats(r, xlen), randFloats(r, wlen)
		var b []float32
		if r.IntN(3) > 0 {
			b = randFloats(r, nc)
		}
		var act FusedAct
		switch r.IntN(3) {
		case 1:
			act = ReLUAct()
		case 2:
			lo := float32(r.NormFloat64())
			act = ClampAct(lo, lo+float32(r.Float64()*3))
			negZero := float32(math.Copysign(0, -1))
			switch r.IntN(5) { // zero bounds: the quick clamp's sign fix, and the full clamp (hi ±0)
			case 0:
				act = ClampAct(0, 6)
			case 1:
				act = ClampAct(negZero, 2)
			case 2:
				act = ClampAct(-1, [2]float32{0, negZero}[r.IntN(2)])
			}
		}
		if r.IntN(4) == 0 { // zero inputs: sums of ±0
			clear(x)
			for j := range b {
				b[j] = [3]float32{0, float32(math.Copysign(0, -1)), b[j]}[r.IntN(3)]
			}
		}
		if r.IntN(10) == 0 {
			x[r.IntN(len(x))] = float32(math.NaN()) // NaNs as the activations pass them
		}
		name := fmt.Sprintf("np=%d nt=%d nc=%d xs=%d ys=%d bias=%v act=%+v", np, nt, nc, xs, ys, b != nil, act)
		var first []float32
		for _, kn := range kns {
			y := make([]float32, max(np, 1)*ys+guardLen)
			for i := range y {
				y[i] = guard
			}
			if np > 0 {
				depthwiseRow(kn, np, nt, nc, x, 4*xs, bytesOf(xoff), w, bytesOf(woff), y, 4*ys, b, act, iter%2 == 0)
			}
			for i, got := range y {
				q, j := i/ys, i%ys
				if q >= np || j >= nc {
					if math.Float32bits(got) != math.Float32bits(guard) {
						t.Fatalf("%s: y[%d] = %v written, want the guard", name, i, got)
					}
					continue
				}
				var want, mag float64
				if b != nil {
					want, mag = float64(b[j]), math.Abs(float64(b[j]))
				}
				for k := 0; k < nt; k++ {
					s := float64(x[xoff[k]+q*xs+j]) * float64(w[woff[k]+j])
					want += s
					mag += math.Abs(s)
				}
				switch act.Kind {
				case FuseReLU:
					if want < 0 {
						want, mag = 0, 0
					}
				case FuseClamp:
					if c := min(max(want, float64(act.Lo)), float64(act.Hi)); c != want {
						want, mag = c, 0
					}
				}
				if math.IsNaN(want) {
					if !isNaN32(got) {
						t.Fatalf("%s (%v): y[%d][%d] = %v, want NaN", name, kn.id, q, j, got)
					}
					continue
				}
				if !near(float64(got), want, mag) {
					t.Fatalf("%s (%v): y[%d][%d] = %v, want %v", name, kn.id, q, j, got, want)
				}
			}
			if first == nil {
				first = y
				continue
			}
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(first[i]) && !(isNaN32(y[i]) && isNaN32(first[i])) {
					t.Fatalf("%s: y[%d] = %v, stand-in %v", name, i, first[i], y[i])
				}
			}
		}
	}
}

// TestDepthwiseRow3Kernel runs DepthwiseRow3AVX512, DepthwiseRow3S2AVX512
// and their stand-in (where the machine has them) against
// DepthwiseRowAVX512 on the same taps listed one by one, which
// TestDepthwiseRowKernel checks against plain loops: they must agree bit
// for bit (a NaN for a NaN). On the stand-ins, which expand the taps and
// run DepthwiseRowAVX512's stand-in, it checks the expansion. 0..40
// pixels (every tile shape, 16×1 to 1×2, and their mixes), 0..4 rows of
// three taps, 1..70 channels (whole and masked blocks), pixel strides
// shorter and longer than the channels, weight steps apart from the
// pixel stride, with and without bias, no activation, ReLU or a clamp
// (the quick one and the full one), zero and NaN inputs. Guards between
// and after the written channels must survive.
func TestDepthwiseRow3Kernel(t *testing.T) {
	kns := avx512DepthwiseKernels(t)
	r := rand.New(rand.NewPCG(55, 56))
	for iter := 0; iter < 500; iter++ {
		np, nr, nc, stride := r.IntN(41), r.IntN(5), 1+r.IntN(70), 1+r.IntN(2)
		if iter < 70 {
			nc = 1 + iter
		}
		xs := max(1, nc+r.IntN(2*nc)-nc/2) // floats
		ws := nc + r.IntN(3)
		xoff := make([]int, nr) // ascending rows, np+2 pixels wide or wider
		for i := 1; i < nr; i++ {
			xoff[i] = xoff[i-1] + (stride*np+2+r.IntN(3))*xs
		}
		woff := make([]int, nr)
		for i := range woff {
			woff[i] = i * 3 * ws
		}
		xlen, wlen := 1, 1
		if nr > 0 {
			xlen = xoff[nr-1] + (stride*max(np-1, 0)+2)*xs + nc
			wlen = woff[nr-1] + 2*ws + nc
		}
		x, w := randFloats(r, xlen), randFloats(r, wlen)
		if r.IntN(4) == 0 {
			clear(x)
		}
		if r.IntN(10) == 0 {
			x[r.IntN(len(x))] = float32(math.NaN())
		}
		var b []float32
		if r.IntN(3) > 0 {
			b = randFloats(r, nc)
		}
		act := [...]FusedAct{{}, ReLUAct(), ClampAct(0, 6), ClampAct(-1, float32(math.Copysign(0, -1))), ClampAct(-0.5, 0.7)}[r.IntN(5)]
		// the same taps one by one
		var xt, wt []int
		for i := range nr {
			for k := range 3 {
				xt, wt = append(xt, xoff[i]+k*xs), append(wt, woff[i]+k*ws)
			}
		}
		name := fmt.Sprintf("stride=%d np=%d nr=%d nc=%d xs=%d ws=%d bias=%v act=%+v", stride, np, nr, nc, xs, ws, b != nil, act)
		ys := nc + r.IntN(5)
		newY := func() []float32 {
			y := make([]float32, max(np, 1)*ys+guardLen)
			for i := range y {
				y[i] = guard
			}
			return y
		}
		for _, kn := range kns {
			want, got := newY(), newY()
			if np > 0 {
				depthwiseRow(kn, np, 3*nr, nc, x, 4*stride*xs, bytesOf(xt), w, bytesOf(wt), want, 4*ys, b, act, true)
				depthwiseRow3(kn, stride, np, nr, nc, x, 4*xs, bytesOf(xoff), w, 4*ws, bytesOf(woff), got, 4*ys, b, act)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(isNaN32(got[i]) && isNaN32(want[i])) {
					t.Fatalf("%s (%v): y[%d] = %v, DepthwiseRowAVX512 %v", name, kn.id, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDepthwiseWGradKernel runs DepthwiseWGradAVX512 and its stand-in
// (where the machine has them) against plain loops: 1..9 taps, 1..40
// pixels, 1..16 channels (masked), pixel strides below and above
// the channels (and 0, as the edge columns use), accumulating into
// existing sums; the floats between and after the taps' channels hold
// guards. The assembly must match its stand-in bit for bit.
func TestDepthwiseWGradKernel(t *testing.T) {
	kns := avx512DepthwiseKernels(t)
	r := rand.New(rand.NewPCG(53, 54))
	for iter := 0; iter < 500; iter++ {
		nt, np, nc := 1+r.IntN(9), 1+r.IntN(40), 1+r.IntN(16)
		xs := nc + r.IntN(2*nc) - nc/2
		if r.IntN(8) == 0 {
			xs = 0
		}
		xoff, step := randTaps(r, nt), 1+r.IntN(nc)
		for i := range xoff {
			xoff[i] *= step
		}
		stride := nc + r.IntN(4) // floats between the taps' sums
		aoff := make([]int, nt)
		for i := range aoff {
			aoff[i] = i * stride
		}
		dys := nc + r.IntN(5)
		x := randFloats(r, max(np-1, 0)*xs+xoff[nt-1]+nc)
		dy := randFloats(r, max(np-1, 0)*dys+nc)
		acc0 := randFloats(r, aoff[nt-1]+nc+guardLen)
		for i := range acc0 {
			if i%stride >= nc || i > aoff[nt-1]+nc-1 {
				acc0[i] = guard
			}
		}
		name := fmt.Sprintf("nt=%d np=%d nc=%d xs=%d dys=%d", nt, np, nc, xs, dys)
		var first []float32
		for _, kn := range kns {
			acc := slices.Clone(acc0)
			if np > 0 {
				depthwiseWGrad512(kn, nt, np, nc, x, 4*xs, bytesOf(xoff), dy, 4*dys, acc, bytesOf(aoff))
			}
			for i, got := range acc {
				k, j := i/stride, i%stride
				if k >= nt || j >= nc {
					if math.Float32bits(got) != math.Float32bits(acc0[i]) {
						t.Fatalf("%s: acc[%d] = %v written, want %v", name, i, got, acc0[i])
					}
					continue
				}
				want, mag := float64(acc0[i]), math.Abs(float64(acc0[i]))
				for p := 0; p < np; p++ {
					s := float64(x[xoff[k]+p*xs+j]) * float64(dy[p*dys+j])
					want += s
					mag += math.Abs(s)
				}
				if !near(float64(got), want, mag) {
					t.Fatalf("%s (%v): acc[%d][%d] = %v, want %v", name, kn.id, k, j, got, want)
				}
			}
			if first == nil {
				first = acc
				continue
			}
			for i := range acc {
				if math.Float32bits(acc[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%s: acc[%d] = %v, stand-in %v", name, i, first[i], acc[i])
				}
			}
		}
	}
}
