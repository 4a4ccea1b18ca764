package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
)

// dot returns Σ a·b in float64.
func dot(a, b *Tensor) float64 {
	var s float64
	for i := range a.data {
		s += float64(a.data[i]) * float64(b.data[i])
	}
	return s
}

func TestPoolGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 0))
	for _, pp := range []PoolParams{
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}},
		{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 0}},
		{KH: 3, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1}, CeilMode: true},
		{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, CountIncludePad: true, CeilMode: true},
		{KH: 2, KW: 2, ConvParams: ConvParams{DilationH: 2, DilationW: 2}},
	} {
		// Distinct values 0.05 apart: no finite-difference step moves an argmax.
		x := Zeros(2, 7, 6, 3)
		for i, j := range r.Perm(x.Len()) {
			x.data[i] = float32(j) * 0.05
		}
		oh, ow := pp.OutSize(7, 6)
		y := Zeros(2, oh, ow, 3)
		dy := RandNormal(r.Uint64(), 0, 1, y.shape...)
		dx := Zeros(x.shape...)
		CPU{}.MaxPool2DBackward(dx, x, dy, pp)
		tensorcheck.CheckGrad(t, "MaxPool2D", dx.data, x.Data, 1e-2, func() float64 { CPU{}.MaxPool2D(y, x, pp); return dot(y, dy) }, false)
		if pp.DilationH <= 1 {
			CPU{}.AvgPool2DBackward(dx, dy, pp)
			tensorcheck.CheckGrad(t, "AvgPool2D", dx.data, x.Data, 1e-2, func() float64 { CPU{}.AvgPool2D(y, x, pp); return dot(y, dy) }, false)
		}
	}
	x := RandNormal(1, 0, 1, 2, 4, 5, 3)
	y, dy, dx := Zeros(2, 3), RandNormal(2, 0, 1, 2, 3), Zeros(x.shape...)
	CPU{}.GlobalAvgPoolBackward(dx, dy)
	tensorcheck.CheckGrad(t, "GlobalAvgPool", dx.data, x.Data, 1e-2, func() float64 { CPU{}.GlobalAvgPool(y, x); return dot(y, dy) }, false)
}

func TestBatchNormGradients(t *testing.T) {
	x := RandNormal(3, 1, 2, 2, 3, 4, 5)
	gamma, beta := RandNormal(4, 1, 0.5, 5), RandNormal(5, 0, 1, 5)
	y, dy := Zeros(x.shape...), RandNormal(6, 0, 1, x.shape...)
	sm, si := Zeros(5), Zeros(5)
	loss := func() float64 {
		CPU{}.BatchNormTrain(y, x, gamma, beta, nil, nil, sm, si, BatchNormParams{Eps: 1e-5})
		return dot(y, dy)
	}
	loss()
	dx, dg, db := Zeros(x.shape...), Zeros(5), Zeros(5)
	CPU{}.BatchNormBackward(dx, dg, db, x, dy, gamma, sm, si)
	tensorcheck.CheckGrad(t, "BatchNorm dx", dx.data, x.Data, 1e-2, loss, false)
	tensorcheck.CheckGrad(t, "BatchNorm dgamma", dg.data, gamma.Data, 1e-2, loss, false)
	tensorcheck.CheckGrad(t, "BatchNorm dbeta", db.data, beta.Data, 1e-2, loss, false)

	// Running statistics: PyTorch's momentum and unbiased variance.
	rm, rv := Zeros(5), Full(1, 5)
	CPU{}.BatchNormTrain(y, x, gamma, beta, rm, rv, sm, si, BatchNormParams{Momentum: 0.1, Eps: 1e-5, UnbiasedVar: true})
	n := float64(x.Len() / 5)
	for j := 0; j < 5; j++ {
		var s, sq float64
		for r := 0; r < int(n); r++ {
			s += float64(x.data[r*5+j])
		}
		mean := s / n
		for r := 0; r < int(n); r++ {
			d := float64(x.data[r*5+j]) - mean
			sq += d * d
		}
		if math.Abs(float64(rm.data[j])-0.1*mean) > 1e-5 || math.Abs(float64(rv.data[j])-(0.9+0.1*sq/(n-1))) > 1e-5 {
			t.Fatalf("running stats [%d] = %v, %v; want %v, %v", j, rm.data[j], rv.data[j], 0.1*mean, 0.9+0.1*sq/(n-1))
		}
	}
	// Inference with the batch's own statistics equals training output.
	yi := Zeros(x.shape...)
	variance := Zeros(5)
	for j := range variance.data {
		variance.data[j] = 1/(si.data[j]*si.data[j]) - 1e-5
	}
	CPU{}.BatchNormInference(yi, x, gamma, beta, sm, variance, BatchNormParams{Eps: 1e-5})
	closeTo(t, "BatchNormInference vs train", yi.data, y.data, 4)
}

func TestActivationGradients(t *testing.T) {
	for _, a := range []Activation{ActReLU, ActReLU6, ActLeakyReLU, ActSigmoid, ActTanh, ActGELU} {
		x := RandNormal(uint64(a)+7, 0, 4, 200)
		for i, v := range x.data { // keep finite differences off the kinks
			if math.Abs(float64(v)) < 0.05 || math.Abs(float64(v)-6) < 0.05 {
				x.data[i] += 0.2
			}
		}
		y, dy, dx := Zeros(200), RandNormal(8, 0, 1, 200), Zeros(200)
		CPU{}.Activate(y, x, a, 0.1)
		CPU{}.ActivateGrad(dx, x, y, dy, a, 0.1)
		tensorcheck.CheckGrad(t, a.String(), dx.data, x.Data, 1e-2, func() float64 { CPU{}.Activate(y, x, a, 0.1); return dot(y, dy) }, false)
		want := Zeros(200)
		CPU{}.Activate(y, x, a, 0.1)
		Reference{}.Activate(want, x, a, 0.1)
		closeTo(t, a.String()+" vs reference", y.data, want.data, 1)
	}
	if g := activate(ActGELU, 0, 1); math.Abs(float64(g)-0.8413447) > 1e-6 {
		t.Fatalf("GELU(1) = %v", g)
	}
	if s := sigmoid(-100); s != 0 && s > 1e-40 {
		t.Fatalf("sigmoid(-100) = %v", s)
	}
}

func TestSoftmaxGradients(t *testing.T) {
	for _, log := range []bool{false, true} {
		for axis := 0; axis < 3; axis++ {
			x := RandNormal(uint64(axis)+11, 0, 2, 3, 4, 5)
			y, dy, dx := Zeros(x.shape...), RandNormal(12, 0, 1, x.shape...), Zeros(x.shape...)
			CPU{}.Softmax(y, x, axis, log)
			CPU{}.SoftmaxGrad(dx, y, dy, axis, log)
			tensorcheck.CheckGrad(t, "softmax", dx.data, x.Data, 1e-2, func() float64 { CPU{}.Softmax(y, x, axis, log); return dot(y, dy) }, false)
		}
	}
	// Large logits stay finite.
	x := FromSlice([]float32{1000, 0, -1000}, 1, 3)
	y := Zeros(1, 3)
	CPU{}.Softmax(y, x, 1, true)
	if y.data[0] != 0 || y.data[1] != -1000 || y.data[2] != -2000 {
		t.Fatalf("LogSoftmax of large logits = %v", y.data)
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	logits := RandNormal(13, 0, 3, 4, 7)
	labels := []int{0, 6, 3, 3}
	for _, eps := range []float32{0, 0.1} {
		grad := Zeros(4, 7)
		CPU{}.SoftmaxCrossEntropy(grad, logits, labels, eps)
		tensorcheck.CheckGrad(t, "cross-entropy", grad.data, logits.Data, 1e-2, func() float64 {
			return float64(CPU{}.SoftmaxCrossEntropy(nil, logits, labels, eps))
		}, false)
	}
	// Uniform logits: loss log K whatever the smoothing.
	if l := (CPU{}).SoftmaxCrossEntropy(nil, Zeros(2, 10), []int{1, 2}, 0.2); math.Abs(float64(l)-math.Log(10)) > 1e-6 {
		t.Fatalf("uniform loss %v, want log 10", l)
	}
	// Huge logits: finite loss.
	if l := (CPU{}).SoftmaxCrossEntropy(nil, FromSlice([]float32{1e4, -1e4}, 1, 2), []int{1}, 0); math.IsInf(float64(l), 0) || math.Abs(float64(l)-2e4) > 1 {
		t.Fatalf("loss of huge logits %v", l)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("label out of range did not panic")
		}
	}()
	CPU{}.SoftmaxCrossEntropy(nil, Zeros(1, 3), []int{3}, 0)
}

func TestDropoutSeededAndScaled(t *testing.T) {
	x := Full(1, 10000)
	y1, m1, y2, m2 := Zeros(10000), Zeros(10000), Zeros(10000), Zeros(10000)
	CPU{}.Dropout(y1, m1, x, 0.3, 42)
	CPU{}.Dropout(y2, m2, x, 0.3, 42)
	kept := 0
	for i := range m1.data {
		if m1.data[i] != m2.data[i] {
			t.Fatal("same seed, different masks")
		}
		if m1.data[i] != 0 {
			kept++
			if math.Abs(float64(y1.data[i])-1/0.7) > 1e-6 {
				t.Fatalf("kept value %v, want 1/0.7", y1.data[i])
			}
		}
	}
	if kept < 6700 || kept > 7300 {
		t.Fatalf("kept %d of 10000 at p = 0.3", kept)
	}
}

func TestConcatSplitPad(t *testing.T) {
	a, b := RandNormal(1, 0, 1, 2, 3, 4), RandNormal(2, 0, 1, 2, 5, 4)
	cat := Zeros(2, 8, 4)
	CPU{}.Concat(cat, 1, a, b)
	if cat.At(1, 2, 3) != a.At(1, 2, 3) || cat.At(1, 3, 0) != b.At(1, 0, 0) || cat.At(0, 7, 3) != b.At(0, 4, 3) {
		t.Fatal("Concat misplaced values")
	}
	a2, b2 := Zeros(a.shape...), Zeros(b.shape...)
	CPU{}.Split(cat, 1, a2, b2)
	closeTo(t, "Split", a2.data, a.data, 0)
	closeTo(t, "Split", b2.data, b.data, 0)

	src := FromSlice([]float32{1, 2, 3}, 1, 3)
	for _, c := range []struct {
		mode PadMode
		want []float32
	}{
		{PadConstant, []float32{9, 9, 1, 2, 3, 9}},
		{PadReflect, []float32{3, 2, 1, 2, 3, 2}},
		{PadEdge, []float32{1, 1, 1, 2, 3, 3}},
	} {
		dst := Zeros(1, 6)
		CPU{}.Pad(dst, src, [][2]int{{0, 0}, {2, 1}}, c.mode, 9)
		closeTo(t, "Pad", dst.data, c.want, 0)
	}
	// Negative pads crop: the backward pass of a constant pad.
	crop := Zeros(1, 3)
	CPU{}.Pad(crop, FromSlice([]float32{9, 9, 1, 2, 3, 9}, 1, 6), [][2]int{{0, 0}, {-2, -1}}, PadConstant, 0)
	closeTo(t, "crop", crop.data, []float32{1, 2, 3}, 0)
}

func TestLayoutHelpers(t *testing.T) {
	x := RandNormal(3, 0, 1, 2, 3, 4, 5) // NCHW
	h := Zeros(2, 4, 5, 3)
	NCHWToNHWC(h, x)
	if h.At(1, 2, 3, 1) != x.At(1, 1, 2, 3) {
		t.Fatal("NCHWToNHWC misplaced")
	}
	back := Zeros(x.shape...)
	NHWCToNCHW(back, h)
	closeTo(t, "round trip", back.data, x.data, 0)
	img := Zeros(1, 2, 3)
	ImageToFloat(img, []uint8{0, 255, 51, 0, 255, 51}, []float32{0.5, 0.5, 0}, []float32{0.5, 0.5, 0.2})
	closeTo(t, "ImageToFloat", img.data, []float32{-1, 1, 1, -1, 1, 1}, 0)
}

// withSpecials returns n values, a third of them drawn from specials,
// the rest normal with deviation 5.
func withSpecials(r *rand.Rand, n int, specials []float32) *Tensor {
	x := Zeros(n)
	for i := range x.data {
		if r.IntN(3) == 0 {
			x.data[i] = specials[r.IntN(len(specials))]
		} else {
			x.data[i] = float32(r.NormFloat64() * 5)
		}
	}
	return x
}

// TestReLU6Exact checks the CPU's ReLU6 (vector kernels) against the reference
// bit for bit, on ragged lengths with ±0, ±Inf, NaNs with payloads and the
// values either side of 0 and 6.
func TestReLU6Exact(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 6, -6, 5.9999995, 6.0000005, -1e-45, 1e-45,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc01234), math.Float32frombits(0xffc05678)}
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{2*relu6Grain + 5, 5*relu6Grain + 17} // cut into parts on several threads
	for n := range 70 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		x := withSpecials(r, n, specials)
		got, want := Full(7, n), Full(7, n)
		CPU{}.Activate(got, x, ActReLU6, 0)
		Reference{}.Activate(want, x, ActReLU6, 0)
		for i := range want.data {
			if math.Float32bits(got.data[i]) != math.Float32bits(want.data[i]) {
				t.Fatalf("n=%d: relu6(%v) = %#x, reference %#x", n, x.data[i], math.Float32bits(got.data[i]), math.Float32bits(want.data[i]))
			}
		}
	}
}

// TestReLU6GradExact checks ReLU6's gradient on the CPU bit for bit
// against the reference, specials included.
func TestReLU6GradExact(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 6, -6, 5.9999995, 6.0000005, -1e-45, 1e-45,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc01234), math.Float32frombits(0xffc05678)}
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{2*relu6Grain + 5, 5*relu6Grain + 17} // cut into parts on several threads
	for n := range 70 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		x := withSpecials(r, n, specials)
		dy := withSpecials(r, n, specials)
		got, want := Full(7, n), Full(7, n)
		CPU{}.ActivateGrad(got, x, x, dy, ActReLU6, 0)
		Reference{}.ActivateGrad(want, x, x, dy, ActReLU6, 0)
		for i := range want.data {
			if math.Float32bits(got.data[i]) != math.Float32bits(want.data[i]) {
				t.Fatalf("n=%d: relu6'(%v)·%v = %#x, reference %#x", n, x.data[i], dy.data[i], math.Float32bits(got.data[i]), math.Float32bits(want.data[i]))
			}
		}
	}
}
