package nn

import (
	"runtime"
	"slices"
	"testing"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// onHostCPU moves g's layers and the tensors to a CPU backend of the
// process's tier: what splits and fuses runs on the CPU, and the default
// backend may be a GPU (GRAFT_DEVICE=cuda).
func onHostCPU(t *testing.T, g Layer, xs ...*tensor.Tensor) tensor.CPU {
	t.Helper()
	be, err := tensor.NewCPU(kernels.Current(), false)
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		MoveTo(g, be)
	}
	for _, x := range xs {
		x.MoveTo(be)
	}
	return be
}

// splitNet is a small CNN over 60×60 inputs: a stem and a residual block
// at 60×60 (the block's addition the smallest value every later node reads
// alone), then a stride-2 convolution to 30×30 (below splitMinPixels), a
// pooled head.
func splitNet(t *testing.T) *Graph {
	t.Helper()
	g := NewGraph("x")
	err := firstErr(
		g.Add("stem", NewConv2D(3, 8, 3, ConvOpts{Padding: 1, Bias: true}, 1), "s", "x"),
		g.Add("stem_relu", ReLU(), "sr", "s"),
		g.Add("expand", NewConv2D(8, 16, 1, ConvOpts{Bias: true}, 2), "e", "sr"),
		g.Add("dw", NewConv2D(16, 16, 3, ConvOpts{Padding: 1, Groups: 16, Bias: true}, 3), "d", "e"),
		g.Add("dw_clip", NewClip(0, 6), "dc", "d"),
		g.Add("project", NewConv2D(16, 8, 1, ConvOpts{Bias: true}, 4), "p", "dc"),
		g.Add("add", NewBinary(OpAdd), "a", "p", "sr"),
		g.Add("down", NewConv2D(8, 12, 3, ConvOpts{Stride: 2, Padding: 1, Bias: true}, 5), "dn", "a"),
		g.Add("down_relu", ReLU(), "dr", "dn"),
		g.Add("pool", NewGlobalAvgPool(), "gp", "dr"),
		g.Add("flat", NewFlatten(), "f", "gp"),
		g.Add("fc", NewDense(12, 5, true, 6), "y", "f"))
	if err == nil {
		err = g.SetOutput("y")
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestInferSplitMatchesWhole runs a batch through a Graph split (its
// 60×60 part an example at a time) and whole: the results are the same
// bit for bit, at 1 thread and inside 2-thread chunks (InferChunk), on
// every call (the split's buffers reused), and for a batch of another size
// and an input of another shape (the split planned again).
func TestInferSplitMatchesWhole(t *testing.T) {
	defer func(s bool, c int) { InferSplit, InferChunk = s, c }(InferSplit, InferChunk)
	g := splitNet(t)
	be := onHostCPU(t, g)
	for _, threads := range []int{1, 2} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
			InferChunk = 0
			if threads > 1 {
				InferChunk = 3 // chunks of 3 on the threads, each split
			}
			for _, shape := range [][]int{{7, 60, 60, 3}, {2, 60, 60, 3}, {5, 64, 58, 3}} {
				x := tensor.RandNormal(uint64(shape[0]), 0, 1, shape...)
				x.MoveTo(be)
				InferSplit = false
				want := g.Infer(x).Data()
				InferSplit = true
				for call := 0; call < 3; call++ {
					if got := g.Infer(x).Data(); !slices.Equal(got, want) {
						t.Fatalf("%d threads, input %v, call %d: split %v, want %v", threads, shape, call, got, want)
					}
				}
			}
		}()
	}
	x := tensor.Zeros(1, 64, 58, 3)
	x.MoveTo(be)
	if sp := g.plan(x); sp == nil || sp.prefix == nil {
		t.Fatal("no split planned for a 64×58 input")
	}
}

// TestSplitPoint checks where Graphs split: at the smallest value that
// every later node reads alone (not inside the residual block, whose skip
// is still open), before the first small feature map; nowhere when the
// first maps are already small, when a layer mixes the batch, or when the Graph's output comes before the first small map.
func TestSplitPoint(t *testing.T) {
	defer func(s bool) { InferSplit = s }(InferSplit)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	InferSplit = true
	cutAt := func(g *Graph, shape ...int) string {
		t.Helper()
		x := tensor.RandNormal(1, 0, 1, shape...)
		onHostCPU(t, g, x)
		g.Infer(x)
		sp := g.plan(x)
		if sp == nil || sp.prefix == nil {
			return ""
		}
		if sp.prefix.Output() != sp.suffix.Input() {
			t.Fatalf("prefix ends at %q, suffix starts at %q", sp.prefix.Output(), sp.suffix.Input())
		}
		return sp.prefix.Output()
	}
	g := splitNet(t)
	if got := cutAt(g, 2, 60, 60, 3); got != "a" {
		t.Errorf("60×60: split at %q, want the residual addition %q", got, "a")
	}
	if got := cutAt(g, 2, 40, 40, 3); got != "" {
		t.Errorf("40×40 (below splitMinPixels): split at %q, want none", got)
	}
	if err := g.SetOutput("a"); err != nil {
		t.Fatal(err)
	}
	if got := cutAt(g, 2, 60, 60, 3); got != "sr" {
		t.Errorf("output at the addition: split at %q, want the stem's %q", got, "sr")
	}
	if err := g.SetOutput("sr"); err != nil {
		t.Fatal(err)
	}
	if got := cutAt(g, 2, 60, 60, 3); got != "" {
		t.Errorf("output at the stem: split at %q, want none", got)
	}
	mixed := NewGraph("x")
	err := firstErr(
		mixed.Add("conv", NewConv2D(3, 4, 3, ConvOpts{Padding: 1}, 1), "c", "x"),
		mixed.Add("relu", ReLU(), "r", "c"),
		mixed.Add("conv2", NewConv2D(4, 4, 3, ConvOpts{Padding: 1}, 1), "c2", "r"),
		mixed.Add("reshape", NewReshape(2, -1), "y", "c2"))
	if err == nil {
		err = mixed.SetOutput("y")
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := cutAt(mixed, 2, 60, 60, 3); got != "" {
		t.Errorf("a Reshape fixing the batch: split at %q, want none", got)
	}
}

// TestThreadChunk checks the chunks the default gives a Graph's batch of
// 32 on 2 threads: one of 16 a thread while a chunk's largest value fits
// L3/4, chunks of 8 (two a thread) when only they fit, and never fewer
// than inferChunkMin examples.
func TestThreadChunk(t *testing.T) {
	defer func(c int) { InferChunk = c }(InferChunk)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	InferChunk = 0
	budget := kernels.CacheSizes().L3 / 4 // L3/(2T) at T = 2
	net := func(c int) *Graph {
		g := NewGraph("x")
		err := g.Add("pw", NewConv2D(3, c, 1, ConvOpts{}, 1), "y", "x")
		if err == nil {
			err = g.SetOutput("y")
		}
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	x := tensor.Zeros(32, 8, 8, 3)
	onHostCPU(t, nil, x)
	for _, tc := range []struct {
		examples float64 // of the largest value that fit the budget
		want     int
	}{{64, 16}, {12, 8}, {4, 8}} {
		c := int(float64(budget)/(tc.examples*64*4)) + 1
		g := net(c)
		onHostCPU(t, g)
		if got := chunkFor(g, x); got != tc.want {
			t.Errorf("%d channels of 8×8 (%.0f examples fit L3/4): chunks of %d, want %d", c, tc.examples, got, tc.want)
		}
	}
}

// TestInferDWPW runs MobileNet blocks through a Graph on one thread,
// where they run as one fused call (a depthwise and a pointwise
// convolution, and the expansion before them on maps of at least
// irMinPixels), and layer by layer: the same results bit for bit, for
// stride 1 and 2, with and without each activation, maps above and below
// irMinPixels, and when another node also reads the depthwise output (no
// fusion).
func TestInferDWPW(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		stride             int
		expand, clip, relu bool
		h, w               int
		shareOutput        bool
	}{
		{1, false, true, false, 19, 17, false}, {2, false, true, true, 19, 17, false}, {1, false, false, false, 19, 17, false},
		{2, false, false, true, 19, 17, false}, {1, false, true, false, 19, 17, true},
		{1, true, true, false, 30, 29, false}, {2, true, true, true, 31, 33, false}, {1, true, false, false, 29, 28, false},
		{1, true, true, false, 19, 17, false}, {2, true, true, false, 30, 29, true}, {1, true, true, false, 6, 5, false}, {1, true, true, false, 7, 7, false},
	} {
		cin := 24
		var expand *Conv2D
		if tc.expand {
			cin = 8
			expand = NewConv2D(cin, 24, 1, ConvOpts{Bias: true}, 3)
		}
		dw := NewConv2D(24, 24, 3, ConvOpts{Stride: tc.stride, Padding: 1, Groups: 24, Bias: true}, 1)
		pw := NewConv2D(24, 16, 1, ConvOpts{Bias: true}, 2)
		eclip, clip, relu := NewClip(0, 6), NewClip(0, 6), ReLU()
		g := NewGraph("x")
		var errs []error
		in := "x"
		if tc.expand {
			errs = append(errs, g.Add("expand", expand, "e", "x"), g.Add("eclip", eclip, "ec", "e"))
			in = "ec"
		}
		errs = append(errs, g.Add("dw", dw, "d", in))
		in = "d"
		if tc.clip {
			errs = append(errs, g.Add("clip", clip, "dc", "d"))
			in = "dc"
		}
		errs = append(errs, g.Add("pw", pw, "p", in))
		out := "p"
		if tc.relu {
			errs = append(errs, g.Add("relu", relu, "pr", "p"))
			out = "pr"
		}
		if tc.shareOutput {
			errs = append(errs, g.Add("pool", NewGlobalAvgPool(), "gp", in), g.Add("flat", NewFlatten(), "f", "gp"),
				g.Add("pw_flat", NewFlatten(), "pf", out), g.Add("cat", NewConcatN(1), "cat", "pf", "f"))
			out = "cat"
		}
		errs = append(errs, g.SetOutput(out))
		if err := firstErr(errs...); err != nil {
			t.Fatal(err)
		}
		x := tensor.RandNormal(3, 0, 2, 3, tc.h, tc.w, cin)
		onHostCPU(t, g, x)
		got := g.Infer(x).Data()
		y := x
		if tc.expand {
			y = eclip.Infer(expand.Infer(y))
		}
		y = dw.Infer(y)
		if tc.clip {
			y = clip.Infer(y)
		}
		side := y
		y = pw.Infer(y)
		if tc.relu {
			y = relu.Infer(y)
		}
		if tc.shareOutput {
			f := NewFlatten().Infer(NewGlobalAvgPool().Infer(side))
			y = NewConcatN(1).InferN([]*tensor.Tensor{NewFlatten().Infer(y), f})
		}
		if want := y.Data(); !slices.Equal(got, want) {
			t.Errorf("%+v: fused inference differs from the layers run one by one", tc)
		}
	}
}

// TestInferSplitOnPlacedBackend runs a batch placed on a backend other
// than the default one (the generic tier) split on one thread and in
// chunks on two: every part of it runs on that backend, so the results
// equal the whole batch's on it, bit for bit.
func TestInferSplitOnPlacedBackend(t *testing.T) {
	defer func(s bool, c int) { InferSplit, InferChunk = s, c }(InferSplit, InferChunk)
	be, err := tensor.NewCPUWith(kernels.Generic, tensor.CPUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := splitNet(t)
	MoveTo(g, be)
	x := tensor.RandNormal(5, 0, 1, 4, 60, 60, 3)
	x.MoveTo(be)
	for _, threads := range []int{1, 2} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
			InferSplit, InferChunk = false, -1
			want := g.Infer(x).Data()
			InferSplit, InferChunk = true, 0
			if threads > 1 {
				InferChunk = 2
			}
			if got := g.Infer(x).Data(); !slices.Equal(got, want) {
				t.Errorf("%d threads: split/chunked inference on the generic tier differs from the whole batch's", threads)
			}
		}()
	}
}
