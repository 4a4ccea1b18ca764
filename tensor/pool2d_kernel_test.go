package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// maxPoolBackLoop is what MaxPoolBackAVX2 (store false) and
// MaxPoolBackStoreAVX2 (store true) compute, with offsets and xs in
// elements: for each window w and channel i, a is the first tap holding
// the maximum (ties and later NaNs keep the earlier tap), and dy goes to
// dx there; the store variant writes +0 at the other taps and +0 + dy at a.
func maxPoolBackLoop(store bool, nw, nt, n int, x, dx []float32, xs int, toff []int, dy []float32) {
	for w := 0; w < nw; w++ {
		for i := 0; i < n; i++ {
			base := w*xs + i
			a := 0
			for t := 1; t < nt; t++ {
				if v, m := x[base+toff[t]], x[base+toff[a]]; v > m || (v != v && m == m) {
					a = t
				}
			}
			for t := 0; t < nt; t++ {
				p := base + toff[t]
				switch {
				case store && t == a:
					dx[p] = 0
					dx[p] += dy[w*n+i]
				case store:
					dx[p] = 0
				case t == a:
					dx[p] += dy[w*n+i]
				}
			}
		}
	}
}

// sameBits reports whether got and want are the same float32 bit for bit
// (so +0 is not −0), any NaN matching any NaN but the guard value, which
// must stay exact.
func sameBits(got, want float32) bool {
	if math.Float32bits(want) == math.Float32bits(guard) || math.Float32bits(got) == math.Float32bits(guard) {
		return math.Float32bits(got) == math.Float32bits(want)
	}
	return math.Float32bits(got) == math.Float32bits(want) || (got != got && want != want)
}

// poolValue returns a value for max-pool tests: small integers (so that
// windows tie), ±0, ±Inf and NaN.
func poolValue(r *rand.Rand) float32 {
	switch r.IntN(12) {
	case 0:
		return float32(math.NaN())
	case 1:
		return float32(math.Inf(-1))
	case 2:
		return float32(math.Inf(1))
	case 3:
		return float32(math.Copysign(0, -1))
	case 4:
		return 0
	}
	return float32(r.IntN(5) - 2)
}

// TestMaxPoolBackKernel runs the max-pool backward kernels against
// maxPoolBackLoop on every channel count 1..64 (full vectors and masked
// tails), 1 to 9 taps, one to four windows (overlapping ones for the
// adding kernel), with NaNs, ties, ±Inf and ±0 in x and dy; positions of
// dx that no tap covers, and guard bands around it, hold NaN sentinels
// that must stay exactly.
func TestMaxPoolBackKernel(t *testing.T) {
	if ok, why := kernels.Supported(kernels.AVX2); !ok {
		t.Skip(why)
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, store := range []bool{false, true} {
		for n := 1; n <= 64; n++ {
			for iter := 0; iter < 8; iter++ {
				nw, nt := 1+r.IntN(4), 1+r.IntN(9)
				toff := make([]int, nt)
				for i := 1; i < nt; i++ {
					toff[i] = toff[i-1] + n + r.IntN(n+1)
				}
				span := toff[nt-1] + n
				xs := 1 + r.IntN(span+1) // windows may overlap
				if store {
					xs = span + r.IntN(3) // windows share no position
				}
				size := (nw-1)*xs + span
				xbuf, dxbuf := make([]float32, size+2*guardLen), make([]float32, size+2*guardLen)
				for i := range xbuf {
					xbuf[i], dxbuf[i] = poolValue(r), guard
				}
				x, dx := xbuf[guardLen:][:size], dxbuf[guardLen:][:size]
				for w := 0; w < nw; w++ {
					for _, o := range toff {
						for i := 0; i < n; i++ {
							v := float32(r.NormFloat64()) // never −0: the adding kernel adds +0
							if store {
								v = poolValue(r)
							}
							dx[w*xs+o+i] = v
						}
					}
				}
				dy := make([]float32, nw*n)
				for i := range dy {
					dy[i] = float32(r.NormFloat64())
					if k := r.IntN(10); k < 5 {
						dy[i] = poolValue(r)
					}
				}
				want := append([]float32(nil), dxbuf...)
				xWant, dyWant := append([]float32(nil), xbuf...), append([]float32(nil), dy...)
				maxPoolBackLoop(store, nw, nt, n, x, want[guardLen:][:size], xs, toff, dy)
				tb := make([]int, nt)
				for i, o := range toff {
					tb[i] = 4 * o
				}
				callMaxPoolBack(store, nw, nt, n, x, dx, 4*xs, tb, dy)
				name := fmt.Sprintf("store=%v nw=%d nt=%d n=%d xs=%d toff=%v", store, nw, nt, n, xs, toff)
				for i := range dxbuf {
					if !sameBits(dxbuf[i], want[i]) {
						t.Fatalf("%s: dx buffer[%d] (guard band %d) = %v, want %v", name, i, guardLen, dxbuf[i], want[i])
					}
				}
				for i := range xbuf {
					if math.Float32bits(xbuf[i]) != math.Float32bits(xWant[i]) {
						t.Fatalf("%s: x changed", name)
					}
				}
				for i := range dy {
					if math.Float32bits(dy[i]) != math.Float32bits(dyWant[i]) {
						t.Fatalf("%s: dy changed", name)
					}
				}
			}
		}
	}
}

// TestMaxPoolBackwardBits checks CPU.MaxPool2DBackward bit for bit (NaN
// payloads aside) against the Reference backend on every tier, with the values of
// poolValue (ties, NaNs, ±Inf, ±0 in x; ±0, NaN and infinities in dy),
// on channel counts around the vector widths and windows that tile the
// input (dx stored, not cleared first), overlap, leave gaps or reach into
// the padding.
func TestMaxPoolBackwardBits(t *testing.T) {
	windows := []PoolParams{
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}},
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1}},
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}, CeilMode: true},
		{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{KH: 3, KW: 2, ConvParams: ConvParams{StrideH: 3, StrideW: 2, PadTop: 2, PadRight: 1}, CeilMode: true},
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 3, StrideW: 3, DilationH: 2, DilationW: 2}},
		{KH: 1, KW: 1, ConvParams: ConvParams{StrideH: 2, StrideW: 2}},
		{KH: 1, KW: 1},
		{KH: 4, KW: 4, ConvParams: ConvParams{StrideH: 4, StrideW: 4, PadBottom: 3, PadRight: 2}},
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(23, uint64(cpu.kern().tier)))
		for _, c := range []int{1, 5, 6, 7, 8, 9, 16, 17, 24, 32, 33, 40, 64, 71} {
			for _, p := range windows {
				n, h, w := 1+r.IntN(3), 1+r.IntN(13), 1+r.IntN(13)
				oh, ow := p.OutSize(h, w)
				if oh < 1 || ow < 1 {
					continue
				}
				x, dy := Zeros(n, h, w, c), Zeros(n, oh, ow, c)
				for i := range x.data {
					x.data[i] = poolValue(r)
				}
				for i := range dy.data {
					dy.data[i] = float32(r.NormFloat64())
					if r.IntN(3) == 0 {
						dy.data[i] = poolValue(r)
					}
				}
				dx, want := Full(7, x.shape...), Full(7, x.shape...)
				cpu.MaxPool2DBackward(dx, x, dy, p)
				Reference{}.MaxPool2DBackward(want, x, dy, p)
				for i := range want.data {
					if !sameBits(dx.data[i], want.data[i]) {
						t.Fatalf("c=%d x%v %+v: dx[%d] = %v, want %v", c, x.shape, p, i, dx.data[i], want.data[i])
					}
				}
			}
		}
	})
}

// BenchmarkMaxPoolBackward times CPU.MaxPool2DBackward on the shapes of
// small CNNs: 2×2 stride-2 pools and a ResNet stem's 3×3 stride-2 pad-1
// pool (run with -cpu 1 for one thread).
func BenchmarkMaxPoolBackward(b *testing.B) {
	for _, bc := range []struct {
		n, h, w, c, k, s, pad int
	}{
		{64, 28, 28, 6, 2, 2, 0},
		{64, 28, 28, 32, 2, 2, 0},
		{64, 28, 28, 64, 2, 2, 0},
		{32, 56, 56, 64, 3, 2, 1},
	} {
		p := PoolParams{KH: bc.k, KW: bc.k, ConvParams: ConvParams{StrideH: bc.s, StrideW: bc.s,
			PadTop: bc.pad, PadLeft: bc.pad, PadBottom: bc.pad, PadRight: bc.pad}}
		oh, ow := p.OutSize(bc.h, bc.w)
		x := RandNormal(1, 0, 1, bc.n, bc.h, bc.w, bc.c)
		dy := RandNormal(2, 0, 1, bc.n, oh, ow, bc.c)
		dx := Zeros(x.shape...)
		b.Run(fmt.Sprintf("shape=%dx%dx%dx%d/k=%d/s=%d", bc.n, bc.h, bc.w, bc.c, bc.k, bc.s), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CPU{}.MaxPool2DBackward(dx, x, dy, p)
			}
		})
	}
}
