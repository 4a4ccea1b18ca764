package tensor_test

import (
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// cpuWork runs a training-step's worth of operations on cpu (a convolution
// forward and backward, a GEMM, a batch norm, pooling, an Adam step) and
// returns every result's values.
func cpuWork(cpu tensor.CPU, seed uint64) [][]float32 {
	x := tensor.RandNormal(seed, 0, 1, 2, 13, 11, 24)
	w := tensor.RandNormal(seed+1, 0, 0.2, 40, 24, 3, 3)
	b := tensor.RandNormal(seed+2, 0, 1, 40)
	p := tensor.ConvParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	y := tensor.Zeros(2, 13, 11, 40)
	cpu.Conv2D(y, x, w, b, p)
	dy := tensor.RandNormal(seed+3, 0, 1, 2, 13, 11, 40)
	dx := tensor.Zeros(x.Shape()...)
	cpu.Conv2DBackwardData(dx, dy, w, p)
	dw, db := tensor.Zeros(w.Shape()...), tensor.Zeros(40)
	cpu.Conv2DBackwardWeights(dw, db, x, dy, p)
	a, m := tensor.RandNormal(seed+4, 0, 1, 67, 129), tensor.RandNormal(seed+5, 0, 1, 129, 45)
	c := tensor.Zeros(67, 45)
	cpu.MatMul(c, a, m, false, false, 1, 0)
	g, be := tensor.Full(1.5, 40), tensor.Full(0.25, 40)
	rm, rv, sm, si := tensor.Zeros(40), tensor.Full(1, 40), tensor.Zeros(40), tensor.Zeros(40)
	bn := tensor.Zeros(y.Shape()...)
	cpu.BatchNormTrain(bn, y, g, be, rm, rv, sm, si, tensor.BatchNormParams{Eps: 1e-5, Momentum: 0.1})
	pool := tensor.Zeros(2, 6, 5, 40)
	cpu.MaxPool2D(pool, bn, tensor.PoolParams{KH: 2, KW: 2, ConvParams: tensor.ConvParams{StrideH: 2, StrideW: 2}})
	pw := tensor.RandNormal(seed+6, 0, 1, 1000)
	pg := tensor.RandNormal(seed+7, 0, 1, 1000)
	pm, pv := tensor.Zeros(1000), tensor.Zeros(1000)
	cpu.AdamStep(pw, pg, pm, pv, tensor.AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, StepSize: 1e-2, SqrtBC2: 0.0447})
	out := [][]float32{}
	for _, t := range []*tensor.Tensor{y, dx, dw, db, c, bn, rm, rv, pool, pw, pm, pv} {
		out = append(out, t.Data())
	}
	return out
}

// TestCPUBackendsSideBySide runs CPU backends of every tier the tests walk
// at once, several goroutines each, and checks that each computes exactly
// what it computes alone: a backend runs its own tier's kernels, whatever
// the process's tier and whatever the others run. The tiers' own results
// differ (their sums are ordered differently), so a backend that ran
// another's kernels would fail.
func TestCPUBackendsSideBySide(t *testing.T) {
	var cpus []tensor.CPU
	for _, tt := range kernels.TestTiers() {
		cpu, err := tensor.NewCPU(tt.Tier, tt.StandIns)
		if err != nil {
			t.Fatalf("%s: %v", tt, err)
		}
		if tier, s := cpu.Tier(); tier != tt.Tier || s != tt.StandIns {
			t.Errorf("NewCPU(%s).Tier() = %s, %v", tt, tier, s)
		}
		cpus = append(cpus, cpu)
	}
	if len(cpus) < 2 {
		t.Skip("one tier only")
	}
	want := make([][][]float32, len(cpus))
	for i, cpu := range cpus {
		want[i] = cpuWork(cpu, 1)
	}
	differ := false
	for i := 1; i < len(cpus); i++ {
		differ = differ || tensortest.Compare(tensor.FromSlice(want[i][0], len(want[i][0])), tensor.FromSlice(want[0][0], len(want[0][0])), 0) != ""
	}
	works := make([]func() [][]float32, len(cpus))
	for i, cpu := range cpus {
		works[i] = func() [][]float32 { return cpuWork(cpu, 1) }
	}
	for _, e := range tensorcheck.SideBySide(3, works, want) {
		t.Error(e)
	}
	if !differ {
		t.Log("every tier gave the same convolution bits: the check shows no crossing over")
	}
}

// TestNewCPURefusesTiers checks that NewCPU refuses a tier the machine
// cannot run, and stand-ins of a tier that has none.
func TestNewCPURefusesTiers(t *testing.T) {
	if _, err := tensor.NewCPU(kernels.Generic, true); err == nil {
		t.Error("NewCPU(generic, stand-ins) did not fail")
	}
	for _, tier := range kernels.Tiers {
		ok, _ := kernels.Supported(tier)
		cpu, err := tensor.NewCPU(tier, false)
		if ok != (err == nil) {
			t.Errorf("NewCPU(%s): err %v, supported %v", tier, err, ok)
		}
		if err == nil && cpu.Name() != "cpu/"+tier.String() {
			t.Errorf("NewCPU(%s).Name() = %q", tier, cpu.Name())
		}
	}
	if (tensor.CPU{}).Name() != "cpu/"+kernels.Current().String() {
		t.Errorf("CPU{}.Name() = %q, the process's tier is %s", tensor.CPU{}.Name(), kernels.Current())
	}
}
