package nn

import (
	"runtime"
	"slices"
	"testing"

	"github.com/graftml/graft/tensor"
)

// TestPerExample checks which layers chunked inference takes as computing
// each example alone: the batch dimension fixed by a Reshape, a
// concatenation along the batch, a constant with a batch of its own, and
// a layer it does not know keep the batch whole.
func TestPerExample(t *testing.T) {
	for _, tc := range []struct {
		l    Layer
		want bool
	}{
		{NewSequential(NewConv2D(3, 4, 3, ConvOpts{Padding: 1}, 1), ReLU(), NewGlobalAvgPool(), NewDense(4, 2, true, 2)), true},
		{NewReshape(-1, 8), true},
		{NewReshape(0, 2, 4), true},
		{NewReshape(4, -1), false},
		{NewConcatN(3), true},
		{NewConcatN(-1), true},
		{NewConcatN(0), false},
		{NewConcatN(-4), false},
		{NewBinaryConst(OpMul, tensor.Full(2, 1, 1, 1, 4), false), true},
		{NewBinaryConst(OpAdd, tensor.Full(2, 4), false), true},
		{NewBinaryConst(OpAdd, tensor.Full(2, 3, 4), false), false},
		{NewSequential(ReLU(), NewReshape(2, -1)), false},
		{NewResidual([]Named[Layer]{{"0", ReLU()}}, nil, NewReshape(3, -1)), false},
		{NewEmbedding(5, 3, 0, 1), false},
	} {
		if got := perExample(tc.l); got != tc.want {
			t.Errorf("perExample(%T %+v) = %v, want %v", tc.l, tc.l, got, tc.want)
		}
	}
}

// TestInferChunkedGraph runs a Graph whose batch may be cut and one whose
// batch may not (a Reshape fixing it) with small chunks: both give the
// results of the batch run whole.
func TestInferChunkedGraph(t *testing.T) {
	defer func(c int) { InferChunk = c }(InferChunk)
	x := tensor.RandNormal(1, 0, 1, 6, 5, 5, 3)
	build := func(reshape *Reshape) *Graph {
		g := NewGraph("x")
		err := firstErr(
			g.Add("conv", NewConv2D(3, 8, 3, ConvOpts{Padding: 1, Bias: true}, 2), "c", "x"),
			g.Add("relu", ReLU(), "r", "c"),
			g.Add("pw", NewConv2D(8, 4, 1, ConvOpts{Bias: true}, 3), "p", "r"),
			g.Add("cat", NewConcatN(3), "cat", "p", "r"),
			g.Add("pool", NewGlobalAvgPool(), "g", "cat"),
			g.Add("reshape", reshape, "f", "g"),
			g.Add("fc", NewDense(12, 5, true, 4), "y", "f"))
		if err == nil {
			err = g.SetOutput("y")
		}
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, r := range []*Reshape{NewReshape(-1, 12), NewReshape(6, 12)} {
		g := build(r)
		InferChunk = 0
		want := g.Infer(x).Data()
		InferChunk = 4
		if got := g.Infer(x).Data(); !slices.Equal(got, want) {
			t.Errorf("reshape %v: chunked %v, want %v", r.Shape, got, want)
		}
	}
}

// TestInferTransposedCache changes a pointwise convolution's and a dense
// layer's weights between inferences: each inference must use the new
// weights (the transposed copies are recomputed).
func TestInferTransposedCache(t *testing.T) {
	conv := NewConv2D(6, 5, 1, ConvOpts{Bias: true}, 1)
	dense := NewDense(5, 3, true, 2)
	m := NewSequential(conv, NewGlobalAvgPool(), dense)
	x := tensor.RandNormal(3, 0, 1, 2, 4, 4, 6)
	y0 := slices.Clone(m.Infer(x).Data())
	for _, w := range []*tensor.Tensor{conv.Weight.Value, dense.Weight.Value} {
		w.Data()[1] += 0.5
		want := unfolded(layersOf(m), x).Data()
		got := m.Infer(x).Data()
		closeRel(t, "after a weight changed", got, want, 1e-6)
		if slices.Equal(got, y0) {
			t.Error("a weight changed and the result did not")
		}
		y0 = slices.Clone(got)
	}
}

// TestChunkFor checks the default chunk choice: one chunk per thread of
// at least inferChunkMin examples, none at 1 thread or inside ForEach,
// none for a network that mixes examples; a fixed or negative InferChunk
// overrides it.
func TestChunkFor(t *testing.T) {
	defer func(c int) { InferChunk = c }(InferChunk)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	l := NewSequential(ReLU())
	x := func(n int) *tensor.Tensor { return tensor.ZerosOn(tensor.CPU{}, n, 3) } // on the CPU whatever the default
	InferChunk = 0
	for _, c := range []struct{ procs, n, want int }{
		{2, 17, 9}, {2, 16, 8}, {2, 15, 8}, {2, 14, 0}, {1, 64, 0}, {4, 64, 16}, {4, 30, 8}, {4, 28, 0},
	} {
		runtime.GOMAXPROCS(c.procs)
		if got := chunkFor(l, x(c.n)); got != c.want {
			t.Errorf("%d threads, batch %d: chunk %d, want %d", c.procs, c.n, got, c.want)
		}
	}
	runtime.GOMAXPROCS(2)
	tensor.ForEach(1, func(int) {
		if got := chunkFor(l, x(64)); got != 0 {
			t.Errorf("inside ForEach: chunk %d, want 0", got)
		}
	})
	if got := chunkFor(NewSequential(NewReshape(64, -1)), x(64)); got != 0 {
		t.Errorf("a batch fixed by a Reshape: chunk %d, want 0", got)
	}
	InferChunk = 5
	if got := chunkFor(l, x(64)); got != 5 {
		t.Errorf("InferChunk 5: chunk %d", got)
	}
	InferChunk = -1
	if got := chunkFor(l, x(64)); got != 0 {
		t.Errorf("InferChunk -1: chunk %d", got)
	}
}
