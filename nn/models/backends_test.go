package models

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// modelStep runs a training step (Forward, cross-entropy, Backward, an SGD
// step) and an inference of m on x, and returns the logits, a gradient,
// the updated weights of the first convolution and the inference.
func modelStep(m *Model, x *tensor.Tensor) [][]float32 {
	nn.SetTraining(m, true)
	out := m.Forward(x)
	grad := tensor.ZerosLike(out, out.Shape()...)
	nn.CrossEntropy{}.Loss(grad, out, []int{1, 0, 3, 2}, nil)
	m.Backward(grad, false)
	ps := nn.Parameters(m)
	nn.NewSGD(0.9, false, nn.NewGroup(ps, 0.05, 1e-4)).Step()
	nn.SetTraining(m, false)
	inf := m.Infer(x)
	return [][]float32{out.Data(), ps[0].Value.Grad.Data(), ps[0].Value.Value.Data(), inf.Data()}
}

// TestModelOnTwoCPUBackends moves two copies of a model to CPU backends
// of different tiers and runs their training steps and inferences side
// by side in several goroutines: each must compute exactly what it
// computes alone on its backend, every output belongs to its backend,
// and an input of the other backend is refused with both named.
func TestModelOnTwoCPUBackends(t *testing.T) {
	tiers := kernels.TestTiers()
	if len(tiers) < 2 {
		t.Skip("one tier only")
	}
	tiers = []kernels.TestTier{tiers[0], tiers[len(tiers)-1]} // the slowest and the fastest
	var cpus []tensor.CPU
	for _, tt := range tiers {
		cpu, err := tensor.NewCPU(tt.Tier, tt.StandIns)
		if err != nil {
			t.Fatal(err)
		}
		cpus = append(cpus, cpu)
	}
	build := func(cpu tensor.CPU) (*Model, *tensor.Tensor) {
		m := ResNet18CIFAR(Options{Width: 0.125, Classes: 4, Seed: 7})
		nn.MoveTo(m, cpu)
		x := tensor.RandNormal(3, 0, 1, 4, 16, 16, 3)
		x.MoveTo(cpu)
		return m, x
	}
	// what each backend computes alone, one after the other
	want := make([][][]float32, len(cpus))
	for i, cpu := range cpus {
		m, x := build(cpu)
		want[i] = modelStep(m, x)
	}
	// and the process's own tier, on the default backend (when it is the
	// CPU), without moving
	for i, tt := range tiers {
		if _, ok := tensor.Default().(tensor.CPU); !ok || tt.Tier != kernels.Current() || tt.StandIns {
			continue
		}
		got := modelStep(ResNet18CIFAR(Options{Width: 0.125, Classes: 4, Seed: 7}), tensor.RandNormal(3, 0, 1, 4, 16, 16, 3))
		for k := range got {
			if !slices.Equal(got[k], want[i][k]) {
				t.Errorf("output %d: the model on %s differs from the model left on the default backend (the same tier)", k, cpus[i].Name())
			}
		}
	}
	for _, cpu := range cpus {
		m, x := build(cpu)
		if be := m.Infer(x).Backend(); be != tensor.Backend(cpu) {
			t.Errorf("%s: the output is on %s", cpu.Name(), be.Name())
		}
	}
	if same := func() bool {
		for k := range want[0][0] {
			if want[0][0][k] != want[1][0][k] {
				return false
			}
		}
		return true
	}(); same {
		t.Logf("%s and %s give the same logits: the check cannot tell them apart", cpus[0].Name(), cpus[1].Name())
	}
	works := make([]func() [][]float32, len(cpus))
	for i, cpu := range cpus {
		works[i] = func() [][]float32 { m, x := build(cpu); return modelStep(m, x) }
	}
	for _, e := range tensorcheck.SideBySide(2, works, want) {
		t.Error(e)
	}

	m, _ := build(cpus[0])
	_, x := build(cpus[1])
	if _, err := nn.Predict(m, x); err == nil || !strings.Contains(err.Error(), cpus[0].Name()) || !strings.Contains(err.Error(), cpus[1].Name()) {
		t.Errorf("nn.Predict of a model on %s with an input on %s: error %v, want both named", cpus[0].Name(), cpus[1].Name(), err)
	}
	func() {
		defer func() {
			r := recover()
			msg := fmt.Sprint(r)
			if r == nil || !strings.Contains(msg, cpus[0].Name()) || !strings.Contains(msg, cpus[1].Name()) {
				t.Errorf("a model on %s given an input on %s: recovered %q, want both named", cpus[0].Name(), cpus[1].Name(), msg)
			}
		}()
		m.Infer(x)
	}()
}
