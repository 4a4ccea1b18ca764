package models

import (
	"math"
	"testing"

	"github.com/graftml/graft/nn"
)

// TestSummaryFLOPs checks the summaries against hand counts and known
// totals: LeNet-5's layers exactly, ResNet-18's 1.82 GFLOP (multiply-adds
// ×2) at 224×224 and 11.69 M parameters, MobileNetV2's 3.50 M parameters
// and ~0.60 GFLOP.
func TestSummaryFLOPs(t *testing.T) {
	s, err := nn.Summarize(LeNet5(Options{}), []int{1, 28, 28, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"conv1": 2 * 28 * 28 * 6 * 25, "conv2": 2 * 10 * 10 * 16 * 150,
		"fc1": 2 * 400 * 120, "fc2": 2 * 120 * 84, "fc3": 2 * 84 * 10,
	}
	for _, r := range s.Layers {
		if w, ok := want[r.Name]; ok && r.FwdFLOPs != w {
			t.Errorf("lenet5 %s: %v FLOPs, want %v", r.Name, r.FwdFLOPs, w)
		}
	}
	if tot := s.Totals(); tot.Params != 61706 {
		t.Errorf("lenet5: %d parameters, want 61706", tot.Params)
	}
	for _, c := range []struct {
		m              *Model
		params         int
		gflop, tolFrac float64
	}{
		{ResNet18(Options{}), 11689512, 3.64, 0.01},
		{MobileNetV2(Options{}), 3504872, 0.60, 0.05},
	} {
		s, err := nn.Summarize(c.m, []int{1, 224, 224, 3})
		if err != nil {
			t.Fatal(err)
		}
		tot := s.Totals()
		if tot.Params != c.params {
			t.Errorf("%s: %d parameters, want %d", c.m.Arch, tot.Params, c.params)
		}
		if g := tot.FwdFLOPs / 1e9; math.Abs(g-c.gflop) > c.tolFrac*c.gflop {
			t.Errorf("%s: %.3f GFLOP forward, want %.2f", c.m.Arch, g, c.gflop)
		}
	}
	if _, err := nn.Summarize(LeNet5(Options{}), []int{1, 28, 28, 3}); err == nil {
		t.Error("a 3-channel input to LeNet-5 summarised without error")
	}
}
