package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestWinograd4Kernels runs the F(4×4, 3×3) transform kernels against
// their Go twins bit for bit (channel counts with and without a tail of
// n mod 8, strides wider than the data, NaN guards where nothing may be
// written), and the Go twins against the transforms' matrices in float64.
func TestWinograd4Kernels(t *testing.T) {
	kn := wino4TestKernel()
	r := rand.New(rand.NewPCG(29, 0))
	rnd := func(n int) []float32 { return randFloats(r, n) }
	same := func(what string, got, want []float32) {
		t.Helper()
		checkSameBits(t, "F(4×4) kernels", what, got, want)
	}
	tmp := make([]float32, 36*8)
	for _, n := range []int{1, 5, 8, 13, 16, 24, 31, 40, 64, 136} {
		// input: a 6×6 patch
		xs, rs, vs := n+3, 6*n+19, n+5
		x := rnd(5*rs + 5*xs + n)
		v, vGo := nanFloats(36*vs), nanFloats(36*vs)
		i := winograd4InputKernels(&kn, n, x, xs, rs, v, vs, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the input kernel took %d of %d channels", i, n)
		}
		winograd4InputGo(i, n, x, xs, rs, v, vs)
		winograd4InputGo(0, n, x, xs, rs, vGo, vs)
		same(fmt.Sprintf("input n=%d", n), v, vGo)
		for ch := 0; ch < n; ch += 3 {
			for e := 0; e < 36; e++ {
				var want float64
				for a := 0; a < 6; a++ {
					for b := 0; b < 6; b++ {
						want += wino4BT[e/6][a] * float64(x[a*rs+b*xs+ch]) * wino4BT[e%6][b]
					}
				}
				nearTransform(t, fmt.Sprintf("input n=%d channel %d element %d", n, ch, e), vGo[e*vs+ch], want)
			}
		}

		// output: 6×6 products to a 4×4 tile
		ms, ys, yr := n+7, n+2, 4*n+11
		m, bias := rnd(35*ms+n), rnd(n)
		y, yGo := nanFloats(3*yr+3*ys+n+5), nanFloats(3*yr+3*ys+n+5)
		i = winograd4OutputKernels(&kn, n, m, ms, y, ys, yr, bias, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the output kernel took %d of %d channels", i, n)
		}
		winograd4OutputGo(i, n, m, ms, y, ys, yr, bias)
		winograd4OutputGo(0, n, m, ms, yGo, ys, yr, bias)
		same(fmt.Sprintf("output n=%d", n), y, yGo)
		for ch := 0; ch < n; ch += 3 {
			for r := 0; r < 4; r++ {
				for c := 0; c < 4; c++ {
					want := float64(bias[ch])
					for a := 0; a < 6; a++ {
						for b := 0; b < 6; b++ {
							want += wino4AT[r][a] * float64(m[(6*a+b)*ms+ch]) * wino4AT[c][b]
						}
					}
					nearTransform(t, fmt.Sprintf("output n=%d channel %d (%d,%d)", n, ch, r, c), yGo[r*yr+c*ys+ch], want)
				}
			}
		}

		// weights: lanes of 3×3 kernels
		ks, us := n+9, n+4
		k := rnd(8*ks + n)
		u, uGo := nanFloats(36*us), nanFloats(36*us)
		i = winograd4WeightKernels(&kn, n, k, ks, u, us, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the weight kernel took %d of %d lanes", i, n)
		}
		winograd4WeightGo(i, n, k, ks, u, us)
		winograd4WeightGo(0, n, k, ks, uGo, us)
		same(fmt.Sprintf("weights n=%d", n), u, uGo)
		for l := 0; l < n; l += 3 {
			for e := 0; e < 36; e++ {
				var want float64
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
						want += wino4G[e/6][a] * float64(k[(3*a+b)*ks+l]) * wino4G[e%6][b]
					}
				}
				nearTransform(t, fmt.Sprintf("weights n=%d lane %d element %d", n, l, e), uGo[e*us+l], want)
			}
		}
	}
}

// TestWinograd4GradKernels runs the weight-gradient transforms
// (Winograd4DYAVX2, Winograd4WGradAVX2) against their Go twins bit for bit
// and the twins against the matrices in float64, as TestWinograd4Kernels.
func TestWinograd4GradKernels(t *testing.T) {
	kn := wino4TestKernel()
	r := rand.New(rand.NewPCG(31, 0))
	tmp := make([]float32, 36*8)
	for _, n := range []int{1, 5, 8, 13, 16, 24, 31, 40, 64, 136} {
		ys, rs, ms := n+3, 4*n+9, n+6
		y := randFloats(r, 3*rs+3*ys+n)
		m, mGo := nanFloats(36*ms), nanFloats(36*ms)
		i := winograd4DYKernels(&kn, n, y, ys, rs, m, ms, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the output-gradient kernel took %d of %d channels", i, n)
		}
		winograd4DYGo(i, n, y, ys, rs, m, ms)
		winograd4DYGo(0, n, y, ys, rs, mGo, ms)
		checkSameBits(t, "F(4×4) gradient kernels", fmt.Sprintf("output gradients n=%d", n), m, mGo)
		for ch := 0; ch < n; ch += 3 {
			for e := 0; e < 36; e++ {
				var want float64
				for a := 0; a < 4; a++ {
					for b := 0; b < 4; b++ {
						want += wino4AT[a][e/6] * float64(y[a*rs+b*ys+ch]) * wino4AT[b][e%6]
					}
				}
				nearTransform(t, fmt.Sprintf("output gradients n=%d channel %d element %d", n, ch, e), mGo[e*ms+ch], want)
			}
		}

		us, ws := n+4, n+7
		u := randFloats(r, 35*us+n)
		w, wGo := nanFloats(8*ws+n+3), nanFloats(8*ws+n+3)
		i = winograd4WGradKernels(&kn, n, u, us, w, ws, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the weight-gradient kernel took %d of %d lanes", i, n)
		}
		winograd4WGradGo(i, n, u, us, w, ws)
		winograd4WGradGo(0, n, u, us, wGo, ws)
		checkSameBits(t, "F(4×4) gradient kernels", fmt.Sprintf("weight gradients n=%d", n), w, wGo)
		for l := 0; l < n; l += 3 {
			for k := 0; k < 9; k++ {
				var want float64
				for a := 0; a < 6; a++ {
					for b := 0; b < 6; b++ {
						want += wino4G[a][k/3] * float64(u[(6*a+b)*us+l]) * wino4G[b][k%3]
					}
				}
				nearTransform(t, fmt.Sprintf("weight gradients n=%d lane %d tap %d", n, l, k), wGo[k*ws+l], want)
			}
		}
	}
}

// TestWinogradWGradMatchesReference runs the Winograd weight gradient
// itself on random eligible convolutions on every tier with the F(4×4)
// kernels against the float64 reference within winoWGradErrorBound
// (gradients start as NaN, so a missed one fails), and on 1, 2 and 3
// threads bit for bit alike.
func TestWinogradWGradMatchesReference(t *testing.T) {
	cases := 80
	if testing.Short() {
		cases = 25
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		if !kn.wino4 || kn.id == kidGeneric {
			t.Skip("no F(4×4) kernels on this tier")
		}
		r := rand.New(rand.NewPCG(37, uint64(kn.tier)))
		worst := 0.0
		for i := 0; i < cases; i++ {
			cc := winoCase(r)
			if i%7 == 0 { // many tiles: several chunks
				cc.n, cc.h, cc.w, cc.c, cc.o = 2+r.IntN(3), 40+r.IntN(30), 40+r.IntN(30), 16+r.IntN(20), 16+r.IntN(20)
			}
			x, w, _, y := cc.tensors(r)
			dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
			g := convDims("Conv2DBackwardWeights", x, w, dy, nil, cc.p)
			dw := Full(float32(math.NaN()), w.shape...)
			winogradWGrad(kn, g, dw.data, x.data, dy.data)
			if i%3 == 0 { // the split across threads: tiles, elements, channels
				for _, procs := range []int{1, 3} {
					prev := runtime.GOMAXPROCS(procs)
					other := Full(float32(math.NaN()), w.shape...)
					winogradWGrad(kn, g, other.data, x.data, dy.data)
					runtime.GOMAXPROCS(prev)
					checkSameBits(t, cc.String(), fmt.Sprintf("weight gradient on %d threads", procs), other.data, dw.data)
				}
			}
			want, db := Zeros(w.shape...), Zeros(cc.o)
			Reference{}.Conv2DBackwardWeights(want, db, x, dy, cc.p)
			bound := winoWGradErrorBound(x.data, dy.data, cc.n, cc.h, cc.w, cc.c, cc.o, cc.p)
			worst = max(worst, checkBound(t, "weight gradient "+cc.String(), dw.data, want.data, bound))
		}
		t.Logf("largest error: %.3g of the bound", worst)
	})
}

// winoWGradErrorBound returns, for each weight gradient dW[o][c][a][b] of
// the convolution of x [N,H,W,C] by 3×3 kernels under p with output
// gradients dy [N,OH,OW,O], computed by winogradWGrad in float32, the
// first-order bound on its rounding error:
//
//	|ŝ − s| ≤ (T + 32)·u·W,  W = |Gᵀ|·(Σ_t (|Bᵀ||d_tc||B|) ⊙ (|A||dY_to||Aᵀ|))·|G|
//
// with T the tiles (the length of the sums over tiles, in float32 fused
// multiply-adds and additions), u = 2⁻²⁴ and W the algorithm on absolute
// values. The input transform contributes 6u, the output gradients' 6u,
// the last transform 8u (two levels of a sum, a rounded constant and its
// product, and a final sum) and the reference u: 32 leaves room for the
// second-order terms.
func winoWGradErrorBound(x, dy []float32, n, h, wd, c, o int, p ConvParams) []float64 {
	oh, ow := p.OutSize(h, wd, 3, 3)
	th, tw := (oh+3)/4, (ow+3)/4
	abs := func(v float32) float64 { return math.Abs(float64(v)) }
	bAbs, aAbs, gAbs := absRows(wino4BT), absRows(wino4AT), absRows(wino4G) // |Bᵀ|, |Aᵀ|, |G|
	acc := make([]float64, c*o*36)
	vh, mh := make([]float64, c*36), make([]float64, o*36)
	tiles := n * th * tw
	for nn := 0; nn < n; nn++ {
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				for cc := 0; cc < c; cc++ {
					for e := 0; e < 36; e++ {
						var s float64
						for a := 0; a < 6; a++ {
							for b := 0; b < 6; b++ {
								iy, ix := 4*ty-p.PadTop+a, 4*tx-p.PadLeft+b
								if iy >= 0 && iy < h && ix >= 0 && ix < wd {
									s += bAbs[e/6][a] * abs(x[((nn*h+iy)*wd+ix)*c+cc]) * bAbs[e%6][b]
								}
							}
						}
						vh[cc*36+e] = s
					}
				}
				for oo := 0; oo < o; oo++ {
					for e := 0; e < 36; e++ {
						var s float64
						for a := 0; a < 4; a++ {
							for b := 0; b < 4; b++ {
								if y, xx := 4*ty+a, 4*tx+b; y < oh && xx < ow {
									s += aAbs[a][e/6] * abs(dy[((nn*oh+y)*ow+xx)*o+oo]) * aAbs[b][e%6]
								}
							}
						}
						mh[oo*36+e] = s
					}
				}
				for cc := 0; cc < c; cc++ {
					for oo := 0; oo < o; oo++ {
						a := acc[(cc*o+oo)*36:]
						for e := 0; e < 36; e++ {
							a[e] += vh[cc*36+e] * mh[oo*36+e]
						}
					}
				}
			}
		}
	}
	bound := make([]float64, o*c*9)
	for cc := 0; cc < c; cc++ {
		for oo := 0; oo < o; oo++ {
			a := acc[(cc*o+oo)*36:]
			for k := 0; k < 9; k++ {
				var s float64
				for i := 0; i < 6; i++ {
					for j := 0; j < 6; j++ {
						s += gAbs[i][k/3] * a[6*i+j] * gAbs[j][k%3]
					}
				}
				bound[(oo*c+cc)*9+k] = float64(tiles+32) * 0x1p-24 * s
			}
		}
	}
	return bound
}

// nanFloats returns n NaNs: guards that a kernel must overwrite or leave.
func nanFloats(n int) []float32 {
	s := make([]float32, n)
	fill(s, float32(math.NaN()))
	return s
}

// nearTransform fails unless a Go twin's float32 result is within 1e-5
// (relative, or absolute below 1) of the transform computed in float64.
func nearTransform(t *testing.T, what string, got float32, want float64) {
	t.Helper()
	if d := math.Abs(float64(got) - want); d > 1e-5*(1+math.Abs(want)) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// The matrices of Winograd F(4×4, 3×3) in float64, for the tests.
var (
	wino4BT = [][]float64{{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}}
	wino4AT = [][]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	wino4G  = [][]float64{{1. / 4, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
		{1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}}
)

// absRows returns the absolute values of the matrix m.
func absRows(m [][]float64) [][]float64 {
	out := make([][]float64, len(m))
	for i := range m {
		for _, v := range m[i] {
			out[i] = append(out[i], math.Abs(v))
		}
	}
	return out
}

// wino4TestKernel returns the AVX2 kernel set with the F(4×4) kernels on,
// where the CPU runs AVX2, else one without them (the Go twins alone).
func wino4TestKernel() gemmKernel {
	kn := *gemmKernelFor(kernels.AVX2)
	ok, _ := kernels.Supported(kernels.AVX2)
	kn.wino4 = ok && kn.id != kidGeneric
	return kn
}
