package nn_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// testGraph builds a small DAG with every kind of join: a value read by
// three nodes (x→stem output s), a residual Add, a squeeze-excitation
// Mul broadcasting [N,1,1,C] over [N,H,W,C], and a Concat of branches.
func testGraph(seed uint64) *nn.Graph {
	g := nn.NewGraph("x")
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(g.Add("stem", conv(3, 4, 3, nn.ConvOpts{Padding: 1, Bias: true}, seed), "s", "x"))
	must(g.Add("branch.a", conv(4, 4, 1, nn.ConvOpts{}, seed+1), "a", "s"))
	must(g.Add("branch.act", nn.Tanh(), "b", "s"))
	must(g.Add("add", nn.NewBinary(nn.OpAdd), "c", "a", "b"))
	must(g.Add("se.pool", nn.NewGlobalAvgPool(), "p", "c"))
	must(g.Add("se.unflat", nn.NewReshape(0, -1, 1, 1), "p4", "p"))
	must(g.Add("se.fc", conv(4, 4, 1, nn.ConvOpts{Bias: true, Groups: 2}, seed+2), "f", "p4"))
	must(g.Add("se.gate", nn.Sigmoid(), "gate", "f"))
	must(g.Add("se.mul", nn.NewBinary(nn.OpMul), "m", "c", "gate"))
	must(g.Add("cat", nn.NewConcatN(-1), "k", "m", "s"))
	must(g.Add("flat", nn.NewFlatten(), "q", "k"))
	must(g.Add("fc", nn.NewDense(8*5*4, 3, true, seed+3), "y", "q"))
	must(g.SetOutput("y"))
	return g
}

func graphGradCases() []gradCase {
	leaf := func(name string, l func() nn.Layer, x func() *tensor.Tensor) gradCase {
		return gradCase{name: name, build: func() (nn.Layer, *tensor.Tensor) { return l(), x() }}
	}
	kinky := func(c gradCase, hx float64) gradCase { c.kinks, c.hx = true, hx; return c }
	hs := func() *tensor.Tensor {
		x := awayFromZero(201, 0.2, 5, 3, 8)
		x.Data()[0], x.Data()[1] = 1.5, -1.5 // inside the ramp
		return x
	}
	return []gradCase{
		kinky(leaf("HardSigmoid", func() nn.Layer { return nn.NewHardSigmoid(0.2, 0.5) }, hs), 0.01),
		kinky(leaf("HardSwish", func() nn.Layer { return nn.NewHardSwish() }, hs), 0.01),
		kinky(leaf("Clip", func() nn.Layer { return nn.NewClip(-1, 2) }, func() *tensor.Tensor { return spaced(202, 0.3, 3, 8) }), 0.01),
		leaf("Binary/div_const_bcast", func() nn.Layer {
			return nn.NewBinaryConst(nn.OpDiv, tensor.RandUniform(203, 1, 2, 1, 1, 3), false)
		}, func() *tensor.Tensor { return modelcheck.Randn(204, 2, 2, 2, 3) }),
		leaf("Binary/const_sub", func() nn.Layer {
			return nn.NewBinaryConst(nn.OpSub, modelcheck.Randn(205, 2, 1), true)
		}, func() *tensor.Tensor { return modelcheck.Randn(206, 3, 2, 4) }),
		leaf("Binary/const_div_x", func() nn.Layer {
			return nn.NewBinaryConst(nn.OpDiv, modelcheck.Randn(207, 4), true)
		}, func() *tensor.Tensor { return tensor.RandUniform(208, 1, 2, 3, 4) }),
		leaf("Softmax", func() nn.Layer { return nn.NewSoftmax() }, func() *tensor.Tensor { return modelcheck.Randn(209, 3, 5) }),
		leaf("Pad2D", func() nn.Layer { return nn.NewPad2D(1, 0, 2, 1, 0.5) }, func() *tensor.Tensor { return modelcheck.Randn(210, 2, 3, 2, 3) }),
		leaf("Reshape/nhwc_to_rank3", func() nn.Layer { return nn.NewReshape(0, 3, -1) }, func() *tensor.Tensor { return modelcheck.Randn(211, 2, 2, 3, 3) }),
		leaf("Reshape/rank2_to_nchw", func() nn.Layer { return nn.NewReshape(-1, 3, 2, 2) }, func() *tensor.Tensor { return modelcheck.Randn(212, 2, 12) }),
		leaf("GlobalAvgPool/keepdims", func() nn.Layer { return &nn.GlobalAvgPool{KeepDims: true} }, func() *tensor.Tensor { return modelcheck.Randn(219, 2, 3, 2, 4) }),
		leaf("Graph", func() nn.Layer { return testGraph(220) }, func() *tensor.Tensor { return modelcheck.Randn(221, 2, 5, 4, 3) }),
		leaf("Graph/binary_bcast", func() nn.Layer {
			g := nn.NewGraph("x")
			for _, e := range []error{
				g.Add("pool", nn.NewGlobalAvgPool(), "p", "x"),
				g.Add("sq", nn.NewBinary(nn.OpMul), "p2", "p", "p"),
				g.Add("shift", nn.NewBinaryConst(nn.OpAdd, tensor.Full(1, 1), false), "s", "p2"),
				g.Add("sub", nn.NewBinary(nn.OpSub), "d", "x", "p"),
				g.Add("div", nn.NewBinary(nn.OpDiv), "q", "d", "s"),
				g.SetOutput("q"),
			} {
				if e != nil {
					panic(e)
				}
			}
			return g
		}, func() *tensor.Tensor { return modelcheck.Randn(222, 2, 3, 2, 4) }),
	}
}

func TestGraphNames(t *testing.T) {
	g := testGraph(1)
	want := []string{"stem.weight", "stem.bias", "branch.a.weight", "se.fc.weight", "se.fc.bias", "fc.weight", "fc.bias"}
	if got := modelcheck.ParamNames(g); !slices.Equal(got, want) {
		t.Errorf("parameters %v, want %v", got, want)
	}
	if l, err := nn.Find(g, "se.fc"); err != nil || l != g.Nodes()[6].Layer {
		t.Errorf("Find(se.fc) = %v, %v", l, err)
	}
	for _, c := range []struct {
		name, out string
		in        []string
		l         nn.Layer
		err       string
	}{
		{"stem", "z", []string{"x"}, nn.ReLU(), "two layers"},
		{"stem.w", "z", []string{"x"}, nn.ReLU(), "not a namespace"},
		{"r", "y", []string{"x"}, nn.ReLU(), "already written"},
		{"r", "z", []string{"nope"}, nn.ReLU(), "no earlier node"},
		{"r", "z", []string{"x", "s"}, nn.ReLU(), "takes one input"},
		{"a..b", "z", []string{"x"}, nn.ReLU(), "empty part"},
	} {
		err := g.Add(c.name, c.l, c.out, c.in...)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Add(%q, %v→%q) = %v, want %q", c.name, c.in, c.out, err, c.err)
		}
	}
	if err := g.SetOutput("nope"); err == nil {
		t.Error("SetOutput of an unknown value")
	}
}

// TestGraphPartialBackward: with the stem frozen and no input gradient
// asked, neither the stem nor the activation after it runs, and mid is
// asked for no input gradient; with only the head trainable, nothing
// below it runs.
func TestGraphPartialBackward(t *testing.T) {
	stem := &spyLayer{Layer: conv(3, 4, 3, nn.ConvOpts{Padding: 1}, 300)}
	act := &spyLayer{Layer: nn.ReLU()}
	mid := &spyLayer{Layer: conv(4, 4, 1, nn.ConvOpts{}, 301)}
	g := nn.NewGraph("x")
	for _, e := range []error{
		g.Add("stem", stem, "s", "x"),
		g.Add("act", act, "a", "s"),
		g.Add("mid", mid, "m", "a"),
		g.Add("add", nn.NewBinary(nn.OpAdd), "r", "m", "a"),
		g.Add("pool", nn.NewGlobalAvgPool(), "p", "r"),
		g.Add("fc", nn.NewDense(4, 2, true, 302), "y", "p"),
		g.SetOutput("y"),
	} {
		if e != nil {
			t.Fatal(e)
		}
	}
	nn.SetTraining(g, true)
	x := modelcheck.Randn(303, 2, 5, 5, 3)
	r := modelcheck.Randn(304, g.Forward(x).Shape()...)
	full, _ := backwardOnce(g, x, r, true)
	nn.SetTrainable(stem, false)
	got, dx := backwardOnce(g, x, r, false)
	if dx != nil {
		t.Error("Backward(dy, false) returned an input gradient")
	}
	if len(stem.needs) != 1 || !slices.Equal(mid.needs, []bool{true, false}) || len(act.needs) != 1 {
		t.Errorf("needs: stem %v, act %v, mid %v", stem.needs, act.needs, mid.needs)
	}
	for j, p := range nn.Parameters(g) {
		if p.Value.Trainable {
			closeSlices(t, p.Name, got.grads[j], full.grads[j], 1e-5)
		}
	}
	nn.SetTrainable(g, false)
	nn.SetTrainable(g.Nodes()[5].Layer, true)
	backwardOnce(g, x, r, false)
	if len(mid.needs) != 2 || len(act.needs) != 1 {
		t.Errorf("only the head trainable: act %v, mid %v", act.needs, mid.needs)
	}
}

func TestBroadcastShape(t *testing.T) {
	for _, c := range []struct{ a, b, want []int }{
		{[]int{2, 3, 4}, []int{4}, []int{2, 3, 4}},
		{[]int{2, 1, 4}, []int{3, 1}, []int{2, 3, 4}},
		{[]int{}, []int{2}, []int{2}},
		{[]int{2, 3}, []int{4}, nil},
	} {
		got, err := nn.BroadcastShape(c.a, c.b)
		if c.want == nil {
			if err == nil {
				t.Errorf("%v, %v: no error", c.a, c.b)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%v, %v = %v, %v", c.a, c.b, got, err)
		}
	}
}

func TestTopologyRoundTrip(t *testing.T) {
	g := testGraph(400)
	s, err := nn.Structure(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []nn.Layer{g, s} {
		b, err := nn.EncodeTopology(l)
		if err != nil {
			t.Fatal(err)
		}
		c, err := nn.DecodeTopology(b, nn.NumParams(l)+numBuffers(l))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nn.LoadState(nn.StateDict(l), c, nn.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		x := modelcheck.Randn(401, 2, 5, 4, 3)
		closeSlices(t, "copy's output", c.Infer(x).Data(), g.Infer(x).Data(), 0)
		if !slices.Equal(modelcheck.ParamNames(c), modelcheck.ParamNames(l)) {
			t.Errorf("names %v, want %v", modelcheck.ParamNames(c), modelcheck.ParamNames(l))
		}
		if _, err := nn.DecodeTopology(b, 10); err == nil {
			t.Error("a topology beyond the budget decoded")
		}
	}
	for _, bad := range []string{``, `{"type":"Conv2D","in":3,"out":4,"kh":3,"kw":3}`, `{"type":"Conv2D","in":3,"out":4,"kh":3,"kw":3,"conv":{"Groups":2}}`,
		`{"type":"Sequential","children":[{"name":"a","layer":{"type":"Flatten"}},{"name":"a","layer":{"type":"Flatten"}}]}`,
		`{"type":"Graph","input":"x","output":"y","nodes":[{"name":"a","inputs":["z"],"output":"y","layer":{"type":"Flatten"}}]}`,
		`{"type":"exec"}`, `{"type":"Dense","in":1000000,"out":1000000}`} {
		if _, err := nn.DecodeTopology([]byte(bad), 1<<20); err == nil {
			t.Errorf("topology %s decoded", bad)
		}
	}
}

func TestStructure(t *testing.T) {
	g := testGraph(410)
	s, err := nn.Structure(g)
	if err != nil {
		t.Fatal(err)
	}
	seq, ok := s.(*nn.Sequential)
	if !ok {
		t.Fatalf("structure %T", s)
	}
	var names []string
	for _, c := range seq.Children() {
		names = append(names, fmt.Sprintf("%s:%T", c.Name, c.Value))
	}
	// the branching middle has no common name: it becomes block1
	if want := []string{"stem:*nn.Conv2D", "block1:*nn.Graph", "flat:*nn.Flatten", "fc:*nn.Dense"}; !slices.Equal(names, want) {
		t.Errorf("children %v, want %v", names, want)
	}
	x := modelcheck.Randn(411, 2, 5, 4, 3)
	closeSlices(t, "structured output", s.Infer(x).Data(), g.Infer(x).Data(), 0)
	var want []string
	for _, n := range modelcheck.ParamNames(g) {
		if strings.HasPrefix(n, "branch.") || strings.HasPrefix(n, "se.") {
			n = "block1." + n
		}
		want = append(want, n)
	}
	if !slices.Equal(modelcheck.ParamNames(s), want) {
		t.Errorf("names %v, want %v", modelcheck.ParamNames(s), want)
	}
}

func FuzzDecodeTopology(f *testing.F) {
	g := testGraph(500)
	b, _ := nn.EncodeTopology(g)
	f.Add(b)
	s, _ := nn.Structure(g)
	b, _ = nn.EncodeTopology(s)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		nn.DecodeTopology(b, 1<<16)
	})
}

func numBuffers(l nn.Layer) int {
	n := 0
	for _, b := range nn.Buffers(l) {
		n += b.Value.Value.Len()
	}
	return n
}

// TestGraphInferRecycling: inference recycles dead values' tensors and
// writes elementwise results in place; a pass-through (Dropout at
// inference) aliasing a value that is still read must keep it alive.
func TestGraphInferRecycling(t *testing.T) {
	c1, c2, c3 := conv(3, 4, 3, nn.ConvOpts{Padding: 1}, 600), conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 601), conv(4, 4, 1, nn.ConvOpts{}, 602)
	c4 := conv(4, 4, 3, nn.ConvOpts{Padding: 1}, 603)
	g := nn.NewGraph("x")
	for _, e := range []error{
		g.Add("c1", c1, "a", "x"),
		g.Add("drop", nn.NewDropout(0.5, 1), "b", "a"),
		g.Add("c2", c2, "c", "b"),
		g.Add("act", nn.Tanh(), "c'", "c"),
		g.Add("c3", c3, "d", "a"),
		g.Add("add", nn.NewBinary(nn.OpAdd), "e", "c'", "d"),
		g.Add("c4", c4, "f", "e"),
		g.Add("relu", nn.ReLU(), "y", "f"),
		g.SetOutput("y"),
	} {
		if e != nil {
			t.Fatal(e)
		}
	}
	x := modelcheck.Randn(604, 2, 5, 5, 3)
	xCopy := slices.Clone(x.Data())
	a := c1.Infer(x)
	e := tensor.Zeros(2, 5, 5, 4)
	tensor.Default().Add(e, nn.Tanh().Infer(c2.Infer(a)), c3.Infer(a))
	want := nn.ReLU().Infer(c4.Infer(e)).Data()
	for range 2 {
		closeSlices(t, "graph inference", g.Infer(x).Data(), want, 1e-6)
	}
	closeSlices(t, "the caller's input", x.Data(), xCopy, 0)
}

// TestGraphPrunesDeadNodes: nodes the output does not depend on (a 7×7
// pooling that would panic on a 5×4 input, and a layer above it) do not
// run in Forward, Infer, Backward or Summarize, and leave the output and gradients
// as the graph without them gives; Structure leaves them out.
func TestGraphPrunesDeadNodes(t *testing.T) {
	x := modelcheck.Randn(230, 2, 5, 4, 3)
	ref := testGraph(231)
	g := testGraph(231)
	spy := &spyLayer{Layer: nn.NewDense(3, 2, true, 232)}
	for _, e := range []error{
		g.Add("after.pool", nn.NewMaxPool2D(7, 1, 0), "big", "k"),
		g.Add("after.flat", nn.NewFlatten(), "bf", "big"),
		g.Add("after.fc", spy, "z", "y"),
		g.SetOutput("y"),
	} {
		if e != nil {
			t.Fatal(e)
		}
	}
	nn.SetTraining(ref, true)
	nn.SetTraining(g, true)
	r := modelcheck.Randn(233, 2, 3)
	want, _ := backwardOnce(ref, x, r, true)
	got, _ := backwardOnce(g, x, r, true)
	closeSlices(t, "output", got.y, want.y, 0)
	closeSlices(t, "input gradient", got.dx, want.dx, 0)
	for j := range want.grads {
		closeSlices(t, nn.Parameters(ref)[j].Name, got.grads[j], want.grads[j], 0)
	}
	if spy.backwards != 0 {
		t.Errorf("the node after the output ran backward %d times", spy.backwards)
	}
	closeSlices(t, "Infer", g.Infer(x).Data(), ref.Infer(x).Data(), 0)
	sum, err := nn.Summarize(g, x.Shape())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Layers {
		if strings.HasPrefix(r.Name, "after.") {
			t.Errorf("Summarize ran %s, after the output", r.Name)
		}
	}
	if n := len(g.Nodes()); !g.Runs(n-4) || g.Runs(n-3) || g.Runs(n-1) {
		t.Errorf("Runs: fc %v, after.pool %v, after.fc %v", g.Runs(n-4), g.Runs(n-3), g.Runs(n-1))
	}

	// Cut below the head: the classifier no longer runs.
	if err := g.SetOutput("m"); err != nil {
		t.Fatal(err)
	}
	if s := g.Infer(x).Shape(); !slices.Equal(s, []int{2, 5, 4, 4}) {
		t.Errorf("cut at m: output %v", s)
	}
	l, err := nn.Structure(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range nn.Parameters(l) {
		if strings.HasPrefix(p.Name, "after.") || strings.HasPrefix(p.Name, "fc.") {
			t.Errorf("Structure keeps %s, which the output does not read", p.Name)
		}
	}
}
