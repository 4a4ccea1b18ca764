package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestWinograd4Kernels runs the F(4×4, 3×3) transform kernels against
// their Go twins bit for bit (channel counts with and without a tail of
// n mod 8, strides wider than the data, NaN guards where nothing may be
// written), and the Go twins against the transforms' matrices in float64.
func TestWinograd4Kernels(t *testing.T) {
	kn := *gemmKernelFor(kernels.AVX2)
	kn.wino4 = true
	if ok, _ := kernels.Supported(kernels.AVX2); !ok || kn.id == kidGeneric {
		kn.wino4 = false // the Go twins alone
	}
	r := rand.New(rand.NewPCG(29, 0))
	rnd := func(n int) []float32 { return randFloats(r, n) }
	same := func(what string, got, want []float32) {
		t.Helper()
		checkSameBits(t, "F(4×4) kernels", what, got, want)
	}
	nan := func(n int) []float32 {
		s := make([]float32, n)
		fill(s, float32(math.NaN()))
		return s
	}
	near := func(what string, got float32, want float64) {
		t.Helper()
		if d := math.Abs(float64(got) - want); d > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
	bt := [6][6]float64{{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}}
	at := [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	gm := [6][3]float64{{1. / 4, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
		{1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}}
	tmp := make([]float32, 36*8)
	for _, n := range []int{1, 5, 8, 13, 16, 24, 31, 40, 64, 136} {
		// input: a 6×6 patch
		xs, rs, vs := n+3, 6*n+19, n+5
		x := rnd(5*rs + 5*xs + n)
		v, vGo := nan(36*vs), nan(36*vs)
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
						want += bt[e/6][a] * float64(x[a*rs+b*xs+ch]) * bt[e%6][b]
					}
				}
				near(fmt.Sprintf("input n=%d channel %d element %d", n, ch, e), vGo[e*vs+ch], want)
			}
		}

		// output: 6×6 products to a 4×4 tile
		ms, ys, yr := n+7, n+2, 4*n+11
		m, bias := rnd(35*ms+n), rnd(n)
		y, yGo := nan(3*yr+3*ys+n+5), nan(3*yr+3*ys+n+5)
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
							want += at[r][a] * float64(m[(6*a+b)*ms+ch]) * at[c][b]
						}
					}
					near(fmt.Sprintf("output n=%d channel %d (%d,%d)", n, ch, r, c), yGo[r*yr+c*ys+ch], want)
				}
			}
		}

		// weights: lanes of 3×3 kernels
		ks, us := n+9, n+4
		k := rnd(8*ks + n)
		u, uGo := nan(36*us), nan(36*us)
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
						want += gm[e/6][a] * float64(k[(3*a+b)*ks+l]) * gm[e%6][b]
					}
				}
				near(fmt.Sprintf("weights n=%d lane %d element %d", n, l, e), uGo[e*us+l], want)
			}
		}
	}
}
