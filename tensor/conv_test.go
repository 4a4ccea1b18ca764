package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type convCase struct {
	n, h, w, c, o, kh, kw int
	p                     ConvParams
}

func (cc convCase) String() string {
	return fmt.Sprintf("x[%d,%d,%d,%d] w[%d,%d,%d,%d] %+v", cc.n, cc.h, cc.w, cc.c, cc.o, cc.c/max(cc.p.Groups, 1), cc.kh, cc.kw, cc.p)
}

// randomConv draws a convolution with ragged sizes, strides 1..3,
// dilations 1..2, asymmetric padding and groups in {1, 2, C}.
func randomConv(r *rand.Rand) convCase {
	for {
		cc := convCase{n: 1 + r.IntN(3), h: 1 + r.IntN(20), w: 1 + r.IntN(20), kh: 1 + r.IntN(5), kw: 1 + r.IntN(5)}
		cc.p = ConvParams{StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3), DilationH: 1 + r.IntN(2), DilationW: 1 + r.IntN(2),
			PadTop: r.IntN(3), PadLeft: r.IntN(3), PadBottom: r.IntN(3), PadRight: r.IntN(3)}
		switch r.IntN(6) {
		case 4, 5: // the row-tap path: one group, O a multiple of 16 and 32, dilationW 1, sometimes KW·C > KC
			cc.c, cc.o, cc.p.Groups, cc.p.DilationW = 1+r.IntN(120), 32*(1+r.IntN(3)), 1, 1
			if r.IntN(2) == 0 {
				cc.p.StrideH, cc.p.StrideW = 1, 1
			}
		case 0: // depthwise
			cc.c = 1 + r.IntN(37)
			cc.o, cc.p.Groups = cc.c, cc.c
		case 1: // two groups
			cc.c, cc.o, cc.p.Groups = 2*(1+r.IntN(9)), 2*(1+r.IntN(9)), 2
		case 2: // 1×1 pointwise in place
			cc.c, cc.o, cc.kh, cc.kw = 1+r.IntN(40), 1+r.IntN(40), 1, 1
			cc.p = ConvParams{}
		default:
			cc.c, cc.o, cc.p.Groups = 1+r.IntN(17), 1+r.IntN(33), 1
		}
		if r.IntN(4) == 0 { // the full ranges: N 1..5, H, W 1..37, with few channels to keep the reference quick
			cc.n, cc.h, cc.w = 1+r.IntN(5), 1+r.IntN(37), 1+r.IntN(37)
			if cc.p.Groups <= 1 {
				cc.c = 1 + cc.c%6
			} else if cc.p.Groups == 2 {
				cc.c, cc.o = 2+cc.c%6, 2+cc.o%6
				cc.c, cc.o = cc.c&^1, cc.o&^1
			}
			if cc.p.Groups != cc.c || cc.o != cc.c {
				cc.o = min(cc.o, 32)
			}
		}
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		if oh >= 1 && ow >= 1 {
			return cc
		}
	}
}

func (cc convCase) tensors(r *rand.Rand) (x, w, bias, y *Tensor) {
	x = RandNormal(r.Uint64(), 0, 1, cc.n, cc.h, cc.w, cc.c)
	w = RandNormal(r.Uint64(), 0, 1, cc.o, cc.c/max(cc.p.Groups, 1), cc.kh, cc.kw)
	bias = RandNormal(r.Uint64(), 0, 1, cc.o)
	y = ConvOutput(x, w, cc.p)
	return
}

// closeTo compares with a tolerance for sums of n products of unit normals.
func closeTo(t *testing.T, what string, got, want []float32, n int) {
	t.Helper()
	tol := 2e-6 * float64(n+4)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*math.Max(1, math.Abs(float64(want[i])))) {
			t.Fatalf("%s: [%d] = %v, want %v (tol %.2g)", what, i, got[i], want[i], tol)
		}
	}
}

func TestConv2DMatchesReference(t *testing.T) {
	cases := 150
	if testing.Short() {
		cases = 40
	}
	forEachTierParallel(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(11, uint64(cpu.kern().tier)))
		pad1 := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		// The benchmark layers, shrunk: every fast path on shapes it was built for.
		layers := []convCase{
			{n: 2, h: 9, w: 9, c: 1, o: 32, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
			{n: 2, h: 14, w: 14, c: 3, o: 64, kh: 7, kw: 7, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3}},
			{n: 2, h: 7, w: 7, c: 64, o: 64, kh: 3, kw: 3, p: pad1},
			{n: 1, h: 5, w: 5, c: 300, o: 32, kh: 3, kw: 3, p: pad1},
			{n: 2, h: 8, w: 8, c: 48, o: 48, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 48}},
			{n: 2, h: 7, w: 9, c: 1, o: 1, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
			{n: 2, h: 9, w: 11, c: 1, o: 1, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 1}},
			{n: 2, h: 7, w: 9, c: 7, o: 7, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 7}},
			{n: 2, h: 9, w: 11, c: 7, o: 7, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 7}},
			{n: 2, h: 7, w: 9, c: 17, o: 17, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 17}},
			{n: 2, h: 9, w: 11, c: 17, o: 17, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 17}},
			{n: 2, h: 7, w: 9, c: 33, o: 33, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 33}},
			{n: 2, h: 9, w: 11, c: 33, o: 33, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 33}},
			{n: 2, h: 7, w: 9, c: 144, o: 144, kh: 3, kw: 3, p: ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 144}},
			{n: 2, h: 9, w: 11, c: 144, o: 144, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 144}},
			{n: 2, h: 13, w: 14, c: 24, o: 24, kh: 5, kw: 4, p: ConvParams{PadTop: 2, PadLeft: 1, PadBottom: 2, PadRight: 2, Groups: 24}},
			{n: 1, h: 15, w: 16, c: 16, o: 16, kh: 12, kw: 12, p: ConvParams{PadTop: 1, PadLeft: 1, Groups: 16}}, // more taps than the depthwise tiles take
			{n: 2, h: 6, w: 6, c: 32, o: 64, kh: 1, kw: 1},
			// the 32-filter row kernels in tiles of 14, 7 and 12 pixels
			// (rowsOverTiles): MNIST's second layer, 7-pixel rows, stride 2,
			// a short last tile
			{n: 2, h: 14, w: 14, c: 32, o: 64, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
			{n: 2, h: 7, w: 7, c: 32, o: 32, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
			{n: 1, h: 15, w: 27, c: 24, o: 32, kh: 3, kw: 3, p: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
			{n: 1, h: 6, w: 10, c: 16, o: 32, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
			// the planar path (C ≤ 4, stride 1): LeNet's first layer, dilation with
			// asymmetric padding, and enough pixels for several GEMM blocks.
			{n: 3, h: 28, w: 28, c: 1, o: 6, kh: 5, kw: 5, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
			{n: 2, h: 17, w: 13, c: 3, o: 7, kh: 3, kw: 4, p: ConvParams{DilationH: 2, DilationW: 2, PadTop: 2, PadLeft: 1, PadRight: 3}},
			{n: 5, h: 33, w: 37, c: 2, o: 33, kh: 3, kw: 3, p: pad1},
			// the Winograd path (3×3, stride 1, C, O ≥ 16): odd sizes, asymmetric
			// padding, pad 0 and 2, channel counts off the vector width
			{n: 1, h: 1, w: 1, c: 17, o: 33, kh: 3, kw: 3, p: pad1},
			{n: 5, h: 7, w: 17, c: 33, o: 17, kh: 3, kw: 3, p: ConvParams{PadLeft: 2, PadBottom: 2, PadRight: 1}},
			{n: 3, h: 33, w: 7, c: 16, o: 40, kh: 3, kw: 3, p: ConvParams{PadTop: 2, PadBottom: 1, PadRight: 2}},
			{n: 2, h: 17, w: 33, c: 24, o: 16, kh: 3, kw: 3},
			{n: 4, h: 9, w: 9, c: 20, o: 48, kh: 3, kw: 3, p: ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		}
		for i := 0; i < cases+len(layers); i++ {
			var cc convCase
			if i < len(layers) {
				cc = layers[i]
			} else {
				cc = randomConv(r)
			}
			x, w, bias, y := cc.tensors(r)
			if i%3 == 0 {
				bias = nil
			}
			want := y.Clone()
			cpu.Conv2D(y, x, w, bias, cc.p)
			Reference{}.Conv2D(want, x, w, bias, cc.p)
			k := cc.kh * cc.kw * cc.c
			closeTo(t, "forward "+cc.String(), y.data, want.data, k)

			dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
			dx, dxWant := Full(float32(math.NaN()), x.shape...), Zeros(x.shape...)
			cpu.Conv2DBackwardData(dx, dy, w, cc.p)
			Reference{}.Conv2DBackwardData(dxWant, dy, w, cc.p)
			closeTo(t, "backward data "+cc.String(), dx.data, dxWant.data, cc.o*cc.kh*cc.kw)

			dw, dwWant := Full(float32(math.NaN()), w.shape...), Zeros(w.shape...)
			db, dbWant := Full(float32(math.NaN()), cc.o), Zeros(cc.o)
			cpu.Conv2DBackwardWeights(dw, db, x, dy, cc.p)
			Reference{}.Conv2DBackwardWeights(dwWant, dbWant, x, dy, cc.p)
			pix := y.Len() / cc.o
			closeTo(t, "backward weights "+cc.String(), dw.data, dwWant.data, pix)
			closeTo(t, "bias gradient "+cc.String(), db.data, dbWant.data, pix)
		}
	})
}

// TestConvReferenceGradients checks the reference backward passes against
// central finite differences of the reference forward pass.
func TestConvReferenceGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 0))
	for i := 0; i < 6; i++ {
		cc := randomConv(r)
		cc.n, cc.h, cc.w = 1, min(cc.h, 6), min(cc.w, 6)
		if oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw); oh < 1 || ow < 1 {
			continue
		}
		x, w, bias, y := cc.tensors(r)
		dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
		// L = Σ dy·conv(x, w, b): its gradients are the backward passes.
		loss := func() float64 {
			Reference{}.Conv2D(y, x, w, bias, cc.p)
			var s float64
			for j := range y.data {
				s += float64(y.data[j]) * float64(dy.data[j])
			}
			return s
		}
		dx, dw, db := Zeros(x.shape...), Zeros(w.shape...), Zeros(cc.o)
		Reference{}.Conv2DBackwardData(dx, dy, w, cc.p)
		Reference{}.Conv2DBackwardWeights(dw, db, x, dy, cc.p)
		for _, v := range []struct {
			name        string
			param, grad *Tensor
		}{{"x", x, dx}, {"w", w, dw}, {"bias", bias, db}} {
			for j := 0; j < v.param.Len(); j += 1 + v.param.Len()/20 {
				const h = 1e-2
				orig := v.param.data[j]
				v.param.data[j] = orig + h
				up := loss()
				v.param.data[j] = orig - h
				down := loss()
				v.param.data[j] = orig
				num := (up - down) / (2 * h)
				if d := math.Abs(num - float64(v.grad.data[j])); d > 1e-2*math.Max(1, math.Abs(num)) {
					t.Fatalf("%v: d%s[%d] = %v, finite difference %v", cc, v.name, j, v.grad.data[j], num)
				}
			}
		}
	}
}

func TestSamePadding(t *testing.T) {
	for _, c := range []struct{ in, k, s, d, b, a, bl, al int }{
		{5, 3, 1, 1, 1, 1, 1, 1}, {5, 3, 2, 1, 1, 1, 1, 1}, {6, 3, 2, 1, 0, 1, 1, 0}, {4, 4, 1, 1, 1, 2, 2, 1}, {7, 3, 1, 2, 2, 2, 2, 2},
	} {
		b, a := SamePadding(c.in, c.k, c.s, c.d, false)
		bl, al := SamePadding(c.in, c.k, c.s, c.d, true)
		if b != c.b || a != c.a || bl != c.bl || al != c.al {
			t.Errorf("SamePadding(%d,%d,%d,%d) = %d,%d / lower %d,%d; want %d,%d / %d,%d", c.in, c.k, c.s, c.d, b, a, bl, al, c.b, c.a, c.bl, c.al)
		}
		p := ConvParams{StrideH: c.s, DilationH: c.d, PadTop: b, PadBottom: a, StrideW: 1}
		if oh, _ := p.OutSize(c.in, 1, c.k, 1); oh != (c.in+c.s-1)/c.s {
			t.Errorf("same padding gives %d outputs for %d inputs, stride %d", oh, c.in, c.s)
		}
	}
}

func TestConvWindowLargerThanInput(t *testing.T) {
	p := ConvParams{StrideW: 3, PadRight: 1}
	if oh, ow := p.OutSize(5, 2, 1, 5); oh != 5 || ow != 0 {
		t.Fatalf("OutSize = %d, %d; want 5, 0", oh, ow)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a window wider than the padded input did not panic")
		}
	}()
	CPU{}.Conv2D(Zeros(1, 5, 1, 2), Zeros(1, 5, 2, 3), Zeros(2, 3, 1, 5), nil, p)
}
