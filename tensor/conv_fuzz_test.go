package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// FuzzConv2D checks the CPU convolution passes against the reference on
// shapes and parameters chosen by the fuzzer, on every tier.
//
//	go test -run '^$' -fuzz FuzzConv2D ./tensor
func FuzzConv2D(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(7), uint8(9), uint8(4), uint8(5), uint8(3), uint8(3), uint8(0x55), uint8(0))
	f.Add(uint64(2), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(1))
	f.Add(uint64(3), uint8(2), uint8(12), uint8(5), uint8(6), uint8(6), uint8(3), uint8(2), uint8(0xff), uint8(2))
	f.Add(uint64(4), uint8(2), uint8(9), uint8(11), uint8(7), uint8(1), uint8(3), uint8(3), uint8(0x00), uint8(4))
	f.Add(uint64(5), uint8(1), uint8(7), uint8(13), uint8(20), uint8(1), uint8(4), uint8(5), uint8(0x40), uint8(12))
	f.Fuzz(func(t *testing.T, seed uint64, n, h, w, c, o, kh, kw, geo, grp uint8) {
		cc := convCase{n: 1 + int(n)%4, h: 1 + int(h)%24, w: 1 + int(w)%24, c: 1 + int(c)%12, o: 1 + int(o)%12,
			kh: 1 + int(kh)%5, kw: 1 + int(kw)%5}
		cc.p = ConvParams{StrideH: 1 + int(geo)%3, StrideW: 1 + int(geo>>2)%3, DilationH: 1 + int(geo>>4)%2, DilationW: 1 + int(geo>>5)%2,
			PadTop: int(geo>>6) % 3, PadLeft: int(geo) % 3, PadBottom: int(geo>>1) % 3, PadRight: int(geo>>3) % 3}
		if grp&4 != 0 { // O a multiple of every NR: the row-tap paths
			cc.o = 32 * (1 + int(o)%2)
			if grp&8 != 0 { // kernel rows of 64 floats and more: gathered tiles, wide tap weight gradients
				cc.c = 13 + int(c)%28
			}
		}
		switch grp % 3 {
		case 1: // depthwise
			cc.o, cc.p.Groups = cc.c, cc.c
		case 2:
			cc.c, cc.o, cc.p.Groups = 2*cc.c, 2*cc.o, 2
		}
		if oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw); oh < 1 || ow < 1 {
			return
		}
		for _, tier := range kernels.TestTiers() {
			cpu := cpuFor(t, tier, CPUOptions{})
			r := rand.New(rand.NewPCG(seed, 1))
			x, wt, bias, y := cc.tensors(r)
			want := y.Clone()
			cpu.Conv2D(y, x, wt, bias, cc.p)
			Reference{}.Conv2D(want, x, wt, bias, cc.p)
			closeTo(t, tier.String()+" forward "+cc.String(), y.data, want.data, cc.kh*cc.kw*cc.c)
			dy := RandNormal(seed, 0, 1, y.shape...)
			dx, dxw := Zeros(x.shape...), Zeros(x.shape...)
			cpu.Conv2DBackwardData(dx, dy, wt, cc.p)
			Reference{}.Conv2DBackwardData(dxw, dy, wt, cc.p)
			closeTo(t, tier.String()+" backward data "+cc.String(), dx.data, dxw.data, cc.o*cc.kh*cc.kw)
			dw, dww, db, dbw := Zeros(wt.shape...), Zeros(wt.shape...), Zeros(cc.o), Zeros(cc.o)
			cpu.Conv2DBackwardWeights(dw, db, x, dy, cc.p)
			Reference{}.Conv2DBackwardWeights(dww, dbw, x, dy, cc.p)
			closeTo(t, tier.String()+" backward weights "+cc.String(), dw.data, dww.data, y.Len()/cc.o)
			closeTo(t, tier.String()+" bias gradient "+cc.String(), db.data, dbw.data, y.Len()/cc.o)
		}
	})
}

// FuzzPool2D checks pooling on fuzzed windows: max pooling against a
// brute-force scan, and both backward passes as exact adjoints of their
// forward passes (⟨pool(x), dy⟩ = ⟨x, pool'(dy)⟩; both are linear in x
// once the argmax is fixed).
//
//	go test -run '^$' -fuzz FuzzPool2D ./tensor
func FuzzPool2D(f *testing.F) {
	f.Add(uint64(1), uint8(9), uint8(7), uint8(3), uint8(3), uint8(0x2a), uint8(1))
	f.Add(uint64(2), uint8(4), uint8(4), uint8(2), uint8(2), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, h, w, kh, kw, geo, flags uint8) {
		p := PoolParams{KH: 1 + int(kh)%4, KW: 1 + int(kw)%4, CeilMode: flags&1 != 0, CountIncludePad: flags&2 != 0,
			ConvParams: ConvParams{StrideH: 1 + int(geo)%3, StrideW: 1 + int(geo>>2)%3, PadTop: int(geo>>4) % 2, PadLeft: int(geo>>5) % 2,
				PadBottom: int(geo>>6) % 2, PadRight: int(geo>>7) % 2}}
		H, W := 1+int(h)%16, 1+int(w)%16
		if p.PadTop >= p.KH || p.PadBottom >= p.KH || p.PadLeft >= p.KW || p.PadRight >= p.KW {
			return // a window entirely in the padding: PyTorch refuses these too
		}
		oh, ow := p.OutSize(H, W)
		if oh < 1 || ow < 1 {
			return
		}
		x := Zeros(2, H, W, 3)
		for i, j := range rand.New(rand.NewPCG(seed, 2)).Perm(x.Len()) {
			x.data[i] = float32(j) // distinct values: one argmax per window
		}
		y, dy := Zeros(2, oh, ow, 3), RandNormal(seed, 0, 1, 2, oh, ow, 3)
		CPU{}.MaxPool2D(y, x, p)
		for n := 0; n < 2; n++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					for c := 0; c < 3; c++ {
						m := float32(math.Inf(-1))
						for a := i*p.StrideH - p.PadTop; a < i*p.StrideH-p.PadTop+p.KH; a++ {
							for b := j*p.StrideW - p.PadLeft; b < j*p.StrideW-p.PadLeft+p.KW; b++ {
								if a >= 0 && a < H && b >= 0 && b < W {
									m = max(m, x.At(n, a, b, c))
								}
							}
						}
						if got := y.At(n, i, j, c); got != m {
							t.Fatalf("%+v on %dx%d: max at (%d,%d,%d,%d) = %v, brute force %v", p, H, W, n, i, j, c, got, m)
						}
					}
				}
			}
		}
		dx := Zeros(x.shape...)
		CPU{}.MaxPool2DBackward(dx, x, dy, p)
		// tolerance: float32 rounding of sums whose terms reach Σ|y·dy|
		absDot := func(a, b *Tensor) float64 {
			var s float64
			for i := range a.data {
				s += math.Abs(float64(a.data[i]) * float64(b.data[i]))
			}
			return s
		}
		if a, b := dot(y, dy), dot(x, dx); math.Abs(a-b) > 1e-5*absDot(y, dy) {
			t.Fatalf("%+v: max pool backward is not the adjoint: %v vs %v", p, a, b)
		}
		CPU{}.AvgPool2D(y, x, p)
		CPU{}.AvgPool2DBackward(dx, dy, p)
		if a, b := dot(y, dy), dot(x, dx); math.Abs(a-b) > 1e-5*absDot(y, dy) {
			t.Fatalf("%+v: avg pool backward is not the adjoint: %v vs %v", p, a, b)
		}
	})
}
