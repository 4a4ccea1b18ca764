package tfjs_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

// small writes a Keras Sequential (Conv2D 3×3 of 2 filters over 6×6
// grey images, BatchNormalization of momentum 0.9, a global average
// pooling and a Dense of 3 units with a softmax) saved for TF.js, and
// returns its model.json's path.
func small(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	js := `{"format":"layers-model","modelTopology":{"keras_version":"tfjs-layers 4.22.0","model_config":{"class_name":"Sequential","config":{"name":"small","layers":[
	{"class_name":"Conv2D","config":{"name":"c","filters":2,"kernel_size":[3,3],"strides":[1,1],"padding":"same","activation":"relu","use_bias":true,"batch_input_shape":[null,6,6,1]}},
	{"class_name":"BatchNormalization","config":{"name":"bn","axis":-1,"momentum":0.9,"epsilon":0.001}},
	{"class_name":"GlobalAveragePooling2D","config":{"name":"gap"}},
	{"class_name":"Dense","config":{"name":"d","units":3,"activation":"softmax","use_bias":true}}]}}},
	"weightsManifest":[{"paths":["w.bin"],"weights":[
	{"name":"c/kernel","shape":[3,3,1,2],"dtype":"float32"},{"name":"c/bias","shape":[2],"dtype":"float32"},
	{"name":"bn/gamma","shape":[2],"dtype":"float32"},{"name":"bn/beta","shape":[2],"dtype":"float32"},
	{"name":"bn/moving_mean","shape":[2],"dtype":"float32"},{"name":"bn/moving_variance","shape":[2],"dtype":"float32"},
	{"name":"d/kernel","shape":[2,3],"dtype":"float32"},{"name":"d/bias","shape":[3],"dtype":"float32"}]}]}`
	vals := tensor.RandNormal(1, 0, 0.5, 37).Data()
	vals[24], vals[25] = 1.5, 0.7 // moving variances: positive
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "model.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadModel: Load gives a transferable model: the softmax dropped
// (the model's outputs are the graph's logits), the last Dense as the
// head, groups by resolution with the head last, the file's input shape
// and the options' normalisation; a cut gives a headless trunk, and bad
// options are errors.
func TestLoadModel(t *testing.T) {
	path := small(t)
	imp, err := tfjs.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tfjs.Load(path, tfjs.Options{Mean: []float32{0.5}, Std: []float32{0.25}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.InputShape, []int{6, 6, 1}) || !slices.Equal(m.Head, []string{"d"}) || m.Options.Classes != 3 {
		t.Errorf("input %v, head %v, classes %d", m.InputShape, m.Head, m.Options.Classes)
	}
	if g := m.Groups; len(g) < 2 || !slices.Equal(g[len(g)-1], []string{"d"}) {
		t.Errorf("groups %v, want the head last", g)
	}
	if m.Mean[0] != 0.5 || m.Std[0] != 0.25 || !strings.HasPrefix(m.Extra["graft_source"], "tfjs") {
		t.Errorf("mean %v, std %v, source %q", m.Mean, m.Std, m.Extra["graft_source"])
	}
	x := tensor.RandUniform(2, 0, 1, 2, 6, 6, 1)
	nn.SetTraining(m, false)
	nn.SetTraining(imp.Graph, false)
	logits := m.Infer(x).Data()
	probs := imp.Graph.Infer(x).Data()
	for i := range 2 {
		var sum float64
		for _, v := range logits[3*i : 3*i+3] {
			sum += math.Exp(float64(v))
		}
		for j := range 3 {
			want := math.Exp(float64(logits[3*i+j])) / sum
			if math.Abs(want-float64(probs[3*i+j])) > 1e-5 {
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
	if s := cut.Infer(tensor.Zeros(1, 8, 10, 1)).Shape(); !slices.Equal(s, []int{1, 8, 10, 2}) {
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

// TestBatchNormMomentum: Keras's momentum 0.9 (running = 0.9·running +
// 0.1·batch) becomes graft's (PyTorch's) 0.1, so one training-mode
// forward moves the running statistics as Keras would: the mean by the
// batch mean, the variance by the batch's unbiased variance (what TF's
// fused batch norm returns for the moving average).
func TestBatchNormMomentum(t *testing.T) {
	imp, err := tfjs.Read(small(t))
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
	x := tensor.RandNormal(3, 1, 2, 4, 3, 3, 2)
	bn.SetTraining(true)
	bn.Forward(x)
	const keras = 0.9
	n := 4 * 3 * 3
	for c := range 2 {
		var s, ss float64
		for i := range n {
			s += float64(x.Data()[2*i+c])
		}
		mu := s / float64(n)
		for i := range n {
			d := float64(x.Data()[2*i+c]) - mu
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
