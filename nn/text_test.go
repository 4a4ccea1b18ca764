package nn_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// conv1dMaxRef is the plain definition of Conv1DMax's forward pass.
func conv1dMaxRef(c *nn.Conv1DMax, x *tensor.Tensor) []float32 {
	n, t, d := x.Dim(0), x.Dim(1), x.Dim(2)
	w, b, xd := c.Weight.Value.Data(), c.Bias.Value.Data(), x.Data()
	out := make([]float32, n*c.Filters)
	for i := 0; i < n; i++ {
		for f := 0; f < c.Filters; f++ {
			best := float32(0)
			for s := 0; s+c.Width <= t; s++ {
				var v float64
				for k := 0; k < c.Width; k++ {
					for j := 0; j < d; j++ {
						v += float64(xd[(i*t+s+k)*d+j]) * float64(w[(f*d+j)*c.Width+k])
					}
				}
				if s == 0 || float32(v) > best {
					best = float32(v)
				}
			}
			best += b[f]
			if c.ReLU && best < 0 {
				best = 0
			}
			out[i*c.Filters+f] = best
		}
	}
	return out
}

func TestConv1DMaxMatchesReference(t *testing.T) {
	tensortest.ForEachBackend(t, func(t *testing.T, cpu tensor.Backend) {
		for _, s := range []struct{ n, t, d, f, k int }{{1, 3, 1, 1, 3}, {2, 7, 3, 4, 3}, {3, 11, 5, 7, 5}, {4, 20, 16, 9, 4}, {2, 9, 33, 17, 1}} {
			for _, relu := range []bool{false, true} {
				c := nn.NewConv1DMax(s.d, s.f, s.k, relu, uint64(s.n*100+s.k))
				nn.MoveTo(c, cpu)
				x := modelcheck.Randn(uint64(s.t), s.n, s.t, s.d)
				x.MoveTo(cpu)
				nn.SetTraining(c, true)
				want := conv1dMaxRef(c, x)
				for _, got := range [][]float32{c.Forward(x).Data(), c.Infer(x).Data()} {
					for i := range want {
						if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
							t.Fatalf("%+v relu %v: y[%d] = %v, want %v", s, relu, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

func TestGradCheckConv1DMax(t *testing.T) {
	for i, relu := range []bool{false, true} {
		c := nn.NewConv1DMax(3, 4, 3, relu, 71)
		if relu {
			// bias so some outputs sit below zero: their gradient is 0
			copy(c.Bias.Value.Data(), []float32{-5, 0.3, -0.2, 0.1})
		}
		x := modelcheck.Randn(72, 2, 7, 3)
		nn.SetTraining(c, true)
		y := c.Forward(x)
		r := modelcheck.Randn(uint64(73+i), y.Shape()...)
		an, dx := backwardOnce(c, x, r, true)
		if dx == nil || !slices.Equal(dx.Shape(), x.Shape()) {
			t.Fatalf("input gradient %v", dx)
		}
		f := func() float64 { return objective(c, x, r) }
		tensorcheck.CheckGrad(t, "input", an.dx, x.Data, 1e-3, f, true)
		for j, p := range nn.Parameters(c) {
			tensorcheck.CheckGrad(t, p.Name, an.grads[j], p.Value.Value.Data, 1e-3, f, true)
		}
	}
	// frozen: no parameter gradient written, the input gradient still right
	c := nn.NewConv1DMax(3, 4, 3, true, 74)
	x := modelcheck.Randn(75, 2, 6, 3)
	nn.SetTrainable(c, false)
	nn.SetTraining(c, true)
	fillGrads(c.Params(), gcSentinel)
	y := c.Forward(x)
	c.Backward(modelcheck.Randn(76, y.Shape()...), false)
	for _, p := range c.Params() {
		for _, v := range p.Value.Grad.Data() {
			if v != gcSentinel {
				t.Fatal("a frozen Conv1DMax's Grad was written")
			}
		}
	}
}

func TestGradCheckEmbeddingBag(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		checkEmbeddingBag(t, weighted)
	}
}

func checkEmbeddingBag(t *testing.T, weighted bool) {
	const num, dim, pad = 7, 3, 0
	e := nn.NewEmbeddingBag(num, dim, pad, 81)
	wt := func(id int) float32 { return 1 }
	if weighted {
		e.Weights = []float32{9, 1, 0.5, 2, 0.25, 3, 1.5} // the padding's 9 must not count
		wt = func(id int) float32 { return e.Weights[id] }
	}
	copy(e.Weight.Value.Data()[pad*dim:], []float32{0.5, -0.5, 1}) // must not count
	ids := tensor.FromSlice([]float32{2, 4, 4, 0, 0, 0, 0, 0, 1, 5, 0, 6}, 3, 4)
	e.SetTraining(true)
	y := e.Forward(ids)
	if !slices.Equal(y.Shape(), []int{3, dim}) {
		t.Fatalf("output %v", y.Shape())
	}
	w := e.Weight.Value.Data()
	for j := 0; j < dim; j++ {
		want := (wt(2)*w[2*dim+j] + 2*wt(4)*w[4*dim+j]) / (wt(2) + 2*wt(4)) // padding left out of the mean
		if d := y.Data()[j] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("mean[%d] = %v, want %v", j, y.Data()[j], want)
		}
		if y.Data()[dim+j] != 0 {
			t.Fatal("a sequence of padding only is not zero")
		}
	}
	r := modelcheck.Randn(82, 3, dim)
	fillGrads(e.Params(), gcSentinel)
	e.Forward(ids)
	e.Backward(r, false)
	got := slices.Clone(e.Weight.Grad.Data())
	want := tensorcheck.NumericGrad(e.Weight.Value.Data, 1e-2, func() float64 { return objective(e, ids, r) })
	for i := pad * dim; i < (pad+1)*dim; i++ {
		if got[i] != 0 {
			t.Fatalf("padding row gradient %v", got[i])
		}
		want.Central[i] = 0
	}
	tensorcheck.CheckNumeric(t, "embedding bag weight", got, want, nil)
	if rows := e.Weight.Rows; !sameSet(rows, []int{2, 4, 1, 5, 6}) {
		t.Fatalf("Weight.Rows %v", rows)
	}
	inf := e.Infer(ids)
	if !slices.Equal(inf.Data(), e.Forward(ids).Data()) {
		t.Fatal("Infer differs from Forward")
	}
}

func sameSet(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestEmbeddingSparseGrad: a second batch clears the first batch's rows and
// writes only its own; the other rows stay zero.
func TestEmbeddingSparseGrad(t *testing.T) {
	for _, bag := range []bool{false, true} {
		var l nn.Layer
		var e *nn.Embedding
		if bag {
			b := nn.NewEmbeddingBag(10, 2, 0, 1)
			l, e = b, b.Embedding
		} else {
			e = nn.NewEmbedding(10, 2, 0, 1)
			l = e
		}
		nn.SetTraining(l, true)
		for step, ids := range [][]float32{{1, 2, 3, 0}, {3, 4, 0, 0}, {9, 9, 9, 9}} {
			x := tensor.FromSlice(ids, 1, 4)
			y := l.Forward(x)
			l.Backward(tensor.Full(1, y.Shape()...), false)
			g := e.Weight.Grad.Data()
			for row := 0; row < 10; row++ {
				used := row != 0 && slices.Contains(ids, float32(row))
				nz := g[2*row] != 0 || g[2*row+1] != 0
				if used != nz {
					t.Fatalf("bag %v step %d: row %d used %v, gradient %v", bag, step, row, used, g[2*row:2*row+2])
				}
			}
		}
	}
}

// TestTextCNNAllocs: a training step of the text CNN allocates nothing.
func TestTextCNNAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	m := nn.NewSequential(
		nn.NewEmbedding(50, 8, 0, 1),
		nn.NewConcat(named("c3", nn.NewConv1DMax(8, 5, 3, true, 2)), named("c4", nn.NewConv1DMax(8, 5, 4, true, 3))),
		nn.NewDense(10, 2, true, 4))
	x := tensor.Zeros(4, 12)
	for i := range x.Data() {
		x.Data()[i] = float32(i % 50)
	}
	labels := []int{0, 1, 1, 0}
	opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.01, 0))
	nn.SetTraining(m, true)
	grad := tensor.Zeros(4, 2)
	step := func() {
		out := m.Forward(x)
		nn.CrossEntropy{}.Loss(grad, out, labels, nil)
		m.Backward(grad, false)
		opt.Step()
	}
	step()
	step()
	if a := testing.AllocsPerRun(10, step); a != 0 {
		t.Fatalf("%v allocations per step, want 0", a)
	}
}

// TestLazyOptimizers: a Lazy group updates only the rows of the batch;
// for plain SGD that is exactly the dense update, and for a batch that
// uses every row lazy Adam is dense Adam.
func TestLazyOptimizers(t *testing.T) {
	batches := []*tensor.Tensor{
		tensor.FromSlice([]float32{1, 2, 3, 0}, 1, 4),
		tensor.FromSlice([]float32{3, 4, 4, 0}, 1, 4),
		tensor.FromSlice([]float32{5, 1, 0, 0}, 1, 4),
	}
	all := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 0}, 1, 6)
	train := func(lazy bool, mk func(*nn.Group) nn.Optimizer, bs []*tensor.Tensor) []float32 {
		e := nn.NewEmbedding(6, 3, 0, 9)
		g := nn.NewGroup(e.Params(), 0.1, 0)
		g.Lazy = lazy
		opt := mk(g)
		e.SetTraining(true)
		for _, x := range bs {
			y := e.Forward(x)
			e.Backward(modelcheck.Randn(uint64(x.Len()), y.Shape()...), false)
			opt.Step()
		}
		return slices.Clone(e.Weight.Value.Data())
	}
	sgd := func(g *nn.Group) nn.Optimizer { return nn.NewSGD(0, false, g) }
	if a, b := train(true, sgd, batches), train(false, sgd, batches); !slices.Equal(a, b) {
		t.Fatalf("lazy SGD without momentum differs from SGD:\n%v\n%v", a, b)
	}
	adam := func(g *nn.Group) nn.Optimizer { return nn.NewAdam(g) }
	full := []*tensor.Tensor{all, all, all}
	if a, b := train(true, adam, full), train(false, adam, full); !slices.Equal(a, b) {
		t.Fatalf("lazy Adam on batches using every row differs from Adam")
	}
	mom := func(g *nn.Group) nn.Optimizer { return nn.NewSGD(0.9, false, g) }
	for name, mk := range map[string]func(*nn.Group) nn.Optimizer{"adam": adam, "sgd-momentum": mom} {
		lazy, dense := train(true, mk, batches), train(false, mk, batches)
		// row 2 was in the first batch only: dense momentum moved it again,
		// the lazy update left it where the first step put it
		once := train(true, mk, batches[:1])
		if !slices.Equal(lazy[6:9], once[6:9]) || slices.Equal(dense[6:9], once[6:9]) {
			t.Fatalf("%s: row 2 lazy %v dense %v after its one step %v", name, lazy[6:9], dense[6:9], once[6:9])
		}
		// rows of the last batch (5 and 1) moved in both
		if slices.Equal(lazy[15:18], once[15:18]) {
			t.Fatalf("%s: lazy update left row 5 alone", name)
		}
	}
}

// TestEmbeddingBagWeightsSaved: the token weights travel in checkpoints.
func TestEmbeddingBagWeightsSaved(t *testing.T) {
	e := nn.NewEmbeddingBag(4, 2, 0, 3)
	e.Weights = []float32{1, 0.5, 2, 0.25}
	path := filepath.Join(t.TempDir(), "bag.safetensors")
	if err := nn.Save(path, e, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	f := nn.NewEmbeddingBag(4, 2, 0, 99)
	f.Weights = make([]float32, 4)
	if _, rep, err := nn.Load(path, f, nn.LoadOptions{}); err != nil || !rep.Clean() {
		t.Fatalf("load: %v %v", rep, err)
	}
	if !slices.Equal(f.Weights, e.Weights) || !slices.Equal(f.Weight.Value.Data(), e.Weight.Value.Data()) {
		t.Fatalf("weights %v, want %v", f.Weights, e.Weights)
	}
}
