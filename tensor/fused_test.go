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

// refAct applies act to y in place with plain Go loops: Go's min and max
// for the clamp, x < 0 → 0 for ReLU.
func refAct(y []float32, act FusedAct) {
	for i, v := range y {
		switch act.Kind {
		case FuseReLU:
			if v < 0 {
				y[i] = 0
			}
		case FuseClamp:
			y[i] = min(max(v, act.Lo), act.Hi)
		}
	}
}

// TestConv2DActExact checks CPU.Conv2DAct on every tier, on one and two
// threads, against Conv2D on one thread followed by the activation in
// plain Go, bit for bit (NaN for NaN), on random convolutions of every path (depthwise, 1×1,
// Winograd, row-tap, planar, im2col; randomConv) and on MobileNet's and
// ResNet's shapes, with pixels of the input set to zero (outputs equal to
// the bias, which hits the clamp bounds and −0) and to NaN.
func TestConv2DActExact(t *testing.T) {
	cases := []convCase{
		{n: 2, h: 9, w: 11, c: 32, o: 32, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 32}},
		{n: 1, h: 12, w: 13, c: 48, o: 48, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 48}},
		{n: 2, h: 7, w: 9, c: 24, o: 144, kh: 1, kw: 1},
		{n: 1, h: 10, w: 10, c: 16, o: 64, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{n: 1, h: 15, w: 15, c: 3, o: 32, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{n: 2, h: 9, w: 7, c: 16, o: 32, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{n: 1, h: 20, w: 19, c: 3, o: 64, kh: 7, kw: 7, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 3, PadBottom: 3, PadLeft: 3, PadRight: 3}},
		{n: 2, h: 11, w: 11, c: 64, o: 128, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{n: 2, h: 30, w: 29, c: 48, o: 48, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 48}}, // threads cut rows
	}
	r := rand.New(rand.NewPCG(14, 1))
	for len(cases) < 30 {
		cases = append(cases, randomConv(r))
	}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			for ci, cc := range cases {
				for ai, act := range epiActs {
					rr := rand.New(rand.NewPCG(uint64(ci), uint64(ai)))
					x, w, bias, want := cc.tensors(rr)
					xd := x.Data()
					for p := 0; p < len(xd)/cc.c; p++ {
						switch rr.IntN(8) {
						case 0, 1, 2:
							clear(xd[p*cc.c : (p+1)*cc.c])
						case 3:
							xd[p*cc.c+rr.IntN(cc.c)] = float32(math.NaN())
						}
					}
					bd := bias.Data()
					for j := range bd {
						switch rr.IntN(4) {
						case 0:
							bd[j] = act.Lo
						case 1:
							bd[j] = act.Hi
						case 2:
							bd[j] = float32(math.Copysign(0, -1))
						}
					}
					if (ci+ai)%3 == 2 {
						bias = nil
					}
					one := runtime.GOMAXPROCS(1) // the reference on one thread
					cpu.Conv2D(want, x, w, bias, cc.p)
					runtime.GOMAXPROCS(one)
					refAct(want.Data(), act)
					got := ConvOutput(x, w, cc.p)
					cpu.Conv2DAct(got, x, w, bias, cc.p, act)
					for i, v := range want.Data() {
						if g := got.Data()[i]; !sameBits(g, v) {
							t.Fatalf("tier %s, %d threads, %v, act %+v, bias %v: y[%d] = %v (%#x), want %v (%#x)",
								tier, procs, cc, act, bias != nil, i, g, math.Float32bits(g), v, math.Float32bits(v))
						}
					}
				}
			}
			runtime.GOMAXPROCS(prev)
		}
	}
}

// TestConv2DActFallback checks the package-level Conv2DAct (the default
// backend's fused path) against Conv2D then ReLU or Clamp.
func TestConv2DActFallback(t *testing.T) {
	cc := convCase{n: 1, h: 6, w: 5, c: 8, o: 16, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}}
	for _, act := range epiActs {
		x, w, bias, want := cc.tensors(rand.New(rand.NewPCG(3, 4)))
		Conv2D(want, x, w, bias, cc.p)
		switch act.Kind {
		case FuseReLU:
			ReLU(want, want)
		case FuseClamp:
			Clamp(want, want, act.Lo, act.Hi)
		}
		got := ConvOutput(x, w, cc.p)
		Conv2DAct(got, x, w, bias, cc.p, act)
		for i, v := range want.Data() {
			if g := got.Data()[i]; !sameBits(g, v) {
				t.Fatal(fmt.Sprintf("act %+v: y[%d] = %v, want %v", act, i, g, v))
			}
		}
	}
}

// TestAddActExact checks AddAct (and Add and ReLU, which share its
// threads) on one and two threads, into a third tensor and in place,
// against the plain loops bit for bit (NaN for NaN), on lengths that cut
// into several parts with ragged ends, with ±0, NaN and the clamp bounds
// among the sums.
func TestAddActExact(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	for _, n := range []int{1, 13, 2*relu6Grain + 7, 5*relu6Grain + 33} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			switch r.IntN(8) {
			case 0:
				x[i], y[i] = 0, float32(math.Copysign(0, -1))
			case 1:
				x[i] = float32(math.NaN())
			case 2:
				x[i], y[i] = 0.25, 0
			}
		}
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			for _, act := range epiActs {
				want := make([]float32, n)
				for i := range want {
					want[i] = x[i] + y[i]
				}
				refAct(want, act)
				X, Y := FromSlice(slices.Clone(x), n), FromSlice(slices.Clone(y), n)
				Z := Zeros(n)
				AddAct(Z, X, Y, act)
				AddAct(X, X, Y, act) // in place
				for i, w := range want {
					if !sameBits(Z.Data()[i], w) || !sameBits(X.Data()[i], w) {
						t.Fatalf("n %d, %d threads, act %+v: z[%d] = %v, in place %v, want %v", n, procs, act, i, Z.Data()[i], X.Data()[i], w)
					}
				}
			}
			Z := Zeros(n)
			Add(Z, FromSlice(x, n), FromSlice(y, n))
			R := Zeros(n)
			ReLU(R, Z)
			for i := range x {
				s := x[i] + y[i]
				rl := s
				if rl < 0 {
					rl = 0
				}
				if !sameBits(Z.Data()[i], s) || !sameBits(R.Data()[i], rl) {
					t.Fatalf("n %d, %d threads: Add [%d] = %v, ReLU %v; want %v, %v", n, procs, i, Z.Data()[i], R.Data()[i], s, rl)
				}
			}
			runtime.GOMAXPROCS(prev)
		}
	}
}

// TestPointwiseActExact checks PointwiseAct (weights transposed, read in
// place or copied by the GEMM) against Conv2DAct of the same 1×1
// convolution bit for bit, on every tier at 1 and 2 threads: few pixels
// (B read in place) and many (B packed), ragged channel counts, no input
// channels, with and without bias.
func TestPointwiseActExact(t *testing.T) {
	shapes := []struct{ n, h, w, c, o int }{
		{1, 7, 7, 160, 960}, {2, 7, 7, 960, 160}, {1, 1, 1, 5, 3}, {3, 5, 4, 17, 33},
		{1, 14, 14, 64, 384}, {2, 16, 16, 24, 144}, {1, 28, 28, 32, 16},
		{4, 9, 11, 40, 24}, {1, 2, 1, 1, 2}, {1, 13, 17, 96, 40}, // not C = O = 1: that is depthwise
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			for si, s := range shapes {
				for ai, act := range epiActs {
					x := RandNormal(uint64(si), 0, 1, s.n, s.h, s.w, s.c)
					w := RandNormal(uint64(si+100), 0, 0.3, s.o, s.c, 1, 1)
					var bias *Tensor
					if (si+ai)%3 != 2 {
						bias = RandNormal(uint64(si+200), 0, 1, s.o)
					}
					wt := Zeros(s.c, s.o)
					for o := range s.o {
						for c := range s.c {
							wt.Data()[c*s.o+o] = w.Data()[o*s.c+c]
						}
					}
					want := Zeros(s.n, s.h, s.w, s.o)
					cpu.Conv2DAct(want, x, w, bias, ConvParams{}, act)
					got := Full(float32(math.NaN()), s.n, s.h, s.w, s.o)
					cpu.PointwiseAct(got, x, wt, bias, act)
					for i, v := range want.Data() {
						if g := got.Data()[i]; !sameBits(g, v) {
							t.Fatalf("tier %s, %d threads, %+v, act %+v, bias %v: y[%d] = %v, want %v", cpu.Name(), procs, s, act, bias != nil, i, g, v)
						}
					}
				}
			}
			runtime.GOMAXPROCS(prev)
		}
	})
	// no input channels: the bias, then the activation
	y := Full(7, 1, 2, 1, 3)
	CPU{}.PointwiseAct(y, Zeros(1, 2, 1, 0), Zeros(0, 3), FromSlice([]float32{-1, 0.5, 9}, 3), ClampAct(0, 6))
	if want := []float32{0, 0.5, 6, 0, 0.5, 6}; !slices.Equal(y.Data(), want) {
		t.Errorf("no input channels: %v, want %v", y.Data(), want)
	}
	for _, bad := range []func(){
		func() { CPU{}.PointwiseAct(Zeros(1, 2, 2, 4), Zeros(1, 2, 2, 3), Zeros(4, 3), nil, FusedAct{}) },
		func() { CPU{}.PointwiseAct(Zeros(1, 2, 2, 4), Zeros(1, 2, 2, 3), Zeros(3, 4), Zeros(5), FusedAct{}) },
		func() { CPU{}.PointwiseAct(Zeros(1, 2, 3, 4), Zeros(1, 2, 2, 3), Zeros(3, 4), nil, FusedAct{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("PointwiseAct took mismatched shapes")
				}
			}()
			bad()
		}()
	}
}

// TestDepthwisePointwiseExact checks CPU.DepthwisePointwise on every tier
// against Conv2DAct of the depthwise convolution then PointwiseAct, bit
// for bit (NaN for NaN): MobileNet's shapes (stride 1 and 2, several
// bands of rows across images) and random depthwise convolutions (any
// kernel, stride, dilation, padding, 1..40 channels) with 1..40 outputs,
// every activation on either side, with and without biases, NaN inputs.
func TestDepthwisePointwiseExact(t *testing.T) {
	pad1 := ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	s2 := ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	type dwpw struct {
		cc convCase
		o  int
	}
	cases := []dwpw{
		{convCase{n: 3, h: 14, w: 14, c: 96, o: 96, kh: 3, kw: 3, p: pad1}, 24},
		{convCase{n: 2, h: 28, w: 28, c: 144, o: 144, kh: 3, kw: 3, p: s2}, 32},
		{convCase{n: 4, h: 7, w: 7, c: 960, o: 960, kh: 3, kw: 3, p: pad1}, 320},
		{convCase{n: 2, h: 30, w: 5, c: 17, o: 17, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}}, 33},
	}
	r := rand.New(rand.NewPCG(16, 1))
	for len(cases) < 24 {
		cc := randomConv(r)
		c := 1 + r.IntN(40)
		cc.c, cc.o, cc.p.Groups = c, c, c
		if oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw); oh < 1 || ow < 1 {
			continue
		}
		cases = append(cases, dwpw{cc, 1 + r.IntN(40)})
	}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		for ci, tc := range cases {
			cc := tc.cc
			cc.p.Groups = cc.c
			rr := rand.New(rand.NewPCG(uint64(ci), 7))
			act1, act2 := epiActs[rr.IntN(len(epiActs))], epiActs[rr.IntN(len(epiActs))]
			x, w, b1, z := cc.tensors(rr)
			if rr.IntN(4) == 0 {
				xd := x.Data()
				xd[rr.IntN(len(xd))] = float32(math.NaN())
			}
			wt := RandNormal(rr.Uint64(), 0, 1, cc.c, tc.o)
			b2 := RandNormal(rr.Uint64(), 0, 1, tc.o)
			if ci%3 == 1 {
				b1 = nil
			}
			if ci%4 == 2 {
				b2 = nil
			}
			cpu.Conv2DAct(z, x, w, b1, cc.p, act1)
			want := Zeros(z.Dim(0), z.Dim(1), z.Dim(2), tc.o)
			cpu.PointwiseAct(want, z, wt, b2, act2)
			got := Zeros(want.Shape()...)
			cpu.DepthwisePointwise(got, x, w, b1, cc.p, act1, wt, b2, act2)
			for i, v := range want.Data() {
				if g := got.Data()[i]; !sameBits(g, v) {
					t.Fatalf("tier %s, %v → %d, acts %+v %+v, biases %v %v: y[%d] = %v, want %v",
						tier, cc, tc.o, act1, act2, b1 != nil, b2 != nil, i, g, v)
				}
			}
		}
	}
}

// TestInvertedResidualExact checks CPU.InvertedResidual on every tier
// against PointwiseAct, Conv2DAct of the depthwise convolution and
// PointwiseAct, bit for bit (NaN for NaN): MobileNetV2's shapes shrunk,
// bands of rows that share input rows (stride 1, 2 and dilation), layers
// wide enough for many bands a image, and random depthwise convolutions,
// every activation at each step, with and without biases.
func TestInvertedResidualExact(t *testing.T) {
	pad1 := ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	s2 := ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	type ir struct {
		cc     convCase // the depthwise convolution (cc.c: the expansion's channels)
		cin, o int
	}
	cases := []ir{
		{convCase{n: 2, h: 14, w: 14, c: 96, kh: 3, kw: 3, p: pad1}, 16, 24},
		{convCase{n: 2, h: 40, w: 20, c: 256, kh: 3, kw: 3, p: pad1}, 24, 32}, // many bands an image
		{convCase{n: 2, h: 41, w: 21, c: 256, kh: 3, kw: 3, p: s2}, 24, 40},   // many bands, stride 2
		{convCase{n: 1, h: 45, w: 18, c: 300, kh: 5, kw: 3, p: ConvParams{DilationH: 2, PadTop: 4, PadBottom: 3, PadLeft: 1, PadRight: 1}}, 7, 9},
		{convCase{n: 3, h: 7, w: 7, c: 48, kh: 3, kw: 3, p: pad1}, 8, 8},
	}
	r := rand.New(rand.NewPCG(17, 1))
	for len(cases) < 22 {
		cc := randomConv(r)
		c := 1 + r.IntN(40)
		cc.c = c
		if oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw); oh < 1 || ow < 1 {
			continue
		}
		cases = append(cases, ir{cc, 1 + r.IntN(30), 1 + r.IntN(30)})
	}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		for ci, tc := range cases {
			cc := tc.cc
			cc.o, cc.p.Groups = cc.c, cc.c
			rr := rand.New(rand.NewPCG(uint64(ci), 9))
			act0, act1, act2 := epiActs[rr.IntN(len(epiActs))], epiActs[rr.IntN(len(epiActs))], epiActs[rr.IntN(len(epiActs))]
			x := RandNormal(rr.Uint64(), 0, 1, cc.n, cc.h, cc.w, tc.cin)
			if rr.IntN(4) == 0 {
				x.Data()[rr.IntN(x.Len())] = float32(math.NaN())
			}
			we := RandNormal(rr.Uint64(), 0, 1, tc.cin, cc.c)
			b0 := RandNormal(rr.Uint64(), 0, 1, cc.c)
			w := RandNormal(rr.Uint64(), 0, 1, cc.c, 1, cc.kh, cc.kw)
			b1 := RandNormal(rr.Uint64(), 0, 1, cc.c)
			wt := RandNormal(rr.Uint64(), 0, 1, cc.c, tc.o)
			b2 := RandNormal(rr.Uint64(), 0, 1, tc.o)
			switch ci % 4 {
			case 1:
				b0 = nil
			case 2:
				b1 = nil
			case 3:
				b2 = nil
			}
			z := Zeros(cc.n, cc.h, cc.w, cc.c)
			cpu.PointwiseAct(z, x, we, b0, act0)
			d := ConvOutput(z, w, cc.p)
			cpu.Conv2DAct(d, z, w, b1, cc.p, act1)
			want := Zeros(d.Dim(0), d.Dim(1), d.Dim(2), tc.o)
			cpu.PointwiseAct(want, d, wt, b2, act2)
			got := Zeros(want.Shape()...)
			cpu.InvertedResidual(got, x, we, b0, act0, w, b1, cc.p, act1, wt, b2, act2)
			for i, v := range want.Data() {
				if g := got.Data()[i]; !sameBits(g, v) {
					t.Fatalf("tier %s, case %d: %d → %v → %d, acts %+v %+v %+v: y[%d] = %v, want %v",
						tier, ci, tc.cin, cc, tc.o, act0, act1, act2, i, g, v)
				}
			}
			if ci%5 != 0 {
				continue
			}
			// The same weight tensors, changed in place: nothing of the
			// last call's packed weights may be reused (gemmScratch.keepB).
			for _, wd := range [][]float32{we.Data(), wt.Data()} {
				for i := range wd {
					wd[i] = -0.5 * wd[i]
				}
			}
			cpu.PointwiseAct(z, x, we, b0, act0)
			cpu.Conv2DAct(d, z, w, b1, cc.p, act1)
			cpu.PointwiseAct(want, d, wt, b2, act2)
			cpu.InvertedResidual(got, x, we, b0, act0, w, b1, cc.p, act1, wt, b2, act2)
			for i, v := range want.Data() {
				if g := got.Data()[i]; !sameBits(g, v) {
					t.Fatalf("tier %s, case %d, weights changed: y[%d] = %v, want %v", tier, ci, i, g, v)
				}
			}
		}
	}
}
