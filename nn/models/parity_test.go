package models

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// parityCase is one PyTorch fixture of testdata/parity (written by gen.py
// there): seeded weights, a batch, and what PyTorch computed from them.
type parityCase struct {
	file  string
	build func() *Model
	optim []string
}

var parityCases = []parityCase{
	{"lenet5.safetensors", func() *Model { return LeNet5(Options{}) }, []string{"sgd", "sgdn", "adam", "adamw"}},
	{"resnet18cifar_w8.safetensors", func() *Model { return ResNet18CIFAR(Options{Width: 0.125}) }, []string{"sgd", "adamw"}},
}

func loadFixture(t *testing.T, file string) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join("..", "..", "testdata", "parity", file))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// withPrefix returns the fixture's tensors under prefix, renamed without it.
func withPrefix(f *safetensors.File, prefix string) map[string]*safetensors.Tensor {
	out := map[string]*safetensors.Tensor{}
	for k, v := range f.Tensors {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			out[name] = v
		}
	}
	return out
}

func nhwcInput(f *safetensors.File) (*tensor.Tensor, []int) {
	in := f.Tensors["input"]
	x := tensor.FromSlice(in.F32, in.Shape...)
	s := in.Shape
	xh := tensor.Zeros(s[0], s[2], s[3], s[1])
	tensor.NCHWToNHWC(xh, x)
	labels := make([]int, len(f.Tensors["labels"].I64))
	for i, v := range f.Tensors["labels"].I64 {
		labels[i] = int(v)
	}
	return xh, labels
}

func buildLoaded(t *testing.T, c parityCase, f *safetensors.File) *Model {
	t.Helper()
	m := c.build()
	if _, err := nn.LoadState(withPrefix(f, "param."), m, nn.LoadOptions{}); err != nil {
		t.Fatalf("%s: loading torch's state_dict: %v", c.file, err)
	}
	return m
}

// TestTorchParity checks logits, loss, every parameter gradient, the
// BatchNorm running statistics and two optimizer steps against PyTorch
// 1.13 on every kernel tier.
func TestTorchParity(t *testing.T) {
	tensortest.ForEachBackend(t, func(t *testing.T, cpu tensor.Backend) {
		t.Parallel()
		for _, c := range parityCases {
			t.Run(strings.TrimSuffix(c.file, ".safetensors"), func(t *testing.T) {
				f := loadFixture(t, c.file)
				x, labels := nhwcInput(f)
				x.MoveTo(cpu)
				tol := 1e-4

				m := buildLoaded(t, c, f)
				nn.MoveTo(m, cpu) // the model runs on its input's backend: this tier
				nn.SetTraining(m, false)
				tensorcheck.CloseTo(t, "eval logits", m.Infer(x).Data(), f.Tensors["eval_logits"].F32, tol)
				tensorcheck.CloseTo(t, "eval logits (Forward)", m.Forward(x).Data(), f.Tensors["eval_logits"].F32, tol)

				nn.SetTraining(m, true)
				out := m.Forward(x)
				tensorcheck.CloseTo(t, "logits", out.Data(), f.Tensors["logits"].F32, tol)
				grad := tensor.Zeros(out.Shape()...)
				loss := nn.CrossEntropy{}.Loss(grad, out, labels, nil)
				tensorcheck.CloseTo(t, "loss", []float32{loss}, f.Tensors["loss"].F32, tol)
				m.Backward(grad, false)
				for _, p := range nn.Parameters(m) {
					want, ok := f.Tensors["grad."+p.Name]
					if !ok {
						t.Fatalf("fixture has no grad.%s", p.Name)
					}
					tensorcheck.CloseTo(t, "grad "+p.Name, p.Value.Grad.Data(), want.F32, tol)
				}
				for _, b := range nn.Buffers(m) {
					want, ok := f.Tensors["after_forward."+b.Name]
					if !ok {
						continue
					}
					if b.Value.Int {
						if got := int64(b.Value.Value.Data()[0]); got != want.I64[0] {
							t.Errorf("%s = %d, torch %d", b.Name, got, want.I64[0])
						}
						continue
					}
					tensorcheck.CloseTo(t, "buffer "+b.Name, b.Value.Value.Data(), want.F32, tol)
				}

				var hyper map[string]any
				if err := json.Unmarshal([]byte(f.Metadata["hyper"]), &hyper); err != nil {
					t.Fatal(err)
				}
				for _, opt := range c.optim {
					m := buildLoaded(t, c, f)
					nn.SetTraining(m, true)
					o := newOptimizer(t, opt, nn.Parameters(m))
					for step := 0; step < 2; step++ {
						out := m.Forward(x)
						g := tensor.Zeros(out.Shape()...)
						nn.CrossEntropy{}.Loss(g, out, labels, nil)
						m.Backward(g, false)
						o.Step()
					}
					for _, p := range nn.Parameters(m) {
						got, want := p.Value.Value.Data(), f.Tensors[opt+"."+p.Name].F32
						if strings.HasPrefix(opt, "adam") {
							got, want = wellConditioned(got, want, f.Tensors["grad."+p.Name].F32)
						}
						tensorcheck.CloseTo(t, opt+" step 2 "+p.Name, got, want, tol)
					}
				}
			})
		}
	})
}

// wellConditioned drops the elements whose first gradient is below
// 1e-5 of the tensor's largest: there Adam's step m/(√v + eps) is the
// sign of float32 rounding noise times the rate (a gradient of 1.6e-8 next
// to one of 0.067 moves by ±lr depending on the last bit of a sum), so
// neither graft nor PyTorch is more right than the other.
func wellConditioned(got, want, grad []float32) (g, w []float32) {
	var gmax float64
	for _, v := range grad {
		gmax = math.Max(gmax, math.Abs(float64(v)))
	}
	for i := range got {
		if math.Abs(float64(grad[i])) >= 1e-5*gmax {
			g, w = append(g, got[i]), append(w, want[i])
		}
	}
	return g, w
}

// newOptimizer builds the optimizers gen.py ran, with its hyperparameters.
func newOptimizer(t *testing.T, name string, params []nn.Named[*nn.Param]) nn.Optimizer {
	switch name {
	case "sgd":
		return nn.NewSGD(0.9, false, nn.NewGroup(params, 0.1, 5e-4))
	case "sgdn":
		return nn.NewSGD(0.9, true, nn.NewGroup(params, 0.1, 5e-4))
	case "adam":
		return nn.NewAdam(nn.NewGroup(params, 1e-3, 1e-4))
	case "adamw":
		return nn.NewAdamW(nn.NewGroup(params, 1e-3, 0.01))
	}
	t.Fatalf("unknown optimizer %s", name)
	return nil
}
