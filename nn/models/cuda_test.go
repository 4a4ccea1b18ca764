package models

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/cudatest"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// The CUDA backend under whole models: a few SGD-momentum training steps
// on the GPU (or the CUDA emulator) must give the losses and parameters
// the CPU gives, and a step must copy only the batch in and the loss out.

// gpuModels are the models trained on the GPU: small enough for the
// emulator, and covering every layer of the benchmark models.
var gpuModels = []struct {
	name, key string // key names the run; "frozen" freezes the stem and every BatchNorm's statistics
	opt       Options
	batch     int
}{
	{"lenet5", "lenet5", Options{Seed: 3}, 4},
	{"mnistcnn", "mnistcnn", Options{Seed: 3, Width: 0.25}, 3},
	{"resnet18cifar", "resnet18cifar", Options{Seed: 3, Width: 0.125, Size: 16}, 2},
	{"resnet18cifar", "resnet18cifar-frozen", Options{Seed: 3, Width: 0.125, Size: 16}, 2},
}

// trainRun is what a few training steps gave.
type trainRun struct {
	Losses []float32
	Params map[string][]float32
	// Copies of the last step: up, bytes up, down, bytes down.
	Copies [4]int64
}

// trainSteps runs steps SGD-momentum training steps of a model, moved to
// be (nil: the default backend), on a random batch that it writes again
// before every step, as a data loader does. With frozen, the stem's
// parameters are frozen and every BatchNorm normalises by its running
// statistics (fine-tuning's usual setting).
func trainSteps(t *testing.T, be tensor.Backend, name string, o Options, batch, steps int, frozen bool) trainRun {
	m, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	if be != nil {
		nn.MoveTo(m, be)
	}
	stats := func() tensor.GPUStats {
		if c, ok := be.(tensor.CUDA); ok {
			return c.Stats()
		}
		return tensor.GPUStats{}
	}
	if frozen {
		nn.Walk(m, func(name string, l nn.Layer) {
			if bn, ok := l.(*nn.BatchNorm); ok {
				bn.FreezeStats = true
			}
			if name == "conv1" || name == "bn1" {
				nn.SetTrainable(l, false)
			}
		})
	}
	src := tensor.RandNormal(7, 0, 1, append([]int{batch}, m.InputShape...)...).Data()
	x := tensor.Zeros(append([]int{batch}, m.InputShape...)...)
	if be != nil {
		x.MoveTo(be)
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = (3 * i) % m.Options.Classes
	}
	opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.05, 1e-4))
	nn.SetTraining(m, true)
	var grad *tensor.Tensor
	var run trainRun
	for s := 0; s < steps; s++ {
		before := stats()
		copy(x.Data(), src)
		out := m.Forward(x)
		if grad == nil {
			grad = tensor.ZerosLike(out, out.Shape()...)
		}
		run.Losses = append(run.Losses, nn.CrossEntropy{}.Loss(grad, out, labels, nil))
		m.Backward(grad, false)
		opt.Step()
		after := stats()
		run.Copies = [4]int64{after.HostToDevice - before.HostToDevice, after.HostToDeviceBytes - before.HostToDeviceBytes,
			after.DeviceToHost - before.DeviceToHost, after.DeviceToHostBytes - before.DeviceToHostBytes}
	}
	run.Params = map[string][]float32{}
	for _, p := range nn.Parameters(m) {
		run.Params[p.Name] = p.Value.Value.Data()
	}
	return run
}

const trainStepsRun = 3

// TestCUDATrainStep trains the models on a CUDA backend (a GPU, or the
// emulator where GRAFT_CUDAEMU_LIB names it), checks the copies of a step,
// and compares the losses and parameters with the CPU's.
func TestCUDATrainStep(t *testing.T) {
	c := cudatest.Open(t, "nn/models", func(lib string) (tensor.CUDA, error) {
		return tensor.NewCUDAWith(tensor.CUDAOptions{Library: lib})
	})
	t.Log(c.Name())
	for _, gm := range gpuModels {
		got := trainSteps(t, c, gm.name, gm.opt, gm.batch, trainStepsRun, gm.key != gm.name)
		m, _ := New(gm.name, gm.opt)
		inBytes := int64(4*gm.batch*numel(m.InputShape) + 4*gm.batch)
		if want := [4]int64{2, inBytes, 1, 4}; got.Copies != want {
			t.Errorf("%s: a training step copied %d up (%d bytes) and %d down (%d bytes); want the batch and labels up (2, %d bytes) and the loss down (1, 4 bytes)",
				gm.key, got.Copies[0], got.Copies[1], got.Copies[2], got.Copies[3], inBytes)
		}
		t.Logf("%s: losses %v; last step's copies %v", gm.key, got.Losses, got.Copies)
		want := trainSteps(t, tensor.CPU{}, gm.name, gm.opt, gm.batch, trainStepsRun, gm.key != gm.name)
		if len(got.Losses) != len(want.Losses) {
			t.Fatalf("%s: %d losses on the GPU, %d on the CPU", gm.key, len(got.Losses), len(want.Losses))
		}
		for i := range want.Losses {
			if d := math.Abs(float64(got.Losses[i] - want.Losses[i])); d > 1e-4*math.Abs(float64(want.Losses[i]))+1e-6 {
				t.Errorf("%s: step %d loss %v on the GPU, %v on the CPU", gm.key, i+1, got.Losses[i], want.Losses[i])
			}
		}
		worst, where := 0.0, ""
		for name, w := range want.Params {
			g := got.Params[name]
			if len(g) != len(w) {
				t.Fatalf("%s: %s has %d values on the GPU, %d on the CPU", gm.key, name, len(g), len(w))
			}
			var scale float64
			for _, v := range w {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for i := range w {
				if d := math.Abs(float64(g[i]-w[i])) / max(scale, 1e-6); d > worst || math.IsNaN(d) {
					worst, where = d, name
				}
			}
		}
		if worst > 1e-4 || math.IsNaN(worst) {
			t.Errorf("%s: parameters after %d steps differ by %.3g of their largest value (%s)", gm.key, trainStepsRun, worst, where)
		}
		t.Logf("%s: losses %v on the CPU; parameters within %.2g of the GPU's", gm.key, want.Losses, worst)
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// randomSet is a Dataset of random images.
type randomSet struct {
	n       int
	shape   []int
	classes int
}

func (d randomSet) Len() int            { return d.n }
func (d randomSet) ExampleShape() []int { return d.shape }
func (d randomSet) NumClasses() int     { return d.classes }
func (d randomSet) Load(x []float32, labels []int, idx []int) error {
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i, j := range idx {
		labels[i] = j % d.classes
	}
	return nil
}

// TestCUDAOutOfMemory trains a model too large for the device memory of a
// CUDA backend with 1 MB (MemoryLimit): Fit must return the failure as an
// error wrapping *tensor.DeviceError, not panic; so must Predict and
// Summarize at inference on a batch too large.
func TestCUDAOutOfMemory(t *testing.T) {
	c := cudatest.Open(t, "nn/models", func(lib string) (tensor.CUDA, error) {
		return tensor.NewCUDAWith(tensor.CUDAOptions{Library: lib, MemoryLimit: 1000000})
	})
	m, err := New("lenet5", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	nn.MoveTo(m, c)
	_, err = nn.Fit(context.Background(), m, randomSet{n: 512, shape: m.InputShape, classes: 10}, nil, nn.FitOptions{BatchSize: 512})
	var de *tensor.DeviceError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("Fit with too little device memory returned %v, want a *tensor.DeviceError for CUDA_ERROR_OUT_OF_MEMORY", err)
	}
	t.Log(err)
	// inference too: Predict and Summarize return the failure
	x := tensor.ZerosOn(c, append([]int{512}, m.InputShape...)...)
	if _, err := nn.Predict(m, x); !errors.As(err, &de) || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Errorf("Predict with too little device memory returned %v, want a *tensor.DeviceError", err)
	}
	if _, err := nn.Summarize(m, x.Shape()); !errors.As(err, &de) {
		t.Errorf("Summarize with too little device memory returned %v, want a *tensor.DeviceError", err)
	}
}
