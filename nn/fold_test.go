package nn

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// foldCase is a convolution, a BatchNorm and an activation that Infer
// runs as one convolution.
type foldCase struct {
	name     string
	in, out  int
	k        int
	o        ConvOpts
	h, w     int
	pad      *Pad2D // before the convolution
	bnReLU   bool
	act      func() Layer // after the BatchNorm; nil for none
	wantRuns int          // layers the run must cover
}

func foldCases() []foldCase {
	relu := func() Layer { return ReLU() }
	relu6 := func() Layer { return ReLU6() }
	clip := func() Layer { return NewClip(-0.5, 1.5) }
	return []foldCase{
		{name: "3x3/bias/relu6", in: 5, out: 7, k: 3, o: ConvOpts{Padding: 1, Bias: true}, h: 9, w: 7, act: relu6, wantRuns: 3},
		{name: "3x3/nobias/none", in: 5, out: 7, k: 3, o: ConvOpts{Padding: 1}, h: 9, w: 7, wantRuns: 2},
		{name: "3x3/stride2/relu", in: 3, out: 32, k: 3, o: ConvOpts{Stride: 2, Padding: 1}, h: 17, w: 15, act: relu, wantRuns: 3},
		{name: "grouped/clip", in: 6, out: 9, k: 3, o: ConvOpts{Stride: 2, Padding: 1, Groups: 3, Bias: true}, h: 11, w: 10, act: clip, wantRuns: 3},
		{name: "depthwise19/relu6", in: 19, out: 19, k: 3, o: ConvOpts{Stride: 2, Padding: 1, Groups: 19}, h: 13, w: 11, act: relu6, wantRuns: 3},
		{name: "depthwise32/bnrelu", in: 32, out: 32, k: 3, o: ConvOpts{Padding: 1, Groups: 32, Bias: true}, h: 12, w: 9, bnReLU: true, wantRuns: 2},
		{name: "1x1/relu6", in: 24, out: 40, k: 1, o: ConvOpts{}, h: 7, w: 6, act: relu6, wantRuns: 3},
		{name: "1x1/ragged/bias", in: 17, out: 33, k: 1, o: ConvOpts{Bias: true}, h: 5, w: 3, wantRuns: 2},
		{name: "5x5/dilation2", in: 4, out: 6, k: 5, o: ConvOpts{Padding: 4, Dilation: 2}, h: 12, w: 13, act: relu, wantRuns: 3},
		{name: "same/stride2", in: 8, out: 16, k: 3, o: ConvOpts{Stride: 2, Same: true}, h: 14, w: 10, act: relu6, wantRuns: 3},
		{name: "pad/depthwise/relu6", in: 16, out: 16, k: 3, o: ConvOpts{Stride: 2, Groups: 16}, h: 14, w: 11,
			pad: NewPad2D(0, 1, 0, 1, 0), act: relu6, wantRuns: 4},
		{name: "pad/conv/nobn", in: 3, out: 8, k: 3, o: ConvOpts{Stride: 2, Bias: true}, h: 10, w: 9,
			pad: NewPad2D(1, 2, 0, 1, 0), wantRuns: 2},
		{name: "pad/conv/nobn/relu", in: 3, out: 8, k: 3, o: ConvOpts{Stride: 2, Bias: true}, h: 10, w: 9,
			pad: NewPad2D(1, 0, 2, 1, 0), act: relu, wantRuns: 3},
	}
}

// build returns the case's layers, with random BatchNorm parameters and
// statistics (some scales negative).
func (c foldCase) build(seed uint64) []Layer {
	conv := NewConv2D(c.in, c.out, c.k, c.o, seed)
	var ls []Layer
	if c.pad != nil {
		ls = append(ls, c.pad)
	}
	ls = append(ls, conv)
	if c.pad != nil && c.wantRuns == 2 {
		return ls
	}
	if c.pad != nil && c.wantRuns == 3 {
		return append(ls, c.act())
	}
	bn := NewBatchNorm(c.out)
	bn.Eps = 1e-3
	bn.ReLU = c.bnReLU
	copy(bn.Weight.Value.Data(), tensor.RandNormal(seed+1, 0.5, 1, c.out).Data())
	copy(bn.Bias.Value.Data(), tensor.RandNormal(seed+2, 0, 1, c.out).Data())
	copy(bn.RunningMean.Value.Data(), tensor.RandNormal(seed+3, 0, 0.5, c.out).Data())
	copy(bn.RunningVar.Value.Data(), tensor.RandUniform(seed+4, 0.05, 3, c.out).Data())
	ls = append(ls, bn)
	if c.act != nil {
		ls = append(ls, c.act())
	}
	return ls
}

// unfolded runs each layer's own Infer in turn: the reference.
func unfolded(ls []Layer, x *tensor.Tensor) *tensor.Tensor {
	for _, l := range ls {
		x = l.Infer(x)
	}
	return x
}

// closeRel fails unless every value is within tol·max|want| of want (NaN
// nowhere).
func closeRel(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*scale) {
			t.Fatalf("%s: [%d] = %v, want %v (scale %v)", what, i, got[i], want[i], scale)
		}
	}
}

const foldTol = 2e-6

// foldsHere reports whether BatchNorm folds on the default backend (only
// the CPU one folds; a GPU runs the layers as they are).
func foldsHere() bool {
	_, ok := tensor.Default().(tensor.CPU)
	return ok
}

// want returns the run the case must give where folds says whether
// BatchNorm folds: off the CPU none does, so a run is only a Pad2D and
// its convolution.
func (c foldCase) want(folds bool) (n int, ok bool) {
	hasBN := c.pad == nil || c.wantRuns == 4
	if folds || !hasBN {
		return c.wantRuns, true
	}
	if c.pad != nil {
		return 2, true
	}
	return 0, false
}

// TestFoldMatchesUnfolded runs every case through Sequential and Graph
// inference on every kernel tier: the folded result must match the
// layers run one by one, and the fold must have happened.
func TestFoldMatchesUnfolded(t *testing.T) {
	for _, tier := range kernels.TestTiers() {
		t.Run("tier="+tier.String(), func(t *testing.T) {
			cpu, err := tensor.NewCPU(tier.Tier, tier.StandIns)
			if err != nil {
				t.Skip(err)
			}
			t.Parallel()
			for i, c := range foldCases() {
				t.Run(c.name, func(t *testing.T) {
					ls := c.build(uint64(10 * i))
					for _, l := range ls {
						MoveTo(l, cpu) // the layers run on their input's backend: this tier
					}
					x := tensor.RandNormal(uint64(i), 0, 1, 2, c.h, c.w, c.in)
					x.MoveTo(cpu)
					want := unfolded(ls, x)

					wantN, wantOK := c.want(true) // the layers are on a CPU backend
					s := NewSequential(ls...)
					if r, ok := s.runAt(0); ok != wantOK || (ok && r.n != wantN) {
						t.Fatalf("Sequential runs %d layers together (ok %v), want %d (%v)", r.n, ok, wantN, wantOK)
					}
					got := s.Infer(x)
					closeRel(t, "Sequential", got.Data(), want.Data(), foldTol)
					conv := ls[slices.IndexFunc(ls, func(l Layer) bool { _, ok := l.(*Conv2D); return ok })].(*Conv2D)
					if slices.ContainsFunc(ls, func(l Layer) bool { _, ok := l.(*BatchNorm); return ok }) {
						if conv.fold.Load() == nil {
							t.Error("Infer did not fold the BatchNorm")
						}
					}

					g := NewGraph("x")
					prev := "x"
					for j, l := range ls {
						name := fmt.Sprintf("l%d", j)
						if err := g.Add(name, l, name, prev); err != nil {
							t.Fatal(err)
						}
						prev = name
					}
					if err := g.SetOutput(prev); err != nil {
						t.Fatal(err)
					}
					closeRel(t, "Graph", g.Infer(x).Data(), want.Data(), foldTol)
					if r, nodes, ok := g.runAt(0, g.soleReaders(g.readers())); ok != wantOK || (ok && (len(nodes) != wantN || r.n != wantN)) {
						t.Errorf("Graph runs nodes %v together (ok %v), want %d (%v)", nodes, ok, wantN, wantOK)
					}
					if !slices.Equal(x.Data(), tensor.RandNormal(uint64(i), 0, 1, 2, c.h, c.w, c.in).Data()) {
						t.Error("Infer wrote into its input")
					}
				})
			}
		})
	}
}

// TestFoldGraphBranches checks that a Graph folds only where nothing else
// reads the values folded away: a convolution's output read twice, a
// BatchNorm's output read twice, and outputs set at the convolution or
// the BatchNorm (a cut) keep them.
func TestFoldGraphBranches(t *testing.T) {
	c := foldCases()[0]
	ls := c.build(7)
	conv, bn, act := ls[0], ls[1], ls[2]
	x := tensor.RandNormal(8, 0, 1, 2, c.h, c.w, c.in)
	yc := conv.Infer(x)
	yb := bn.Infer(yc)
	ya := act.Infer(yb)
	add := func(a, b *tensor.Tensor) []float32 {
		z := tensor.Zeros(a.Shape()...)
		tensor.Add(z, a, b)
		return z.Data()
	}
	for _, tc := range []struct {
		name   string
		build  func(g *Graph) error
		out    string
		want   []float32
		fold   int // layers the run from the convolution covers, 0: none
		accept bool
	}{
		{"conv read twice", func(g *Graph) error {
			return firstErr(g.Add("conv", conv, "c", "x"), g.Add("bn", bn, "b", "c"), g.Add("act", act, "a", "b"),
				g.Add("sum", NewBinary(OpAdd), "s", "a", "c"))
		}, "s", add(ya, yc), 0, false},
		{"bn read twice", func(g *Graph) error {
			return firstErr(g.Add("conv", conv, "c", "x"), g.Add("bn", bn, "b", "c"), g.Add("act", act, "a", "b"),
				g.Add("sum", NewBinary(OpAdd), "s", "a", "b"))
		}, "s", add(ya, yb), 2, true},
		{"output at bn", func(g *Graph) error {
			return firstErr(g.Add("conv", conv, "c", "x"), g.Add("bn", bn, "b", "c"), g.Add("act", act, "a", "b"))
		}, "b", yb.Data(), 2, true},
		{"output at conv", func(g *Graph) error {
			return firstErr(g.Add("conv", conv, "c", "x"), g.Add("bn", bn, "b", "c"), g.Add("act", act, "a", "b"))
		}, "c", yc.Data(), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph("x")
			if err := tc.build(g); err != nil {
				t.Fatal(err)
			}
			if err := g.SetOutput(tc.out); err != nil {
				t.Fatal(err)
			}
			if !foldsHere() {
				tc.fold, tc.accept = 0, false
			}
			r, _, ok := g.runAt(0, g.soleReaders(g.readers()))
			if ok != tc.accept || (ok && r.n != tc.fold) {
				t.Errorf("run from the convolution: %d layers (ok %v), want %d (%v)", r.n, ok, tc.fold, tc.accept)
			}
			closeRel(t, "Graph", g.Infer(x).Data(), tc.want, foldTol)
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestFoldInvalidation changes what a fold is computed from in every way
// a program can (training steps, which move the weights and the running
// statistics; a write into a tensor's data; a loaded state) and checks
// that the next Infer folds again.
func TestFoldInvalidation(t *testing.T) {
	c := foldCases()[0]
	ls := c.build(3)
	conv, bn := ls[0].(*Conv2D), ls[1].(*BatchNorm)
	m := NewSequential(append(ls, NewGlobalAvgPool(), NewDense(c.out, 3, true, 4))...)
	x := tensor.RandNormal(5, 0, 1, 4, c.h, c.w, c.in)
	check := func(what string) []float32 {
		t.Helper()
		SetTraining(m, false)
		want := unfolded(layersOf(m), x).Data()
		got := m.Infer(x).Data()
		closeRel(t, what, got, want, foldTol)
		return got
	}
	y0 := check("before training")

	// a few SGD steps in training mode: weights and running statistics move
	opt := NewSGD(0.9, false, NewGroup(Parameters(m), 0.1, 0))
	for range 3 {
		SetTraining(m, true)
		out := m.Forward(x)
		grad := tensor.Zeros(out.Shape()...)
		CrossEntropy{}.Loss(grad, out, []int{0, 1, 2, 0}, nil)
		m.Backward(grad, false)
		opt.Step()
	}
	y1 := check("after training")
	if slices.Equal(y0, y1) {
		t.Fatal("training changed nothing: the test proves nothing")
	}

	bn.RunningVar.Value.Data()[2] *= 9
	check("after a write into running_var")
	conv.Weight.Value.Data()[5] = -3
	check("after a write into the weight")
	bn.Eps = 0.5
	check("after a change of eps")

	twin := NewSequential(append(c.build(99), NewGlobalAvgPool(), NewDense(c.out, 3, true, 4))...)
	if _, err := LoadState(StateDict(twin), m, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after loading a state")
}

// layersOf returns the layers of s, for the reference.
func layersOf(s *Sequential) []Layer {
	var ls []Layer
	for _, c := range s.layers {
		ls = append(ls, c.Value)
	}
	return ls
}

// TestFoldConcurrent runs folded inference from several goroutines at
// once on a cold cache: every result must equal the serial one (go test
// -race checks the cache).
func TestFoldConcurrent(t *testing.T) {
	c := foldCases()[4]
	x := tensor.RandNormal(1, 0, 1, 2, c.h, c.w, c.in)
	want := NewSequential(c.build(1)...).Infer(x).Data()
	s := NewSequential(c.build(1)...)
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			msg := ""
			for k := 0; k < 10 && msg == ""; k++ {
				if got := s.Infer(x).Data(); !slices.Equal(got, want) {
					msg = "concurrent Infer differs"
				}
			}
			errs <- msg
		}()
	}
	for range 4 {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// TestInferRecycles runs a model whose inference recycles tensors through
// pass-through layers (Dropout returns its input), nested Sequentials and
// Residuals (identity and convolution shortcuts, with and without Post):
// Infer must equal an inference Forward, twice, and leave its input alone.
func TestInferRecycles(t *testing.T) {
	bn := func(c int, seed uint64) *BatchNorm {
		b := NewBatchNorm(c)
		copy(b.RunningMean.Value.Data(), tensor.RandNormal(seed, 0, 0.3, c).Data())
		copy(b.RunningVar.Value.Data(), tensor.RandUniform(seed+1, 0.5, 2, c).Data())
		return b
	}
	conv := func(in, out, k int, seed uint64) *Conv2D {
		return NewConv2D(in, out, k, ConvOpts{Padding: k / 2}, seed)
	}
	m := NewSequential(
		NewDropout(0.3, 1),
		conv(3, 8, 3, 2), bn(8, 3), ReLU6(),
		NewDropout(0.3, 4),
		NewResidual([]Named[Layer]{{"0", conv(8, 8, 3, 5)}, {"1", bn(8, 6)}, {"2", ReLU()}}, nil, ReLU()),
		NewResidual([]Named[Layer]{{"0", conv(8, 16, 3, 7)}, {"1", bn(16, 8)}},
			NewSequential(conv(8, 16, 1, 9), bn(16, 10)), nil),
		NewSequential(conv(16, 16, 1, 11), bn(16, 12)),
		NewDropout(0.3, 13), // the result is a convolution's, of a length the calls reuse
	)
	SetTraining(m, false)
	// calls of several batch sizes: each keeps its result, which later
	// calls (reusing the tensors of earlier calls' dead values) leave alone
	var outs, wants [][]float32
	var ys []*tensor.Tensor
	for i, n := range []int{2, 2, 3, 1, 2} {
		x := tensor.RandNormal(uint64(14+i), 0, 1, n, 6, 5, 3)
		x0 := slices.Clone(x.Data())
		wants = append(wants, slices.Clone(m.Forward(x).Data()))
		y := m.Infer(x)
		ys = append(ys, y)
		outs = append(outs, slices.Clone(y.Data()))
		closeRel(t, fmt.Sprintf("Infer %d", i), y.Data(), wants[i], 1e-5)
		if !slices.Equal(x.Data(), x0) {
			t.Error("Infer wrote into its input")
		}
	}
	for i, y := range ys {
		if !slices.Equal(y.Data(), outs[i]) {
			t.Errorf("call %d's result changed after later calls", i)
		}
	}
}
