package tfjs_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

// TestLoadModel: Load gives a transferable model: the softmax dropped
// (the model's outputs are the graph's logits), the last Dense as the
// head, groups by resolution with the head last, the file's input shape
// and the options' normalisation; a cut gives a headless trunk, and bad
// options are errors.
func TestLoadModel(t *testing.T) {
	path := fixture("grey", "model.json")
	imp, err := tfjs.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tfjs.Load(path, tfjs.Options{Mean: []float32{0.5}, Std: []float32{0.25}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.InputShape, []int{28, 28, 1}) || !slices.Equal(m.Head, []string{"d"}) || m.Options.Classes != 10 {
		t.Errorf("input %v, head %v, classes %d", m.InputShape, m.Head, m.Options.Classes)
	}
	if g := m.Groups; len(g) < 2 || !slices.Equal(g[len(g)-1], []string{"d"}) {
		t.Errorf("groups %v, want the head last", g)
	}
	if m.Mean[0] != 0.5 || m.Std[0] != 0.25 || !strings.HasPrefix(m.Extra["graft_source"], "tfjs") {
		t.Errorf("mean %v, std %v, source %q", m.Mean, m.Std, m.Extra["graft_source"])
	}
	x := tensor.RandUniform(2, 0, 1, 2, 28, 28, 1)
	nn.SetTraining(m, false)
	nn.SetTraining(imp.Graph, false)
	logits := m.Infer(x).Data()
	probs := imp.Graph.Infer(x).Data()
	for i := range 2 {
		var sum float64
		for _, v := range logits[10*i : 10*i+10] {
			sum += math.Exp(float64(v))
		}
		for j := range 10 {
			want := math.Exp(float64(logits[10*i+j])) / sum
			if math.Abs(want-float64(probs[10*i+j])) > 1e-5 {
				t.Fatalf("softmax(model) %v ≠ the file's output %v", logits, probs)
			}
		}
	}

	cut, err := imp.Model(tfjs.Options{Output: "bn", Height: 8, Width: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(cut.Head) != 0 || !slices.Equal(cut.InputShape, []int{8, 10, 1}) {
		t.Errorf("cut at bn: head %v, input %v", cut.Head, cut.InputShape)
	}
	if s := cut.Infer(tensor.Zeros(1, 8, 10, 1)).Shape(); !slices.Equal(s, []int{1, 8, 10, 4}) {
		t.Errorf("cut at bn: output %v", s)
	}
	for _, c := range []struct {
		o    tfjs.Options
		want string
	}{
		{tfjs.Options{Output: "nope"}, "no layer"},
		{tfjs.Options{Mean: []float32{0, 0, 0}}, "channels"},
		{tfjs.Options{Std: []float32{0}}, "positive"},
		{tfjs.Options{Height: -1}, "input size"},
	} {
		if _, err := tfjs.Load(path, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%+v) = %v, want %q", c.o, err, c.want)
		}
	}
}

// TestBatchNormMomentum: Keras's momentum 0.99 (running = 0.99·running
// + 0.01·batch) becomes graft's (PyTorch's) 0.01, so one training-mode
// forward moves the running statistics as Keras would: the mean by the
// batch mean, the variance by the batch's unbiased variance (what TF's
// fused batch norm returns for the moving average).
func TestBatchNormMomentum(t *testing.T) {
	imp, err := tfjs.Read(fixture("grey", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bn *nn.BatchNorm
	for _, n := range imp.Graph.Nodes() {
		if b, ok := n.Layer.(*nn.BatchNorm); ok {
			bn = b
		}
	}
	if bn == nil {
		t.Fatal("no BatchNorm imported")
	}
	mean0 := slices.Clone(bn.RunningMean.Value.Data())
	var0 := slices.Clone(bn.RunningVar.Value.Data())
	x := tensor.RandNormal(3, 1, 2, 4, 3, 3, 4)
	bn.SetTraining(true)
	bn.Forward(x)
	const keras = 0.99
	n := 4 * 3 * 3
	for c := range 4 {
		var s, ss float64
		for i := range n {
			s += float64(x.Data()[4*i+c])
		}
		mu := s / float64(n)
		for i := range n {
			d := float64(x.Data()[4*i+c]) - mu
			ss += d * d
		}
		wantMean := keras*float64(mean0[c]) + (1-keras)*mu
		wantVar := keras*float64(var0[c]) + (1-keras)*ss/float64(n-1)
		if got := float64(bn.RunningMean.Value.Data()[c]); math.Abs(got-wantMean) > 1e-5 {
			t.Errorf("channel %d: running mean %v, Keras %v", c, got, wantMean)
		}
		if got := float64(bn.RunningVar.Value.Data()[c]); math.Abs(got-wantVar) > 1e-5 {
			t.Errorf("channel %d: running variance %v, Keras %v", c, got, wantVar)
		}
	}
}
