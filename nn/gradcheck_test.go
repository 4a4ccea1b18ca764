package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// Finite-difference gradient checks. Every layer is checked through the
// scalar objective L = Σ r ⊙ layer(x) with a fixed random r, so that
// Backward(r) must return ∂L/∂x and write ∂L/∂θ into every parameter's
// Grad. L is evaluated in float64 from the float32 outputs and compared with
// central differences.

const (
	gcSentinel = 12345.5
)

// gradCase is one layer to check: build returns a fresh layer (fixed
// weights) and its input.
type gradCase struct {
	name  string
	build func() (nn.Layer, *tensor.Tensor)
	// kinks marks piecewise-linear parts (ReLU, max pooling) whose kinks a
	// finite difference may straddle (see tensorcheck.CheckGrad).
	kinks bool
	// hx overrides the input's finite-difference step.
	hx float64
}

// awayFromZero returns values of random sign with magnitudes uniform in
// [lo, hi]: no input near a ReLU's kink.
func awayFromZero(seed uint64, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.RandUniform(seed, lo, hi, shape...)
	r := rand.New(rand.NewPCG(seed, 1))
	for i, v := range t.Data() {
		if r.IntN(2) == 0 {
			t.Data()[i] = -v
		}
	}
	return t
}

// spaced returns a random permutation of distinct values step apart,
// centred on 0: maxima that no small perturbation changes.
func spaced(seed uint64, step float32, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	d := t.Data()
	for i := range d {
		d[i] = (float32(i) - float32(len(d))/2) * step
	}
	r := rand.New(rand.NewPCG(seed, 2))
	r.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	return t
}

// bnInput returns [rows…, c] values whose per-channel mean is exactly
// shift_c and whose deviations from it are at least 0.6·scale_c: the
// normalised values stay clear of a fused ReLU's kink. rows must be even.
func bnInput(seed uint64, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	c := shape[len(shape)-1]
	rows := t.Len() / c
	r := rand.New(rand.NewPCG(seed, 3))
	d := t.Data()
	col := make([]float32, rows)
	for j := 0; j < c; j++ {
		scale := 0.5 + 2*r.Float32()
		shift := 2*r.Float32() - 1
		for k := 0; k < rows/2; k++ {
			a := 0.6 + r.Float32()
			col[2*k], col[2*k+1] = a, -a
		}
		r.Shuffle(rows, func(a, b int) { col[a], col[b] = col[b], col[a] })
		for i := 0; i < rows; i++ {
			d[i*c+j] = shift + scale*col[i]
		}
	}
	return t
}

// randomiseBN gives a BatchNorm random affine parameters (γ in [0.5, 1.5],
// β in ±0.1: a fused ReLU's kink stays inside the gap bnInput leaves) and
// running statistics.
func randomiseBN(b *nn.BatchNorm, seed uint64) *nn.BatchNorm {
	copy(b.Weight.Value.Data(), tensor.RandUniform(seed, 0.5, 1.5, b.C).Data())
	copy(b.Bias.Value.Data(), tensor.RandUniform(seed+1, -0.1, 0.1, b.C).Data())
	copy(b.RunningMean.Value.Data(), tensor.RandUniform(seed+2, -0.5, 0.5, b.C).Data())
	copy(b.RunningVar.Value.Data(), tensor.RandUniform(seed+3, 0.5, 2, b.C).Data())
	return b
}

func bn(c int, relu, freeze bool, seed uint64) *nn.BatchNorm {
	b := randomiseBN(nn.NewBatchNorm(c), seed)
	b.ReLU, b.FreezeStats = relu, freeze
	return b
}

func conv(in, out, k int, o nn.ConvOpts, seed uint64) *nn.Conv2D {
	return nn.NewConv2D(in, out, k, o, seed)
}

func named(name string, l nn.Layer) nn.Named[nn.Layer] {
	return nn.Named[nn.Layer]{Name: name, Value: l}
}

func gradCases() []gradCase {
	leaf := func(name string, l func() nn.Layer, x func() *tensor.Tensor) gradCase {
		return gradCase{name: name, build: func() (nn.Layer, *tensor.Tensor) { return l(), x() }}
	}
	kinky := func(c gradCase, hx float64) gradCase { c.kinks, c.hx = true, hx; return c }
	asym := tensor.ConvParams{StrideH: 2, StrideW: 1, DilationH: 1, DilationW: 2,
		PadTop: 1, PadBottom: 0, PadLeft: 2, PadRight: 1, Groups: 1}
	cases := []gradCase{
		leaf("Dense/bias", func() nn.Layer { return nn.NewDense(5, 4, true, 1) }, func() *tensor.Tensor { return modelcheck.Randn(2, 3, 5) }),
		leaf("Dense/nobias", func() nn.Layer { return nn.NewDense(5, 4, false, 3) }, func() *tensor.Tensor { return modelcheck.Randn(4, 3, 5) }),
		leaf("Conv2D/plain", func() nn.Layer { return conv(3, 4, 3, nn.ConvOpts{}, 5) }, func() *tensor.Tensor { return modelcheck.Randn(6, 2, 5, 5, 3) }),
		leaf("Conv2D/stride2_pad1_bias", func() nn.Layer { return conv(3, 4, 3, nn.ConvOpts{Stride: 2, Padding: 1, Bias: true}, 7) },
			func() *tensor.Tensor { return modelcheck.Randn(8, 2, 6, 5, 3) }),
		leaf("Conv2D/asymmetric", func() nn.Layer { return nn.NewConv2DParams(3, 4, 3, 2, asym, false, true, 9) },
			func() *tensor.Tensor { return modelcheck.Randn(10, 2, 6, 6, 3) }),
		leaf("Conv2D/dilation2", func() nn.Layer { return conv(2, 3, 3, nn.ConvOpts{Dilation: 2, Padding: 1}, 11) },
			func() *tensor.Tensor { return modelcheck.Randn(12, 2, 7, 6, 2) }),
		leaf("Conv2D/groups2", func() nn.Layer { return conv(4, 6, 3, nn.ConvOpts{Groups: 2, Padding: 1, Bias: true}, 13) },
			func() *tensor.Tensor { return modelcheck.Randn(14, 2, 4, 5, 4) }),
		leaf("Conv2D/depthwise", func() nn.Layer { return conv(4, 4, 3, nn.ConvOpts{Groups: 4, Padding: 1, Stride: 2}, 15) },
			func() *tensor.Tensor { return modelcheck.Randn(16, 2, 5, 6, 4) }),
		leaf("Conv2D/depthwise_x2", func() nn.Layer { return conv(3, 6, 3, nn.ConvOpts{Groups: 3, Padding: 1, Bias: true}, 17) },
			func() *tensor.Tensor { return modelcheck.Randn(18, 2, 4, 4, 3) }),
		leaf("Conv2D/same_stride2", func() nn.Layer { return conv(3, 4, 3, nn.ConvOpts{Stride: 2, Same: true, Bias: true}, 19) },
			func() *tensor.Tensor { return modelcheck.Randn(20, 2, 6, 7, 3) }),
		leaf("Conv2D/same_k2", func() nn.Layer { return conv(2, 3, 2, nn.ConvOpts{Same: true}, 21) },
			func() *tensor.Tensor { return modelcheck.Randn(22, 2, 5, 4, 2) }),
		leaf("Conv2D/1x1", func() nn.Layer { return conv(5, 3, 1, nn.ConvOpts{Bias: true}, 23) },
			func() *tensor.Tensor { return modelcheck.Randn(24, 2, 3, 3, 5) }),
		leaf("BatchNorm2D", func() nn.Layer { return bn(4, false, false, 25) }, func() *tensor.Tensor { return bnInput(26, 2, 3, 3, 4) }),
		leaf("BatchNorm2D/relu", func() nn.Layer { return bn(4, true, false, 27) }, func() *tensor.Tensor { return bnInput(28, 2, 3, 3, 4) }),
		leaf("BatchNorm1D", func() nn.Layer { return bn(3, false, false, 29) }, func() *tensor.Tensor { return bnInput(30, 8, 3) }),
		leaf("BatchNorm1D/relu", func() nn.Layer { return bn(3, true, false, 31) }, func() *tensor.Tensor { return bnInput(32, 8, 3) }),
		leaf("BatchNorm2D/freeze", func() nn.Layer { return bn(4, false, true, 33) }, func() *tensor.Tensor { return modelcheck.Randn(34, 2, 3, 3, 4) }),
		leaf("BatchNorm2D/freeze_relu", func() nn.Layer { return bn(4, true, true, 35) },
			func() *tensor.Tensor {
				// running mean ∈ ±0.5, β ∈ ±0.1: inputs 1.5 away from 0 stay clear of the kink
				return awayFromZero(36, 1.5, 3, 2, 3, 3, 4)
			}),
		leaf("BatchNorm1D/freeze", func() nn.Layer { return bn(3, false, true, 37) }, func() *tensor.Tensor { return modelcheck.Randn(38, 5, 3) }),
		leaf("Act/ReLU", func() nn.Layer { return nn.ReLU() }, func() *tensor.Tensor { return awayFromZero(40, 0.2, 3, 3, 7) }),
		leaf("Act/ReLU6", func() nn.Layer { return nn.ReLU6() }, func() *tensor.Tensor {
			x := awayFromZero(41, 0.2, 3, 4, 8)
			// and some values on either side of 6
			x.Data()[0], x.Data()[1], x.Data()[2] = 5.5, 6.5, 8
			return x
		}),
		leaf("Act/LeakyReLU", func() nn.Layer { return nn.LeakyReLU(0.1) }, func() *tensor.Tensor { return awayFromZero(42, 0.2, 3, 3, 7) }),
		leaf("Act/GELU", func() nn.Layer { return nn.GELU() }, func() *tensor.Tensor { return modelcheck.Randn(43, 3, 7) }),
		leaf("Act/Sigmoid", func() nn.Layer { return nn.Sigmoid() }, func() *tensor.Tensor { return modelcheck.Randn(44, 3, 7) }),
		leaf("Act/Tanh", func() nn.Layer { return nn.Tanh() }, func() *tensor.Tensor { return modelcheck.Randn(45, 3, 7) }),
		leaf("Act/GELU4D", func() nn.Layer { return nn.GELU() }, func() *tensor.Tensor { return modelcheck.Randn(46, 2, 2, 3, 2) }),
		kinky(leaf("MaxPool2D/k2", func() nn.Layer { return nn.NewMaxPool2D(2, 0, 0) }, func() *tensor.Tensor { return spaced(47, 0.1, 2, 4, 6, 3) }), 0.01),
		kinky(leaf("MaxPool2D/k3s2p1", func() nn.Layer { return nn.NewMaxPool2D(3, 2, 1) }, func() *tensor.Tensor { return spaced(48, 0.1, 2, 5, 6, 3) }), 0.01),
		leaf("AvgPool2D/k2", func() nn.Layer { return nn.NewAvgPool2D(2, 0, 0) }, func() *tensor.Tensor { return modelcheck.Randn(49, 2, 4, 6, 3) }),
		leaf("AvgPool2D/k3s2p1", func() nn.Layer { return nn.NewAvgPool2D(3, 2, 1) }, func() *tensor.Tensor { return modelcheck.Randn(50, 2, 5, 6, 3) }),
		leaf("GlobalAvgPool", func() nn.Layer { return nn.NewGlobalAvgPool() }, func() *tensor.Tensor { return modelcheck.Randn(51, 2, 3, 4, 5) }),
		leaf("Flatten/transpose", func() nn.Layer { return nn.NewFlatten() }, func() *tensor.Tensor { return modelcheck.Randn(52, 2, 3, 2, 4) }),
		leaf("Flatten/1x1xC", func() nn.Layer { return nn.NewFlatten() }, func() *tensor.Tensor { return modelcheck.Randn(53, 2, 1, 1, 4) }),
		leaf("Flatten/HxWx1", func() nn.Layer { return nn.NewFlatten() }, func() *tensor.Tensor { return modelcheck.Randn(54, 2, 3, 2, 1) }),
		leaf("Flatten/rank2", func() nn.Layer { return nn.NewFlatten() }, func() *tensor.Tensor { return modelcheck.Randn(55, 3, 4) }),
		leaf("SeqMean", func() nn.Layer { return nn.NewSeqMean() }, func() *tensor.Tensor { return modelcheck.Randn(56, 2, 5, 3) }),
		leaf("Sequential", func() nn.Layer {
			return nn.NewSequential(
				conv(3, 4, 3, nn.ConvOpts{Padding: 1}, 57), // a bias before BatchNorm has no gradient
				bn(4, false, false, 58),
				nn.Tanh(),
				conv(4, 2, 3, nn.ConvOpts{Stride: 2, Bias: true}, 59),
				nn.NewFlatten(),
				nn.NewDense(2*2*2, 3, true, 60),
				nn.GELU(),
			)
		}, func() *tensor.Tensor { return modelcheck.Randn(61, 2, 5, 5, 3) }),
		leaf("Residual/identity", func() nn.Layer {
			return nn.NewResidual([]nn.Named[nn.Layer]{
				named("conv1", conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 62)),
				named("bn1", bn(4, false, false, 63)),
				named("act", nn.Tanh()),
				named("conv2", conv(4, 4, 3, nn.ConvOpts{Padding: 1, Bias: true}, 64)),
			}, nil, nil)
		}, func() *tensor.Tensor { return modelcheck.Randn(65, 2, 4, 4, 4) }),
		kinky(leaf("Residual/identity_post_relu", func() nn.Layer {
			return nn.NewResidual([]nn.Named[nn.Layer]{
				named("conv1", conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 66)),
				named("act", nn.Tanh()),
				named("conv2", conv(4, 4, 1, nn.ConvOpts{}, 67)),
			}, nil, nn.ReLU())
		}, func() *tensor.Tensor { return awayFromZero(68, 1.5, 3, 2, 4, 4, 4) }), 0.01),
		kinky(leaf("Residual/conv_shortcut_post_relu", func() nn.Layer {
			return nn.NewResidual([]nn.Named[nn.Layer]{
				named("conv1", conv(3, 4, 3, nn.ConvOpts{Stride: 2, Padding: 1}, 69)),
				named("bn1", bn(4, true, false, 70)),
				named("conv2", conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 71)),
				named("bn2", bn(4, false, false, 72)),
			}, nn.NewSequential(conv(3, 4, 1, nn.ConvOpts{Stride: 2}, 73), bn(4, false, false, 74)), nn.ReLU())
		}, func() *tensor.Tensor { return modelcheck.Randn(75, 2, 6, 6, 3) }), 0.005),
		leaf("Concat", func() nn.Layer {
			return nn.NewConcat(
				named("a", conv(3, 2, 1, nn.ConvOpts{}, 76)),
				named("b", conv(3, 3, 3, nn.ConvOpts{Padding: 1, Bias: true}, 77)),
				named("c", nn.NewSequential(nn.NewAvgPool2D(3, 1, 1), conv(3, 1, 1, nn.ConvOpts{Bias: true}, 78))),
			)
		}, func() *tensor.Tensor { return modelcheck.Randn(79, 2, 4, 3, 3) }),
		leaf("Concat/dense", func() nn.Layer {
			return nn.NewConcat(named("0", nn.NewDense(4, 2, true, 80)), named("1", nn.NewSequential(nn.NewDense(4, 3, false, 81), nn.Sigmoid())))
		}, func() *tensor.Tensor { return modelcheck.Randn(82, 3, 4) }),
	}
	return append(cases, graphGradCases()...)
}

// objective returns Σ r ⊙ l(x) in float64.
func objective(l nn.Layer, x, r *tensor.Tensor) float64 {
	y := l.Forward(x)
	var s float64
	for i, v := range y.Data() {
		s += float64(v) * float64(r.Data()[i])
	}
	return s
}

// snapshot is a layer's input gradient and parameter gradients after one
// Backward.
type snapshot struct {
	y, dx []float32
	grads [][]float32
}

func fillGrads(params []nn.Named[*nn.Param], v float32) {
	for _, p := range params {
		d := p.Value.Grad.Data()
		for i := range d {
			d[i] = v
		}
	}
}

// backwardOnce runs Forward(x) and Backward(r, need) and copies what they
// return and write. The gradients are filled with a sentinel first, so a
// gradient that is accumulated rather than written shows.
func backwardOnce(l nn.Layer, x, r *tensor.Tensor, need bool) (snapshot, *tensor.Tensor) {
	params := nn.Parameters(l)
	fillGrads(params, gcSentinel)
	y := l.Forward(x)
	s := snapshot{y: slices.Clone(y.Data())}
	dx := l.Backward(r, need)
	if dx != nil {
		s.dx = slices.Clone(dx.Data())
	}
	for _, p := range params {
		s.grads = append(s.grads, slices.Clone(p.Value.Grad.Data()))
	}
	return s, dx
}

func TestGradCheckLayers(t *testing.T) {
	tensortest.ForEachBackend(t, func(t *testing.T, cpu tensor.Backend) {
		t.Parallel()
		for i, c := range gradCases() {
			t.Run(c.name, func(t *testing.T) {
				l, x := c.build()
				nn.MoveTo(l, cpu) // the layer runs on its input's backend: this tier
				x.MoveTo(cpu)
				nn.SetTraining(l, true)
				y := l.Forward(x)
				r := modelcheck.Randn(uint64(1000+i), y.Shape()...)
				an, dx := backwardOnce(l, x, r, true)
				if dx == nil {
					t.Fatal("Backward(dy, true) returned nil")
				}
				if !slices.Equal(dx.Shape(), x.Shape()) {
					t.Fatalf("input gradient %v, input %v", dx.Shape(), x.Shape())
				}
				f := func() float64 { return objective(l, x, r) }
				hx := c.hx
				if hx == 0 {
					hx = tensorcheck.GradStep(x.Data())
				}
				tensorcheck.CheckGrad(t, "input", an.dx, x.Data, hx, f, c.kinks)
				for j, p := range nn.Parameters(l) {
					v := p.Value.Value
					tensorcheck.CheckGrad(t, p.Name, an.grads[j], v.Data, tensorcheck.GradStep(v.Data()), f, c.kinks)
				}
			})
		}
	})
}

// TestBackwardNoInputGrad checks that Backward(dy, false) returns nil and
// still writes every parameter's gradient, the same as Backward(dy, true).
func TestBackwardNoInputGrad(t *testing.T) {
	for i, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			l, x := c.build()
			nn.SetTraining(l, true)
			y := l.Forward(x)
			r := modelcheck.Randn(uint64(1000+i), y.Shape()...)
			full, _ := backwardOnce(l, x, r, true)
			part, dx := backwardOnce(l, x, r, false)
			if dx != nil {
				t.Errorf("Backward(dy, false) returned %v, want nil", dx.Shape())
			}
			for j, p := range nn.Parameters(l) {
				closeSlices(t, p.Name+" gradient without input gradient", part.grads[j], full.grads[j], 1e-5)
			}
		})
	}
}

// TestFrozenParamGradUntouched freezes each parameter in turn: its Grad
// must keep the sentinel, and the others must get the gradients they get
// with nothing frozen.
func TestFrozenParamGradUntouched(t *testing.T) {
	for i, c := range gradCases() {
		l, x := c.build()
		params := nn.Parameters(l)
		if len(params) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			nn.SetTraining(l, true)
			y := l.Forward(x)
			r := modelcheck.Randn(uint64(1000+i), y.Shape()...)
			full, _ := backwardOnce(l, x, r, true)
			for k, fp := range params {
				for _, need := range []bool{true, false} {
					fp.Value.Trainable = false
					got, _ := backwardOnce(l, x, r, need)
					fp.Value.Trainable = true
					what := fmt.Sprintf("%s frozen, need input %v", fp.Name, need)
					for _, v := range got.grads[k] {
						if v != gcSentinel {
							t.Errorf("%s: its Grad was written (%v)", what, v)
							break
						}
					}
					for j, p := range params {
						if j != k {
							closeSlices(t, what+": "+p.Name, got.grads[j], full.grads[j], 1e-5)
						}
					}
					if need {
						closeSlices(t, what+": input gradient", got.dx, full.dx, 1e-5)
					}
				}
			}
		})
	}
}

// closeSlices checks max|got − want| ≤ tol·max(max|want|, 1e-6).
func closeSlices(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	scale := math.Max(tensorcheck.MaxAbs(want), 1e-6)
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= tol*scale) {
			t.Errorf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
			return
		}
	}
}

// TestGradCheckDropout checks the input gradient of dropout in training:
// the mask is a function of the seed and the call count, so every
// evaluation of the objective uses a fresh layer with the same seed (its
// first mask), and Backward must multiply by the mask Forward drew.
func TestGradCheckDropout(t *testing.T) {
	const p = 0.3
	x := awayFromZero(90, 0.5, 2, 4, 50)
	r := modelcheck.Randn(91, 4, 50)
	fresh := func() *nn.Dropout {
		d := nn.NewDropout(p, 92)
		d.SetTraining(true)
		return d
	}
	d := fresh()
	y := slices.Clone(d.Forward(x).Data())
	dx := d.Backward(r, true)
	if dx == nil {
		t.Fatal("Backward(dy, true) returned nil")
	}
	zeros := 0
	scale := float32(1 / (1 - p))
	for i, v := range y {
		m := v / x.Data()[i]
		switch {
		case v == 0:
			zeros++
			if dx.Data()[i] != 0 {
				t.Fatalf("[%d] dropped, but input gradient %v", i, dx.Data()[i])
			}
		case math.Abs(float64(m-scale)) > 1e-6:
			t.Fatalf("[%d] kept with scale %v, want %v", i, m, scale)
		default:
			if want := r.Data()[i] * m; math.Abs(float64(dx.Data()[i]-want)) > 1e-6*math.Abs(float64(want)) {
				t.Fatalf("[%d] input gradient %v, want %v", i, dx.Data()[i], want)
			}
		}
	}
	if frac := float64(zeros) / float64(len(y)); frac < 0.15 || frac > 0.45 {
		t.Errorf("dropped %.2f of the elements, want about %v", frac, p)
	}
	tensorcheck.CheckGrad(t, "dropout input", dx.Data(), x.Data, 1e-2, func() float64 { return objective(fresh(), x, r) }, false)
	if d.Backward(r, false) != nil {
		t.Error("Backward(dy, false) returned a gradient")
	}

	// A second Forward draws a new mask; inference is the identity.
	y2 := d.Forward(x).Data()
	if slices.Equal(y, y2) {
		t.Error("the second training Forward drew the same mask")
	}
	d.SetTraining(false)
	if got := d.Forward(x); !slices.Equal(got.Data(), x.Data()) {
		t.Error("Forward in inference mode is not the identity")
	}
	if got := d.Backward(r, true); !slices.Equal(got.Data(), r.Data()) {
		t.Error("Backward in inference mode is not the identity")
	}
}

func TestGradCheckEmbedding(t *testing.T) {
	const num, dim, pad = 6, 3, 2
	e := nn.NewEmbedding(num, dim, pad, 93)
	for _, v := range e.Weight.Value.Data()[pad*dim : (pad+1)*dim] {
		if v != 0 {
			t.Fatalf("padding row starts at %v, want 0", v)
		}
	}
	// Make the padding row non-zero so that it has a numeric gradient the
	// layer must ignore.
	copy(e.Weight.Value.Data()[pad*dim:], []float32{0.5, -0.5, 1})
	ids := tensor.FromSlice([]float32{0, 2, 4, 4, 1, 2, 5, 0}, 2, 4) // repeats, and the padding id twice
	r := modelcheck.Randn(94, 2, 4, dim)
	e.SetTraining(true)
	fillGrads(e.Params(), gcSentinel)
	y := e.Forward(ids)
	if !slices.Equal(y.Shape(), []int{2, 4, dim}) {
		t.Fatalf("output %v, want [2 4 %d]", y.Shape(), dim)
	}
	if dx := e.Backward(r, true); dx != nil {
		t.Errorf("Backward returned an input gradient %v; ids have none", dx.Shape())
	}
	got := slices.Clone(e.Weight.Grad.Data())
	want := tensorcheck.NumericGrad(e.Weight.Value.Data, 1e-2, func() float64 { return objective(e, ids, r) })
	for i := pad * dim; i < (pad+1)*dim; i++ {
		if got[i] != 0 {
			t.Errorf("padding row gradient [%d] = %v, want 0", i-pad*dim, got[i])
		}
		want.Central[i], want.Fwd[i], want.Bwd[i] = 0, 0, 0
	}
	// Row 3 is never looked up: zero gradient, numerically too.
	tensorcheck.CheckNumeric(t, "embedding weight", got, want, nil)

	e.Weight.Trainable = false
	fillGrads(e.Params(), gcSentinel)
	e.Forward(ids)
	e.Backward(r, false)
	for _, v := range e.Weight.Grad.Data() {
		if v != gcSentinel {
			t.Fatal("a frozen embedding's Grad was written")
		}
	}
}

// TestGradCheckLosses checks each loss's gradient with respect to the
// output against central differences of the loss it returns.
func TestGradCheckLosses(t *testing.T) {
	labels := []int{2, 0, 4, 1}
	target := tensor.RandUniform(95, 0, 1, 4, 5)
	target.Data()[0], target.Data()[1] = 0, 1
	cases := []struct {
		name string
		loss nn.Loss
		out  *tensor.Tensor
		ref  func(out []float32) float64
	}{
		{"CrossEntropy", nn.CrossEntropy{}, modelcheck.Randn(96, 4, 5), func(o []float32) float64 { return refCE(o, labels, 5, 0) }},
		{"CrossEntropy/smoothing0.1", nn.CrossEntropy{Smoothing: 0.1}, modelcheck.Randn(97, 4, 5), func(o []float32) float64 { return refCE(o, labels, 5, 0.1) }},
		{"CrossEntropy/large_logits", nn.CrossEntropy{Smoothing: 0.1}, tensor.RandNormal(98, 0, 30, 4, 5), func(o []float32) float64 { return refCE(o, labels, 5, 0.1) }},
		{"MSE", nn.MSE{}, modelcheck.Randn(99, 4, 5), func(o []float32) float64 {
			s := 0.0
			for i, v := range o {
				d := float64(v) - float64(target.Data()[i])
				s += d * d
			}
			return s / float64(len(o))
		}},
		{"BCEWithLogits", nn.BCEWithLogits{}, tensor.RandNormal(100, 0, 3, 4, 5), func(o []float32) float64 {
			s := 0.0
			for i, v := range o {
				x, tt := float64(v), float64(target.Data()[i])
				p := 1 / (1 + math.Exp(-x))
				s -= tt*math.Log(p) + (1-tt)*math.Log(1-p)
			}
			return s / float64(len(o))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			grad := tensor.Full(gcSentinel, c.out.Shape()...)
			got := c.loss.Loss(grad, c.out, labels, target)
			want := c.ref(c.out.Data())
			if math.Abs(float64(got)-want) > 1e-5*math.Max(math.Abs(want), 1) {
				t.Errorf("loss %v, want %v", got, want)
			}
			if nog := c.loss.Loss(nil, c.out, labels, target); nog != got {
				t.Errorf("loss without gradient %v, with %v", nog, got)
			}
			// The reference in float64 gives the numeric gradient without
			// the float32 rounding of the returned loss.
			tensorcheck.CheckGrad(t, "output gradient", grad.Data(), c.out.Data, 1e-3, func() float64 { return c.ref(c.out.Data()) }, false)
			// and the loss the layer returns agrees with its own gradient
			h := 2e-2
			tensorcheck.CheckGrad(t, "output gradient (float32 loss)", grad.Data(), c.out.Data, h, func() float64 {
				return float64(c.loss.Loss(nil, c.out, labels, target))
			}, false)
		})
	}
}

// refCE is softmax cross-entropy with label smoothing in float64.
func refCE(o []float32, labels []int, k int, eps float64) float64 {
	total := 0.0
	for i, lab := range labels {
		row := o[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		for j, v := range row {
			tgt := eps / float64(k)
			if j == lab {
				tgt += 1 - eps
			}
			total -= tgt * (float64(v) - lse)
		}
	}
	return total / float64(len(labels))
}

// spyLayer counts the Backward calls of the layer it wraps and records
// whether they asked for the input gradient.
type spyLayer struct {
	nn.Layer
	backwards int
	needs     []bool
}

func (s *spyLayer) Backward(dy *tensor.Tensor, need bool) *tensor.Tensor {
	s.backwards++
	s.needs = append(s.needs, need)
	return s.Layer.Backward(dy, need)
}

// TestPartialBackprop freezes the first convolution of a small CNN:
// Backward(dy, false) must call no Backward below the lowest trainable
// layer, leave the frozen Grad alone, and give the trainable parameters the
// gradients of a full backward pass.
func TestPartialBackprop(t *testing.T) {
	conv1 := &spyLayer{Layer: conv(2, 3, 3, nn.ConvOpts{Padding: 1, Bias: true}, 110)}
	relu1 := &spyLayer{Layer: nn.ReLU()}
	m := nn.NewSequential(
		conv1, relu1,
		conv(3, 4, 3, nn.ConvOpts{Stride: 2, Padding: 1, Bias: true}, 111),
		nn.ReLU(),
		nn.NewFlatten(),
		nn.NewDense(4*3*3, 5, true, 112),
	)
	nn.SetTraining(m, true)
	x := modelcheck.Randn(113, 2, 6, 6, 2)
	y := m.Forward(x)
	r := modelcheck.Randn(114, y.Shape()...)
	full, _ := backwardOnce(m, x, r, true)
	if conv1.backwards != 1 || relu1.backwards != 1 {
		t.Fatalf("full backward called conv1 %d and relu1 %d times, want 1", conv1.backwards, relu1.backwards)
	}
	conv1.backwards, relu1.backwards = 0, 0

	nn.SetTrainable(conv1, false)
	got, dx := backwardOnce(m, x, r, false)
	if dx != nil {
		t.Error("Backward(dy, false) returned an input gradient")
	}
	if conv1.backwards != 0 || relu1.backwards != 0 {
		t.Errorf("partial backward called conv1 %d and relu1 %d times, want 0", conv1.backwards, relu1.backwards)
	}
	for j, p := range nn.Parameters(m) {
		if p.Value.Trainable {
			closeSlices(t, p.Name, got.grads[j], full.grads[j], 1e-5)
			continue
		}
		for _, v := range got.grads[j] {
			if v != gcSentinel {
				t.Errorf("frozen %s: Grad written (%v)", p.Name, v)
				break
			}
		}
	}
	if n := len(nn.Parameters(m)); n != 6 {
		t.Fatalf("%d parameters, want 6", n)
	}

	// Asking for the input gradient runs the frozen layers too, still
	// without writing their Grad.
	got, dx = backwardOnce(m, x, r, true)
	if dx == nil || conv1.backwards != 1 {
		t.Fatalf("Backward(dy, true) with a frozen bottom: gradient %v, conv1 called %d times", dx != nil, conv1.backwards)
	}
	closeSlices(t, "input gradient", got.dx, full.dx, 1e-5)
	for _, v := range got.grads[0] {
		if v != gcSentinel {
			t.Fatalf("frozen conv1.weight: Grad written (%v)", v)
		}
	}
}

// TestPartialBackpropResidual: a residual block asked for no input
// gradient asks none of its main path's first layer nor of its shortcut,
// and a fully frozen block below the trainable layers is not run at all.
func TestPartialBackpropResidual(t *testing.T) {
	first := &spyLayer{Layer: conv(3, 4, 3, nn.ConvOpts{Stride: 2, Padding: 1}, 130)}
	short := &spyLayer{Layer: conv(3, 4, 1, nn.ConvOpts{Stride: 2}, 131)}
	block := nn.NewResidual([]nn.Named[nn.Layer]{
		named("conv1", first),
		named("act", nn.Tanh()),
		named("conv2", conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 132)),
	}, short, nn.ReLU())
	if names := modelcheck.ParamNames(block); !slices.Equal(names, []string{"conv1.weight", "conv2.weight", "downsample.weight"}) {
		t.Errorf("parameters %v", names)
	}
	nn.SetTraining(block, true)
	x := modelcheck.Randn(133, 2, 6, 6, 3)
	r := modelcheck.Randn(134, block.Forward(x).Shape()...)
	if block.Backward(r, false) != nil {
		t.Error("Backward(dy, false) returned an input gradient")
	}
	if !slices.Equal(first.needs, []bool{false}) || !slices.Equal(short.needs, []bool{false}) {
		t.Errorf("Backward(dy, false) asked conv1 %v and the shortcut %v for input gradients, want [false] each", first.needs, short.needs)
	}

	// Frozen, below a trainable head: not run.
	first.needs, short.needs = nil, nil
	nn.SetTrainable(block, false)
	m := nn.NewSequential(block, nn.NewGlobalAvgPool(), nn.NewDense(4, 2, true, 135))
	nn.SetTraining(m, true)
	r = modelcheck.Randn(136, m.Forward(x).Shape()...)
	m.Backward(r, false)
	if len(first.needs) != 0 || len(short.needs) != 0 {
		t.Errorf("a frozen block below the head ran Backward: conv1 %v, shortcut %v", first.needs, short.needs)
	}
}

// TestInferMatchesForward checks, for every layer of the gradient checks,
// that Infer computes what Forward computes in inference mode, into a
// fresh tensor, changing no state; and that an Infer between a training
// Forward and its Backward changes nothing that Backward reads.
func TestInferMatchesForward(t *testing.T) {
	for i, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			l, x := c.build()
			x2 := modelcheck.Randn(uint64(2000+i), x.Shape()...)
			if c.kinks {
				x2 = x.Clone() // keep clear of kinks
			}
			nn.SetTraining(l, true)
			y := l.Forward(x)
			r := modelcheck.Randn(uint64(1000+i), y.Shape()...)
			want, _ := backwardOnce(l, x, r, true)
			l.Forward(x)
			before := modelcheck.State(l)
			l.Infer(x2)
			tensorcheck.SameState(t, "state after Infer", modelcheck.State(l), before)
			got, _ := backwardOnce(l, x, r, true)
			closeSlices(t, "input gradient with an Infer before Forward", got.dx, want.dx, 0)
			l.Forward(x)
			l.Infer(x2)
			dx := l.Backward(r, true)
			closeSlices(t, "input gradient with an Infer between Forward and Backward", dx.Data(), want.dx, 0)
			for j, p := range nn.Parameters(l) {
				closeSlices(t, p.Name+" gradient with an Infer between Forward and Backward", p.Value.Grad.Data(), want.grads[j], 0)
			}

			nn.SetTraining(l, false)
			before = modelcheck.State(l)
			inf := l.Infer(x2)
			fwd := slices.Clone(l.Forward(x2).Data())
			tensorcheck.SameState(t, "state after an inference Forward", modelcheck.State(l), before)
			closeSlices(t, "Infer vs inference Forward", inf.Data(), fwd, foldTol(l))
			if !slices.Equal(inf.Shape(), l.Forward(x2).Shape()) {
				t.Errorf("Infer gives %v, Forward %v", inf.Shape(), l.Forward(x2).Shape())
			}
			if inf.Shares(l.Forward(x2)) {
				t.Error("Infer returned the layer's own buffer")
			}
		})
	}
}

// foldTol is the tolerance of Infer against an inference Forward: 0, or
// a few roundings where Infer folds a BatchNorm into a convolution (a
// tree that has both).
func foldTol(l nn.Layer) float64 {
	conv, bn := false, false
	nn.Walk(l, func(_ string, m nn.Layer) {
		switch m.(type) {
		case *nn.Conv2D:
			conv = true
		case *nn.BatchNorm:
			bn = true
		}
	})
	if conv && bn {
		return 1e-6
	}
	return 0
}

// TestInferConcurrent runs Infer from several goroutines at once: every
// result must equal the serial one.
func TestInferConcurrent(t *testing.T) {
	cases := gradCases()
	for _, name := range []string{"Sequential", "Residual/conv_shortcut_post_relu", "Concat"} {
		i := slices.IndexFunc(cases, func(c gradCase) bool { return c.name == name })
		l, x := cases[i].build()
		nn.SetTraining(l, false)
		want := l.Infer(x).Data()
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			go func() {
				msg := ""
				for k := 0; k < 20 && msg == ""; k++ {
					if got := l.Infer(x).Data(); !slices.Equal(got, want) {
						msg = fmt.Sprintf("%s: concurrent Infer differs", name)
					}
				}
				errs <- msg
			}()
		}
		for g := 0; g < 8; g++ {
			if msg := <-errs; msg != "" {
				t.Error(msg)
			}
		}
	}
}

// TestBatchNormRunningStats checks PyTorch's update of the running
// statistics (momentum 0.1, unbiased variance), the batch counter, and
// that FreezeStats keeps them, in training mode and across mode switches.
func TestBatchNormRunningStats(t *testing.T) {
	b := randomiseBN(nn.NewBatchNorm(3), 120)
	x := modelcheck.Randn(121, 5, 3)
	rm := to64(b.RunningMean.Value.Data())
	rv := to64(b.RunningVar.Value.Data())
	b.SetTraining(true)
	b.Forward(x)
	for j := 0; j < 3; j++ {
		var s, s2 float64
		for i := 0; i < 5; i++ {
			s += float64(x.At(i, j))
		}
		mean := s / 5
		for i := 0; i < 5; i++ {
			d := float64(x.At(i, j)) - mean
			s2 += d * d
		}
		wantM, wantV := 0.9*rm[j]+0.1*mean, 0.9*rv[j]+0.1*s2/4
		if math.Abs(float64(b.RunningMean.Value.Data()[j])-wantM) > 1e-6 || math.Abs(float64(b.RunningVar.Value.Data()[j])-wantV) > 1e-5 {
			t.Errorf("channel %d: running mean %v, var %v, want %v, %v", j, b.RunningMean.Value.Data()[j], b.RunningVar.Value.Data()[j], wantM, wantV)
		}
	}
	if n := b.NumBatchesTracked.Value.Data()[0]; n != 1 {
		t.Errorf("num_batches_tracked %v, want 1", n)
	}
	b.FreezeStats = true
	nn.SetTraining(b, false)
	nn.SetTraining(b, true)
	before := modelcheck.State(b)
	y := slices.Clone(b.Forward(x).Data())
	tensorcheck.SameState(t, "frozen statistics after a training Forward", modelcheck.State(b), before)
	if !b.FreezeStats {
		t.Error("a mode switch undid FreezeStats")
	}
	b.SetTraining(false)
	closeSlices(t, "frozen training Forward vs inference", y, b.Forward(x).Data(), 0)
}

// TestPoolFlattenForward pins what the gradient checks cannot: average
// pooling counts padded positions (PyTorch's count_include_pad) and
// Flatten emits PyTorch's (C, H, W) order.
func TestPoolFlattenForward(t *testing.T) {
	ones := tensor.Full(1, 1, 2, 2, 1)
	y := nn.NewAvgPool2D(3, 1, 1).Forward(ones)
	for i, v := range y.Data() {
		if math.Abs(float64(v)-4.0/9) > 1e-6 {
			t.Errorf("AvgPool2D(3, 1, 1) of ones [%d] = %v, want 4/9", i, v)
		}
	}
	m := nn.NewMaxPool2D(3, 1, 1).Forward(tensor.Full(-5, 1, 2, 2, 1))
	if m.Data()[0] != -5 {
		t.Errorf("MaxPool2D pads with %v, want −∞ (a max of −5)", m.Data()[0])
	}

	// x[n, h, w, c] = 1000n + 100c + 10h + w
	x := tensor.Zeros(2, 2, 3, 4)
	for n := 0; n < 2; n++ {
		for h := 0; h < 2; h++ {
			for w := 0; w < 3; w++ {
				for c := 0; c < 4; c++ {
					x.Set(float32(1000*n+100*c+10*h+w), n, h, w, c)
				}
			}
		}
	}
	f := nn.NewFlatten().Forward(x)
	if !slices.Equal(f.Shape(), []int{2, 24}) {
		t.Fatalf("Flatten gives %v, want [2 24]", f.Shape())
	}
	for n := 0; n < 2; n++ {
		k := 0
		for c := 0; c < 4; c++ {
			for h := 0; h < 2; h++ {
				for w := 0; w < 3; w++ {
					if got, want := f.At(n, k), float32(1000*n+100*c+10*h+w); got != want {
						t.Fatalf("Flatten [%d, %d] = %v, want %v (C, H, W order)", n, k, got, want)
					}
					k++
				}
			}
		}
	}
}
