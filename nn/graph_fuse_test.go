package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/graftml/graft/tensor"
)

// TestGraphInferFusesActivations: Graph inference runs a convolution
// whose output only a ReLU or Clip reads with the activation fused into
// its store, and leaves the others (a convolution read twice, one read by
// a Tanh, one whose output is the Graph's, a Clip read by two nodes'
// inputs) as they are, and fuses a ReLU or Clip into the Add before it,
// one of shapes alike (AddAct, in place of an input) or broadcasting; the outputs equal Forward's bit for bit, and
// inference keeps its tensors for the next calls without disturbing the
// results it returned, on one goroutine or several.
func TestGraphInferFusesActivations(t *testing.T) {
	c := func(in, out, k int, seed uint64, o ConvOpts) *Conv2D {
		o.Bias = true
		return NewConv2D(in, out, k, o, seed)
	}
	dw := c(8, 8, 3, 3, ConvOpts{Padding: 1, Groups: 8})
	nodes := []struct {
		name  string
		l     Layer
		out   string
		input []string
	}{
		{"c1", c(3, 8, 3, 1, ConvOpts{Padding: 1, Stride: 2}), "a", []string{"x"}},
		{"r1", ReLU(), "a'", []string{"a"}}, // fused
		{"c2", c(8, 8, 1, 2, ConvOpts{}), "b", []string{"a'"}},
		{"clip", NewClip(0, 6), "b'", []string{"b"}}, // fused
		{"dw", dw, "d", []string{"b'"}},
		{"clip2", NewClip(-0.25, 0.5), "d'", []string{"d"}}, // fused
		{"c3", c(8, 8, 1, 4, ConvOpts{}), "e", []string{"d'"}},
		{"r3", ReLU(), "e'", []string{"e"}}, // not fused: e is read twice
		{"add", NewBinary(OpAdd), "f", []string{"e'", "e"}},
		{"c4", c(8, 8, 1, 5, ConvOpts{}), "g", []string{"f"}},
		{"tanh", Tanh(), "g'", []string{"g"}}, // not fusable
		{"add2", NewBinary(OpAdd), "h", []string{"g'", "f"}},
		{"r6", ReLU(), "h'", []string{"h"}}, // fused into the Add
		{"pool", &GlobalAvgPool{KeepDims: true}, "p", []string{"h'"}},
		{"add3", NewBinary(OpAdd), "q", []string{"h'", "p"}}, // broadcasts
		{"clip3", NewClip(0, 0.75), "q'", []string{"q"}},     // after it, in place
		{"c5", c(8, 16, 1, 6, ConvOpts{}), "y", []string{"q'"}},
		{"r5", ReLU(), "z", []string{"y"}}, // dead: not live
	}
	g := NewGraph("x")
	for _, n := range nodes {
		if err := g.Add(n.name, n.l, n.out, n.input...); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.SetOutput("y"); err != nil {
		t.Fatal(err)
	}
	f := g.fusions(g.readers())
	want := []int{1, fusedIn, 3, fusedIn, 5, fusedIn, 0, 0, 0, 0, 0, 12, fusedIn, 0, 15, fusedIn, 0, 0}
	if !slices.Equal(f, want) {
		t.Fatalf("fusions %v, want %v", f, want)
	}
	x := tensor.RandNormal(7, 0, 1, 2, 9, 11, 3)
	xd := x.Data()
	for i := 0; i < len(xd); i += 7 {
		xd[i] = 0
	}
	ref := g.Forward(x).Clone()
	var outs []*tensor.Tensor
	for range 3 {
		outs = append(outs, g.Infer(x))
		g.Infer(tensor.RandNormal(8, 0, 1, 1, 5, 7, 3)) // another shape between
	}
	for _, got := range outs { // each call's result still intact
		for i, v := range ref.Data() {
			if w := got.Data()[i]; math.Float32bits(w) != math.Float32bits(v) {
				t.Fatalf("Infer y[%d] = %v, Forward %v", i, w, v)
			}
		}
	}
	// Concurrent calls each get their own tensors.
	done := make(chan *tensor.Tensor)
	for range 3 {
		go func() { done <- g.Infer(x) }()
	}
	for range 3 {
		got := <-done
		for i, v := range ref.Data() {
			if w := got.Data()[i]; math.Float32bits(w) != math.Float32bits(v) {
				t.Fatalf("concurrent Infer y[%d] = %v, Forward %v", i, w, v)
			}
		}
	}
	g.ReleaseInferBuffers()
}

// TestSequentialInferFusesActivations: Sequential inference fuses a ReLU
// or Clip right after a convolution (not one after another layer, nor a
// convolution at the end) and equals Forward bit for bit.
func TestSequentialInferFusesActivations(t *testing.T) {
	c := func(in, out, k int, seed uint64, o ConvOpts) *Conv2D {
		o.Bias = true
		return NewConv2D(in, out, k, o, seed)
	}
	s := NewSequential(
		c(3, 8, 3, 1, ConvOpts{Padding: 1}),
		ReLU(),
		c(8, 8, 3, 2, ConvOpts{Padding: 1, Groups: 8}),
		NewClip(0, 0.5),
		Tanh(),
		ReLU(),
		c(8, 4, 1, 3, ConvOpts{}),
	)
	x := tensor.RandNormal(9, 0, 1, 2, 7, 6, 3)
	want := s.Forward(x).Clone()
	got := s.Infer(x)
	for i, v := range want.Data() {
		if w := got.Data()[i]; math.Float32bits(w) != math.Float32bits(v) {
			t.Fatalf("Infer y[%d] = %v, Forward %v", i, w, v)
		}
	}
}

// TestResidualInferFusesPost: a Residual's inference adds into the main
// path's output with a ReLU or Clip Post fused in (tensor.AddAct), equal
// to Forward bit for bit, and leaves the caller's input alone when the
// main path passes it through (a Dropout in inference).
func TestResidualInferFusesPost(t *testing.T) {
	c := func(in, out, k int, seed uint64) *Conv2D {
		return NewConv2D(in, out, k, ConvOpts{Padding: k / 2, Bias: true}, seed)
	}
	for _, r := range []*Residual{
		NewResidual([]Named[Layer]{{"conv1", c(4, 4, 3, 1)}, {"relu", ReLU()}, {"conv2", c(4, 4, 3, 2)}}, nil, ReLU()),
		NewResidual([]Named[Layer]{{"conv1", c(4, 6, 3, 3)}}, c(4, 6, 1, 4), NewClip(0, 0.5)),
		NewResidual([]Named[Layer]{{"drop", NewDropout(0.5, 5)}}, nil, ReLU()),
		NewResidual([]Named[Layer]{{"conv1", c(4, 4, 1, 6)}}, nil, Tanh()),
	} {
		x := tensor.RandNormal(10, 0, 1, 2, 5, 6, 4)
		x0 := slices.Clone(x.Data())
		got := r.Infer(x)
		if !slices.Equal(x.Data(), x0) {
			t.Fatal("Infer wrote into the caller's input")
		}
		want := r.Forward(x)
		for i, v := range want.Data() {
			if w := got.Data()[i]; math.Float32bits(w) != math.Float32bits(v) {
				t.Fatalf("Infer y[%d] = %v, Forward %v", i, w, v)
			}
		}
	}
}
