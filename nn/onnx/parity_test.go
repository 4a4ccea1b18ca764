package onnx_test

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/onnx"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// The torchvision models exported by testdata/onnx/export.py (run by
// .ci/run) with PyTorch's outputs and gradients beside them.
var torchModels = []string{"resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_0"}

func cacheDir(t testing.TB) string {
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".cache", "graft", "onnx")
	if _, err := os.Stat(filepath.Join(dir, "resnet18_ref.safetensors")); err != nil {
		t.Skipf("no exported models in %s: run /usr/bin/python3 testdata/onnx/export.py", dir)
	}
	return dir
}

func nchwToNHWC(x *safetensors.Tensor) *tensor.Tensor {
	s := x.Shape
	src := tensor.FromSlice(x.F32, s...)
	dst := tensor.Zeros(s[0], s[2], s[3], s[1])
	tensor.NCHWToNHWC(dst, src)
	return dst
}

// relErr is max|got − want| / max|want|.
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / math.Max(m, 1e-30)
}

// readRef reads a model's PyTorch references and imports its export.
func readRef(t *testing.T, dir, name, suffix string) (*safetensors.File, *onnx.Imported) {
	t.Helper()
	ref, err := safetensors.ReadFile(filepath.Join(dir, name+"_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := onnx.Read(filepath.Join(dir, name+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return ref, imp
}

// TestTorchvisionParity: each exported model (BatchNorm folded, as
// models are shipped) gives PyTorch's eval-mode logits within 1e-4.
func TestTorchvisionParity(t *testing.T) {
	dir := cacheDir(t)
	for _, name := range torchModels {
		t.Run(name, func(t *testing.T) {
			ref, imp := readRef(t, dir, name, ".onnx")
			x := nchwToNHWC(ref.Tensors["x"])
			want := ref.Tensors["y_eval"].F32
			y := imp.Graph.Infer(x)
			if e := relErr(y.Data(), want); e > 1e-4 || math.IsNaN(e) {
				t.Errorf("logits differ from PyTorch's: relative error %.3g", e)
			} else {
				t.Logf("relative error %.2g", e)
			}
		})
	}
}

// TestTorchvisionTrainingStep: the training-mode export keeps the
// state_dict names and BatchNorm layers; one training step (batch
// statistics, cross-entropy for labels [1, 3]) gives PyTorch's logits,
// loss and every parameter's gradient.
func TestTorchvisionTrainingStep(t *testing.T) {
	dir := cacheDir(t)
	for _, name := range torchModels {
		t.Run(name, func(t *testing.T) {
			ref, imp := readRef(t, dir, name, "_train.onnx")
			g := imp.Graph
			nn.SetTraining(g, true)
			nn.Walk(g, func(_ string, l nn.Layer) {
				if d, ok := l.(*nn.Dropout); ok {
					d.SetTraining(false) // as the reference step
				}
			})
			x := nchwToNHWC(ref.Tensors["x"])
			y := g.Forward(x)
			if e := relErr(y.Data(), ref.Tensors["y_train"].F32); e > 1e-4 {
				t.Errorf("training-mode logits: relative error %.3g", e)
			}
			grad := tensor.Zeros(y.Shape()...)
			loss := tensor.Default().SoftmaxCrossEntropy(grad, y, []int{1, 3}, 0)
			if e := math.Abs(float64(loss)-float64(ref.Tensors["loss"].F32[0])) / float64(ref.Tensors["loss"].F32[0]); e > 1e-4 {
				t.Errorf("loss %v, PyTorch %v", loss, ref.Tensors["loss"].F32[0])
			}
			g.Backward(grad, false)
			params := map[string]*nn.Param{}
			for _, p := range nn.Parameters(g) {
				params[p.Name] = p.Value
			}
			var names []string
			for k := range ref.Tensors {
				if len(k) > 5 && k[:5] == "grad." {
					names = append(names, k[5:])
				}
			}
			sort.Strings(names)
			// the reference is PyTorch's step in float64; graft's float32
			// error on each gradient must be within 1e-4 of it, or within
			// four times PyTorch's own float32 error where a training-mode
			// BatchNorm over few values amplifies rounding beyond that
			worst, worstName, over := 0.0, "", 0
			for _, k := range names {
				p, ok := params[k]
				if !ok {
					t.Errorf("no parameter %q in the import", k)
					continue
				}
				want := ref.Tensors["grad."+k].F32
				e := relErr(p.Grad.Data(), want)
				torchErr := float64(ref.Tensors["torch_err."+k].F32[0])
				if e > worst || math.IsNaN(e) {
					worst, worstName = e, k
				}
				if tol := math.Max(1e-4, 4*torchErr); e > tol || math.IsNaN(e) {
					t.Errorf("gradient of %s: relative error %.3g, PyTorch float32's %.3g", k, e, torchErr)
				}
				if e > 1e-4 {
					over++
				}
			}
			if len(params) != len(names) {
				t.Errorf("%d parameters imported, PyTorch has %d", len(params), len(names))
			}
			t.Logf("%d gradients, worst relative error %.2g (%s); %d beyond 1e-4", len(names), worst, worstName, over)
		})
	}
}
