package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The matrices of Winograd F(2×2, 5×5) in float64 (its Bᵀ is wino4BT).
var (
	wino25AT = [][]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}}
	wino25G  = [][]float64{{1. / 4, 0, 0, 0, 0}, {-1. / 6, -1. / 6, -1. / 6, -1. / 6, -1. / 6},
		{-1. / 6, 1. / 6, -1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6, 1. / 3, 2. / 3},
		{1. / 24, -1. / 12, 1. / 6, -1. / 3, 2. / 3}, {0, 0, 0, 0, 1}}
)

// TestWinograd25Kernels runs the F(2×2, 5×5) output and weight transform
// kernels against their Go twins bit for bit (channel tails, wide strides,
// NaN guards) and the twins against the matrices in float64.
func TestWinograd25Kernels(t *testing.T) {
	kn := wino4TestKernel()
	r := rand.New(rand.NewPCG(41, 0))
	tmp := make([]float32, 36*8)
	for _, n := range []int{1, 5, 8, 13, 16, 24, 31, 40, 64, 136} {
		ms, ys, yr := n+7, n+2, 2*n+11
		m, b := randFloats(r, 35*ms+n), randFloats(r, n)
		y, yGo := nanFloats(yr+ys+n+5), nanFloats(yr+ys+n+5)
		i := winograd25OutputKernels(&kn, n, m, ms, y, ys, yr, b, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the output kernel took %d of %d channels", i, n)
		}
		winograd25OutputGo(i, n, m, ms, y, ys, yr, b)
		winograd25OutputGo(0, n, m, ms, yGo, ys, yr, b)
		checkSameBits(t, "F(2×2, 5×5) kernels", fmt.Sprintf("output n=%d", n), y, yGo)
		for ch := 0; ch < n; ch += 3 {
			for rr := 0; rr < 2; rr++ {
				for c := 0; c < 2; c++ {
					want := float64(b[ch])
					for a := 0; a < 6; a++ {
						for bb := 0; bb < 6; bb++ {
							want += wino25AT[rr][a] * float64(m[(6*a+bb)*ms+ch]) * wino25AT[c][bb]
						}
					}
					nearTransform(t, fmt.Sprintf("output n=%d channel %d (%d,%d)", n, ch, rr, c), yGo[rr*yr+c*ys+ch], want)
				}
			}
		}

		ks, us := n+9, n+4
		k := randFloats(r, 24*ks+n)
		u, uGo := nanFloats(36*us), nanFloats(36*us)
		i = winograd25WeightKernels(&kn, n, k, ks, u, us, tmp)
		if kn.wino4 && i != n&^7 {
			t.Fatalf("the weight kernel took %d of %d lanes", i, n)
		}
		winograd25WeightGo(i, n, k, ks, u, us)
		winograd25WeightGo(0, n, k, ks, uGo, us)
		checkSameBits(t, "F(2×2, 5×5) kernels", fmt.Sprintf("weights n=%d", n), u, uGo)
		for l := 0; l < n; l += 3 {
			for e := 0; e < 36; e++ {
				var want float64
				for a := 0; a < 5; a++ {
					for bb := 0; bb < 5; bb++ {
						want += wino25G[e/6][a] * float64(k[(5*a+bb)*ks+l]) * wino25G[e%6][bb]
					}
				}
				nearTransform(t, fmt.Sprintf("weights n=%d lane %d element %d", n, l, e), uGo[e*us+l], want)
			}
		}
	}
}

// TestWinograd25MatchesReference runs the F(2×2, 5×5) path itself on
// random 5×5 convolutions (stride 1, padding 0..4 on each side) on every
// tier with its kernels, forward with and without bias and backward data,
// against the float64 reference within winoErrorBound; outputs start as
// NaN, and every third case uses chunks of one microkernel tile.
func TestWinograd25MatchesReference(t *testing.T) {
	cases := 120
	if testing.Short() {
		cases = 40
	}
	forEachTierParallel(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		if !kn.wino4 || kn.id == kidGeneric {
			t.Skip("no F(2×2, 5×5) kernels on this tier")
		}
		r := rand.New(rand.NewPCG(43, uint64(kn.tier)))
		short := withWinoTiles(kn, kn.mr)
		worst := 0.0
		for i := 0; i < cases; i++ {
			cc := convCase{n: 1 + r.IntN(4), h: 1 + r.IntN(17), w: 1 + r.IntN(17), c: 1 + r.IntN(40), o: 1 + r.IntN(40), kh: 5, kw: 5,
				p: ConvParams{PadTop: r.IntN(5), PadLeft: r.IntN(5), PadBottom: r.IntN(5), PadRight: r.IntN(5)}}
			if i%6 == 0 { // MNIST's second layer, shrunk
				cc = convCase{n: 2 + r.IntN(3), h: 14, w: 14, c: 32, o: 64, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}}
			}
			if oh, ow := cc.p.OutSize(cc.h, cc.w, 5, 5); oh < 1 || ow < 1 {
				continue
			}
			kn := kn
			if i%3 == 0 {
				kn = short
			}
			worst = max(worst, checkWinogradCase(t, kn, r, cc, i%2 == 0))
		}
		t.Logf("largest error: %.3g of the bound", worst)
	})
}
