// Package tensortest is the conformance suite of tensor.Backend, in the
// manner of gonum's blas/testblas: each function takes a *testing.T and the
// backend under test, runs a family of the backend's operations on shapes
// with ragged edges, and compares every output with tensor.Reference, the
// plain loops that define the operations. Run runs them all.
//
// Every case draws its inputs from a fixed seed, so the backend under test
// and the reference see the same values. Outputs start as NaN, on the
// backend's device, so an element a backend leaves unwritten shows; and
// every input that a case does not update in place must come back with
// the same bits (a backend may not scribble on its sources).
package tensortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// Run runs every family of the suite on b, each as a subtest.
func Run(t *testing.T, b tensor.Backend) {
	for _, f := range []struct {
		name string
		run  func(*testing.T, tensor.Backend)
	}{
		{"MatMul", MatMul}, {"Elementwise", Elementwise}, {"Activations", Activations},
		{"Reductions", Reductions}, {"Conv2D", Conv2D}, {"Pooling", Pooling},
		{"BatchNorm", BatchNorm}, {"Softmax", Softmax}, {"Dropout", Dropout},
		{"Layout", Layout}, {"Optimizers", Optimizers}, {"Empty", Empty},
	} {
		t.Run(f.name, func(t *testing.T) { f.run(t, b) })
	}
}

// A testCase is one call (or a few) of a backend's methods: run builds its
// inputs with g and returns the tensors it wrote (a scalar result as a
// one-element tensor).
type testCase struct {
	name string
	tol  float64 // |got − want| ≤ tol·max|want| elementwise; 0: the same bits
	run  func(g *gen) []*tensor.Tensor
}

// gen makes a case's tensors for one backend: inputs from r, remembering
// their values, and NaN-filled outputs on the backend's device.
type gen struct {
	b   tensor.Backend
	r   *rand.Rand
	ins []*tensor.Tensor
	was [][]float32 // the values of ins when made
}

// normal returns an input of normal values with mean 0 and deviation std.
func (g *gen) normal(std float32, shape ...int) *tensor.Tensor {
	return g.input(tensor.RandNormal(g.r.Uint64(), 0, std, shape...))
}

// randn returns an input of standard normal values.
func (g *gen) randn(shape ...int) *tensor.Tensor { return g.normal(1, shape...) }

// pos returns an input of values in [0.5, 1.5).
func (g *gen) pos(shape ...int) *tensor.Tensor {
	return g.input(tensor.RandUniform(g.r.Uint64(), 0.5, 1.5, shape...))
}

// input records x, with its values now, as an input of the case (again
// after the case changed its values).
func (g *gen) input(x *tensor.Tensor) *tensor.Tensor {
	if i := slices.Index(g.ins, x); i >= 0 {
		g.was[i] = slices.Clone(x.Data())
		return x
	}
	g.ins = append(g.ins, x)
	g.was = append(g.was, slices.Clone(x.Data()))
	return x
}

// nan returns an output filled with NaN, on the backend's device: on a GPU
// the NaNs are in the device memory the output gets.
func (g *gen) nan(shape ...int) *tensor.Tensor {
	t := tensor.Full(float32(math.NaN()), shape...)
	g.b.Scale(t, 1, t)
	return t
}

// check runs every case on b and on tensor.Reference and reports where
// they differ (see failures).
func check(t *testing.T, b tensor.Backend, cs cases) {
	t.Helper()
	for _, f := range failures(b, cs) {
		t.Error(f)
	}
}

// failures runs every case on b and on tensor.Reference and returns a line
// for each output that differs, and each input b changed that the case
// does not update in place.
func failures(b tensor.Backend, cs cases) []string {
	var out []string
	for _, c := range cs {
		want := c.run(&gen{b: tensor.Reference{}, r: rand.New(rand.NewPCG(1, 2))})
		g := &gen{b: b, r: rand.New(rand.NewPCG(1, 2))}
		got := c.run(g)
		for i := range want {
			if msg := Compare(got[i], want[i], c.tol); msg != "" {
				out = append(out, fmt.Sprintf("%s on %s: output %d: %s", c.name, b.Name(), i, msg))
			}
		}
		for i, x := range g.ins {
			if slices.Contains(got, x) {
				continue // updated in place
			}
			if msg := Compare(x, tensor.FromSlice(g.was[i], x.Shape()...), 0); msg != "" {
				out = append(out, fmt.Sprintf("%s on %s: input %d (%v) changed: %s", c.name, b.Name(), i, x.Shape(), msg))
			}
		}
	}
	return out
}

// Compare returns "" when got is within tol of want elementwise, relative
// to want's largest magnitude (tol 0: the same values, NaN meeting NaN),
// and otherwise says where they first differ.
func Compare(got, want *tensor.Tensor, tol float64) string {
	if !got.SameShape(want) {
		return fmt.Sprintf("shape %v, want %v", got.Shape(), want.Shape())
	}
	gd, wd := got.Data(), want.Data()
	var scale float64
	for _, v := range wd {
		if !math.IsNaN(float64(v)) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	for i := range wd {
		gi, wi := float64(gd[i]), float64(wd[i])
		if math.IsNaN(gi) != math.IsNaN(wi) || (tol == 0 && !math.IsNaN(wi) && gd[i] != wd[i]) ||
			(!math.IsNaN(wi) && math.Abs(gi-wi) > tol*scale) {
			return fmt.Sprintf("element %d of %d: %v, want %v (tolerance %g of %g)", i, len(wd), gd[i], wd[i], tol, scale)
		}
	}
	return ""
}

// allCases lists every family's cases.
func allCases() cases {
	var cs cases
	for _, f := range []func() cases{
		matMulCases, elementwiseCases, activationsCases, reductionsCases, conv2DCases, poolingCases,
		batchNormCases, softmaxCases, dropoutCases, layoutCases, optimizersCases, emptyCases,
	} {
		cs = append(cs, f()...)
	}
	return cs
}

// cases collects test cases.
type cases []testCase

func (cs *cases) add(tol float64, run func(g *gen) []*tensor.Tensor, format string, args ...any) {
	*cs = append(*cs, testCase{fmt.Sprintf(format, args...), tol, run})
}

// MatMul checks MatMul with every transposition, beta 0 (c unread) and not,
// on shapes from 1×1×1 to ones that span several cache blocks and
// microkernel tiles with ragged edges, and with an empty inner dimension.
func MatMul(t *testing.T, b tensor.Backend) { check(t, b, matMulCases()) }

func matMulCases() cases {
	var cs cases
	for _, s := range [][3]int{{1, 1, 1}, {7, 17, 33}, {33, 7, 17}, {64, 65, 66}, {3, 5, 0}, {1, 300, 7}, {300, 1, 9}, {13, 129, 300}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, beta := range []float32{0, 0.5} {
				m, n, k := s[0], s[1], s[2]
				cs.add(1e-5, func(g *gen) []*tensor.Tensor {
					a, bb := g.randn(m, k), g.randn(k, n)
					if tr[0] {
						a = g.randn(k, m)
					}
					if tr[1] {
						bb = g.randn(n, k)
					}
					c := g.nan(m, n)
					if beta != 0 {
						c = g.randn(m, n)
					}
					g.b.MatMul(c, a, bb, tr[0], tr[1], 1.5, beta)
					return []*tensor.Tensor{c}
				}, "MatMul/%dx%dx%d/t%v%v/beta=%v", m, n, k, tr[0], tr[1], beta)
			}
		}
	}
	return cs
}

// Elementwise checks Add, Mul, Scale (into a new tensor and in place),
// Axpy, ReLU and ReLUGrad, and BroadcastRows, on lengths that leave every
// vector width's tail.
func Elementwise(t *testing.T, b tensor.Backend) { check(t, b, elementwiseCases()) }

func elementwiseCases() cases {
	var cs cases
	for _, n := range []int{1, 17, 1000} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			x, y := g.randn(n), g.randn(n)
			z1, z2, z3, z4 := g.nan(n), g.nan(n), g.nan(n), g.randn(n)
			g.b.Add(z1, x, y)
			g.b.Mul(z2, x, y)
			g.b.Scale(z3, -0.75, x)
			g.b.Scale(z4, 2, z4) // in place
			g.b.Add(x, x, y)     // in place
			return []*tensor.Tensor{z1, z2, z3, x, z4}
		}, "AddMulScale/%d", n)
		cs.add(1e-6, func(g *gen) []*tensor.Tensor {
			x, y := g.randn(n), g.randn(n)
			g.b.Axpy(y, 0.3, x)
			return []*tensor.Tensor{y}
		}, "Axpy/%d", n)
		cs.add(0, func(g *gen) []*tensor.Tensor {
			x, dy := g.randn(n), g.randn(n)
			x.Data()[0] = 0 // ReLUGrad's boundary: 0
			x.Data()[n-1] = float32(math.NaN())
			g.input(x)
			y, dx := g.nan(n), g.nan(n)
			g.b.ReLU(y, x)
			g.b.ReLUGrad(dx, x, dy)
			return []*tensor.Tensor{y, dx}
		}, "ReLU/%d", n)
	}
	for _, cols := range []int{1, 17} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			bias := g.randn(cols)
			y := g.nan(33, cols)
			g.b.BroadcastRows(y, bias)
			return []*tensor.Tensor{y}
		}, "BroadcastRows/%d", cols)
	}
	return cs
}

// Activations checks Activate and ActivateGrad for every activation.
func Activations(t *testing.T, b tensor.Backend) { check(t, b, activationsCases()) }

func activationsCases() cases {
	var cs cases
	for _, n := range []int{1, 17, 1000} {
		for a := tensor.ActReLU; a <= tensor.ActGELU; a++ {
			cs.add(2e-6, func(g *gen) []*tensor.Tensor {
				x, dy := g.normal(4, n), g.randn(n) // 4: reach ReLU6's top
				y, dx := g.nan(n), g.nan(n)
				g.b.Activate(y, x, a, 0.1)
				g.b.ActivateGrad(dx, x, y, dy, a, 0.1)
				return []*tensor.Tensor{y, dx}
			}, "Activation/%v/%d", a, n)
		}
	}
	return cs
}

// Reductions checks Sum and Max along every axis (and a negative one),
// dropping the axis and keeping it as 1.
func Reductions(t *testing.T, b tensor.Backend) { check(t, b, reductionsCases()) }

func reductionsCases() cases {
	var cs cases
	for _, axis := range []int{0, 1, 2, -1} {
		for _, keep := range []bool{false, true} {
			cs.add(1e-6, func(g *gen) []*tensor.Tensor {
				shape := []int{3, 17, 5}
				src := g.randn(shape...)
				ax := (axis + 3) % 3
				if keep {
					shape[ax] = 1
				} else {
					shape = slices.Delete(shape, ax, ax+1)
				}
				s, m := g.nan(shape...), g.nan(shape...)
				g.b.Sum(s, src, axis)
				g.b.Max(m, src, axis)
				return []*tensor.Tensor{s, m}
			}, "Reduce/axis=%d/keep=%v", axis, keep)
		}
	}
	return cs
}

// Conv2D checks the convolution's forward pass, input gradient and weight
// and bias gradients, on geometries that reach each of a CPU's algorithms
// (direct planes, row taps, Winograd, im2col + GEMM, pointwise, grouped
// and depthwise) with strides, dilations, asymmetric padding and odd
// channel counts.
func Conv2D(t *testing.T, b tensor.Backend) { check(t, b, conv2DCases()) }

func conv2DCases() cases {
	var cs cases
	pad := func(n int) tensor.ConvParams {
		return tensor.ConvParams{PadTop: n, PadLeft: n, PadBottom: n, PadRight: n}
	}
	s2 := func(p tensor.ConvParams) tensor.ConvParams { p.StrideH, p.StrideW = 2, 2; return p }
	grouped := func(p tensor.ConvParams, g int) tensor.ConvParams { p.Groups = g; return p }
	for _, c := range []struct {
		n, h, w, c, o, kh, kw int
		p                     tensor.ConvParams
		bias                  bool
	}{
		{2, 9, 7, 3, 8, 3, 3, pad(1), true},
		{1, 8, 8, 16, 17, 3, 3, s2(pad(1)), false},
		{2, 7, 9, 12, 12, 3, 3, grouped(pad(1), 12), true},   // depthwise
		{1, 8, 7, 6, 6, 3, 3, grouped(s2(pad(1)), 6), false}, // depthwise, stride 2
		{2, 6, 5, 33, 7, 1, 1, tensor.ConvParams{}, true},    // pointwise
		{1, 7, 6, 9, 5, 1, 1, s2(tensor.ConvParams{}), true}, // pointwise, stride 2
		{1, 10, 9, 17, 19, 3, 3, pad(1), true},               // Winograd-sized
		{1, 9, 11, 20, 32, 3, 3, s2(pad(1)), true},           // row taps
		{1, 9, 9, 8, 6, 3, 3, tensor.ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2, Groups: 2}, false},
		{2, 12, 11, 1, 6, 5, 5, tensor.ConvParams{PadTop: 2, PadLeft: 1}, true},
		{1, 11, 10, 10, 16, 7, 7, tensor.ConvParams{StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3}, false},
	} {
		cs.add(1e-5, func(g *gen) []*tensor.Tensor {
			x, w := g.randn(c.n, c.h, c.w, c.c), g.randn(c.o, c.c/max(c.p.Groups, 1), c.kh, c.kw)
			var bias, db *tensor.Tensor
			if c.bias {
				bias, db = g.randn(c.o), g.nan(c.o)
			}
			oh, ow := c.p.OutSize(c.h, c.w, c.kh, c.kw)
			y, dy := g.nan(c.n, oh, ow, c.o), g.randn(c.n, oh, ow, c.o)
			dx, dw := g.nan(c.n, c.h, c.w, c.c), g.nan(w.Shape()...)
			g.b.Conv2D(y, x, w, bias, c.p)
			g.b.Conv2DBackwardData(dx, dy, w, c.p)
			g.b.Conv2DBackwardWeights(dw, db, x, dy, c.p)
			out := []*tensor.Tensor{y, dx, dw}
			if db != nil {
				out = append(out, db)
			}
			return out
		}, "Conv2D/%dx%dx%dx%d/o=%d/k=%dx%d/%+v", c.n, c.h, c.w, c.c, c.o, c.kh, c.kw, c.p)
	}
	return cs
}

// Pooling checks max and average pooling forward and backward (padding,
// ceil mode, counting the padding or not) and global average pooling.
func Pooling(t *testing.T, b tensor.Backend) { check(t, b, poolingCases()) }

func poolingCases() cases {
	var cs cases
	for _, p := range []tensor.PoolParams{
		{KH: 3, KW: 3, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{KH: 2, KW: 2, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 2}},
		{KH: 3, KW: 2, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 1, PadTop: 1, PadBottom: 1}, CountIncludePad: true},
		{KH: 2, KW: 2, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 2}, CeilMode: true},
		{KH: 3, KW: 3, ConvParams: tensor.ConvParams{StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	} {
		for _, c := range []int{5, 17} {
			cs.add(1e-6, func(g *gen) []*tensor.Tensor {
				x := g.randn(2, 7, 9, c)
				oh, ow := p.OutSize(7, 9)
				y1, y2, dy := g.nan(2, oh, ow, c), g.nan(2, oh, ow, c), g.randn(2, oh, ow, c)
				dx1, dx2 := g.nan(2, 7, 9, c), g.nan(2, 7, 9, c)
				g.b.MaxPool2D(y1, x, p)
				g.b.MaxPool2DBackward(dx1, x, dy, p)
				g.b.AvgPool2D(y2, x, p)
				g.b.AvgPool2DBackward(dx2, dy, p)
				return []*tensor.Tensor{y1, dx1, y2, dx2}
			}, "Pool/%dx%d/c=%d/%+v/ceil=%v/countpad=%v", p.KH, p.KW, c, p.ConvParams, p.CeilMode, p.CountIncludePad)
		}
	}
	for _, c := range []int{1, 17} {
		cs.add(1e-6, func(g *gen) []*tensor.Tensor {
			x, dy := g.randn(3, 5, 7, c), g.randn(3, c)
			y, dx := g.nan(3, c), g.nan(3, 5, 7, c)
			g.b.GlobalAvgPool(y, x)
			g.b.GlobalAvgPoolBackward(dx, dy)
			return []*tensor.Tensor{y, dx}
		}, "GlobalAvgPool/c=%d", c)
	}
	return cs
}

// BatchNorm checks training (with the running statistics' update),
// inference and the backward pass with and without the input gradient,
// with and without the fused ReLU.
func BatchNorm(t *testing.T, b tensor.Backend) { check(t, b, batchNormCases()) }

func batchNormCases() cases {
	var cs cases
	for _, relu := range []bool{false, true} {
		for _, c := range []int{19, 3} {
			cs.add(1e-5, func(g *gen) []*tensor.Tensor {
				x, dy := g.randn(2, 5, 3, c), g.randn(2, 5, 3, c)
				gamma, beta, rm, rv := g.pos(c), g.randn(c), g.randn(c), g.pos(c)
				p := tensor.BatchNormParams{Momentum: 0.1, Eps: 1e-5, UnbiasedVar: true, ReLU: relu}
				y, sm, si := g.nan(x.Shape()...), g.nan(c), g.nan(c)
				g.b.BatchNormTrain(y, x, gamma, beta, rm, rv, sm, si, p)
				dx, dg, db := g.nan(x.Shape()...), g.nan(c), g.nan(c)
				g.b.BatchNormBackward(dx, dg, db, x, dy, gamma, sm, si)
				dg2, db2 := g.nan(c), g.nan(c)
				g.b.BatchNormBackward(nil, dg2, db2, x, dy, gamma, sm, si)
				yi := g.nan(x.Shape()...)
				g.b.BatchNormInference(yi, x, gamma, beta, rm, rv, p)
				return []*tensor.Tensor{y, rm, rv, sm, si, dx, dg, db, dg2, db2, yi}
			}, "BatchNorm/c=%d/relu=%v", c, relu)
		}
	}
	return cs
}

// Softmax checks Softmax, LogSoftmax and their gradients along either
// axis, and the softmax cross-entropy loss with and without smoothing.
func Softmax(t *testing.T, b tensor.Backend) { check(t, b, softmaxCases()) }

func softmaxCases() cases {
	var cs cases
	for _, axis := range []int{1, 0} {
		for _, log := range []bool{false, true} {
			cs.add(1e-6, func(g *gen) []*tensor.Tensor {
				x, dy := g.normal(5, 7, 33), g.randn(7, 33)
				y, dx := g.nan(7, 33), g.nan(7, 33)
				g.b.Softmax(y, x, axis, log)
				g.b.SoftmaxGrad(dx, y, dy, axis, log)
				return []*tensor.Tensor{y, dx}
			}, "Softmax/axis=%d/log=%v", axis, log)
		}
	}
	for _, sm := range []float32{0, 0.1} {
		cs.add(1e-6, func(g *gen) []*tensor.Tensor {
			logits := g.normal(3, 37, 10)
			labels := make([]int, 37)
			for i := range labels {
				labels[i] = g.r.IntN(10)
			}
			grad := g.nan(37, 10)
			loss := g.b.SoftmaxCrossEntropy(grad, logits, labels, sm)
			loss2 := g.b.SoftmaxCrossEntropy(nil, logits, labels, sm)
			return []*tensor.Tensor{grad, tensor.FromSlice([]float32{loss, loss2}, 2)}
		}, "SoftmaxCrossEntropy/smoothing=%v", sm)
	}
	return cs
}

// Dropout checks that Dropout draws the same mask from a seed as the
// reference.
func Dropout(t *testing.T, b tensor.Backend) { check(t, b, dropoutCases()) }

func dropoutCases() cases {
	var cs cases
	for _, p := range []float32{0.3, 0} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			x := g.randn(5, 33)
			y, mask := g.nan(5, 33), g.nan(5, 33)
			g.b.Dropout(y, mask, x, p, 42)
			return []*tensor.Tensor{y, mask}
		}, "Dropout/p=%v", p)
	}
	return cs
}

// Layout checks Concat and Split, Pad in every mode (negative pads crop),
// and the NHWC ⇄ NCHW transposes.
func Layout(t *testing.T, b tensor.Backend) { check(t, b, layoutCases()) }

func layoutCases() cases {
	var cs cases
	for _, axis := range []int{0, 1, 2} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			s1, s2 := []int{2, 3, 4}, []int{2, 3, 4}
			s1[axis], s2[axis] = 3, 5
			cat := []int{2, 3, 4}
			cat[axis] = 8
			x1, x2 := g.randn(s1...), g.randn(s2...)
			y, d1, d2 := g.nan(cat...), g.nan(s1...), g.nan(s2...)
			g.b.Concat(y, axis, x1, x2)
			g.b.Split(y, axis, d1, d2)
			return []*tensor.Tensor{y, d1, d2}
		}, "ConcatSplit/axis=%d", axis)
	}
	for _, mode := range []tensor.PadMode{tensor.PadConstant, tensor.PadReflect, tensor.PadEdge} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			x := g.randn(2, 8, 4)
			y := g.nan(4, 12, 5)
			g.b.Pad(y, x, [][2]int{{1, 1}, {2, 2}, {-1, 2}}, mode, 0.25)
			return []*tensor.Tensor{y}
		}, "Pad/mode=%d", mode)
	}
	cs.add(0, func(g *gen) []*tensor.Tensor {
		x := g.randn(3, 5, 7, 17)
		nchw, back := g.nan(3, 17, 5, 7), g.nan(3, 5, 7, 17)
		g.b.NHWCToNCHW(nchw, x)
		g.b.NCHWToNHWC(back, nchw)
		return []*tensor.Tensor{nchw, back}
	}, "NHWC-NCHW")
	return cs
}

// Optimizers checks SGD (without momentum, with momentum on its first and
// a later step, Nesterov) and Adam and AdamW, bit for bit: their results
// are defined as a sequence of rounded float32 operations. 70000 elements
// reach a CPU's split over threads.
func Optimizers(t *testing.T, b tensor.Backend) { check(t, b, optimizersCases()) }

func optimizersCases() cases {
	var cs cases
	for _, n := range []int{1, 17, 70000} {
		cs.add(0, func(g *gen) []*tensor.Tensor {
			w1, w2, w3, buf := g.randn(n), g.randn(n), g.randn(n), g.nan(n)
			gr := g.randn(n)
			g.b.SGDStep(w1, gr, nil, 0.1, 0, 1e-4, false, false)
			g.b.SGDStep(w2, gr, buf, 0.1, 0.9, 1e-4, false, true)
			g.b.SGDStep(w2, gr, buf, 0.1, 0.9, 1e-4, true, false)
			m, v := tensor.Zeros(n), tensor.Zeros(n)
			for _, dec := range []bool{false, true} {
				g.b.AdamStep(w3, gr, m, v, tensor.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01,
					StepSize: 1e-3 / 0.1, SqrtBC2: float32(math.Sqrt(0.001)), Decoupled: dec})
			}
			return []*tensor.Tensor{w1, w2, buf, w3, m, v}
		}, "Optimizers/%d", n)
	}
	return cs
}

// Empty checks that empty batches and sizes compute nothing and fail
// nowhere: a convolution's weight and bias gradients over no pixels are 0.
func Empty(t *testing.T, b tensor.Backend) { check(t, b, emptyCases()) }

func emptyCases() cases {
	var cs cases
	cs.add(0, func(g *gen) []*tensor.Tensor {
		p := tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		x, w, bias := g.randn(0, 5, 5, 3), g.randn(4, 3, 3, 3), g.randn(4)
		y, dy, dx := g.nan(0, 5, 5, 4), g.randn(0, 5, 5, 4), g.nan(0, 5, 5, 3)
		dw, db := g.nan(4, 3, 3, 3), g.nan(4)
		g.b.Conv2D(y, x, w, bias, p)
		g.b.Conv2DBackwardData(dx, dy, w, p)
		g.b.Conv2DBackwardWeights(dw, db, x, dy, p)
		pp := tensor.PoolParams{KH: 2, KW: 2, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 2}}
		py, pdx := g.nan(0, 2, 2, 3), g.nan(0, 5, 5, 3)
		g.b.MaxPool2D(py, x, pp)
		g.b.MaxPool2DBackward(pdx, x, py, pp)
		gp := g.nan(0, 3)
		g.b.GlobalAvgPool(gp, x)
		c := g.nan(0, 7)
		g.b.MatMul(c, g.randn(0, 5), g.randn(5, 7), false, false, 1, 0)
		return []*tensor.Tensor{y, dx, dw, db, py, pdx, gp, c}
	}, "Empty")
	return cs
}

// ForEachCPU runs f as a subtest, named by the tier, on a CPU backend of
// every tier the tests walk (kernels.TestTiers: every tier this machine
// runs, and the stand-ins of those it can emulate), each made by
// tensor.NewCPU: nothing process-wide is switched, so subtests may run in
// parallel. A tier that cannot be made skips.
func ForEachCPU(t *testing.T, f func(t *testing.T, cpu tensor.CPU)) {
	t.Helper()
	for _, tt := range kernels.TestTiers() {
		t.Run(tt.String(), func(t *testing.T) {
			cpu, err := tensor.NewCPU(tt.Tier, tt.StandIns)
			if err != nil {
				t.Skip(err)
			}
			f(t, cpu)
		})
	}
}

// ForEachBackend is ForEachCPU, then, when the default backend is not a
// CPU (a GPU, or the CUDA emulator under GRAFT_DEVICE=cuda), f on it too,
// as a subtest named "default".
func ForEachBackend(t *testing.T, f func(t *testing.T, be tensor.Backend)) {
	t.Helper()
	ForEachCPU(t, func(t *testing.T, cpu tensor.CPU) { f(t, cpu) })
	if d := tensor.Default(); !isCPU(d) {
		t.Run("default", func(t *testing.T) { f(t, d) })
	}
}

func isCPU(b tensor.Backend) bool {
	_, ok := b.(tensor.CPU)
	return ok
}
