package models

import (
	"math"
	"runtime"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// TestInferChunkedMatchesWhole runs the built-in architectures' inference
// (BatchNorm folds, fused activations, residual sums, the classifier)
// with the batch in chunks, a ragged last one included, at 1 and 2
// threads: each example's result must equal, bit for bit, that of the
// batch run whole.
func TestInferChunkedMatchesWhole(t *testing.T) {
	defer func(c int) { nn.InferChunk = c }(nn.InferChunk)
	for _, mk := range []struct {
		name string
		m    *Model
	}{
		{"mobilenetv2", MobileNetV2(Options{Size: 32, Width: 0.35, Classes: 7, Seed: 1})},
		{"resnet18cifar", ResNet18CIFAR(Options{Width: 0.25, Seed: 2})},
		{"mnistcnn", MNISTCNN(Options{Seed: 3})},
	} {
		t.Run(mk.name, func(t *testing.T) {
			m := mk.m
			randomStatistics(m.Sequential, 4)
			nn.SetTraining(m, false)
			shape := append([]int{7}, m.InputShape...)
			x := tensor.RandNormal(5, 0, 1, shape...)
			nn.InferChunk = -1
			want := m.Infer(x).Data()
			for _, procs := range []int{1, 2} {
				prev := runtime.GOMAXPROCS(procs)
				for _, chunk := range []int{1, 2, 3, 6} {
					nn.InferChunk = chunk
					got := m.Infer(x)
					if got.Dim(0) != 7 {
						t.Fatalf("chunk %d: output %v", chunk, got.Shape())
					}
					for i, v := range got.Data() {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("%d threads, chunk %d: y[%d] = %v, want %v (the batch whole)", procs, chunk, i, v, want[i])
						}
					}
				}
				runtime.GOMAXPROCS(prev)
			}
		})
	}
}

// TestInferAutoChunks checks the default choice (InferChunk 0): at 2
// threads a batch of 17 runs as chunks of 9 and 8, one per thread, with
// the results of the batch run whole; at 1 thread it runs whole.
func TestInferAutoChunks(t *testing.T) {
	defer func(c int) { nn.InferChunk = c }(nn.InferChunk)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	m := MobileNetV2(Options{Size: 32, Width: 0.35, Classes: 5, Seed: 2})
	randomStatistics(m.Sequential, 9)
	nn.SetTraining(m, false)
	x := tensor.RandNormal(6, 0, 1, append([]int{17}, m.InputShape...)...)
	nn.InferChunk = -1
	want := m.Infer(x).Data()
	nn.InferChunk = 0
	for _, procs := range []int{2, 1} {
		runtime.GOMAXPROCS(procs)
		got := m.Infer(x).Data()
		for i, v := range got {
			if math.Float32bits(v) != math.Float32bits(want[i]) {
				t.Fatalf("%d threads: y[%d] = %v, want %v", procs, i, v, want[i])
			}
		}
	}
}

// randomStatistics gives every BatchNorm under l random running
// statistics and affine parameters, so that folds are not identities.
func randomStatistics(l nn.Layer, seed uint64) {
	nn.Walk(l, func(_ string, l nn.Layer) {
		bn, ok := l.(*nn.BatchNorm)
		if !ok {
			return
		}
		seed += 10
		copy(bn.Weight.Value.Data(), tensor.RandUniform(seed, 0.5, 1.5, bn.C).Data())
		copy(bn.Bias.Value.Data(), tensor.RandNormal(seed+1, 0, 0.2, bn.C).Data())
		copy(bn.RunningMean.Value.Data(), tensor.RandNormal(seed+2, 0, 0.2, bn.C).Data())
		copy(bn.RunningVar.Value.Data(), tensor.RandUniform(seed+3, 0.5, 2, bn.C).Data())
	})
}
