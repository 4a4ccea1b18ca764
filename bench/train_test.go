package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
)

// trainModels are the models of BenchmarkTrainStep and their batch sizes
// (bench/peers/torch_train.py times the same steps in PyTorch).
var trainModels = []struct {
	name  string
	batch int
}{{"lenet5", 64}, {"mnistcnn", 64}, {"resnet18cifar", 32}}

func selected(env, name string) bool {
	v := os.Getenv(env)
	return v == "" || strings.Contains(","+v+",", ","+name+",")
}

// BenchmarkTrainStep times one training step (forward in training mode,
// cross-entropy, backward, SGD-momentum update) on random data with the
// default backend (the GPU when there is one, else the best CPU tier),
// reporting images/s and allocations.
// GRAFT_BENCH_MODELS narrows the models.
func BenchmarkTrainStep(b *testing.B) {
	for _, tm := range trainModels {
		if !selected("GRAFT_BENCH_MODELS", tm.name) {
			continue
		}
		b.Run(fmt.Sprintf("model=%s/batch=%d", tm.name, tm.batch), func(b *testing.B) {
			m, err := models.New(tm.name, models.Options{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			step := trainStep(m, tm.batch)
			step()
			step()
			b.ReportAllocs()
			cpu := startThreadCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			tensor.Synchronize() // on a GPU, the last step's update may still be queued
			b.ReportMetric(float64(tm.batch*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(tm.batch*b.N)/cpu.seconds(b), "cpu_images/s")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "threads")
		})
	}
}

// trainStep returns one SGD-momentum training step of m on a fixed random
// batch (forward in training mode, cross-entropy, backward, update).
func trainStep(m *models.Model, batch int) func() {
	x := tensor.RandNormal(2, 0, 1, append([]int{batch}, m.InputShape...)...)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i % m.Options.Classes
	}
	opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.01, 0))
	nn.SetTraining(m, true)
	var grad *tensor.Tensor
	return func() {
		out := m.Forward(x)
		if grad == nil {
			grad = tensor.Zeros(out.Shape()...)
		}
		nn.CrossEntropy{}.Loss(grad, out, labels, nil)
		m.Backward(grad, false)
		opt.Step()
	}
}

// BenchmarkInfer times inference (Infer, no activations kept) of a batch,
// from one goroutine and from GOMAXPROCS goroutines sharing one model.
func BenchmarkInfer(b *testing.B) {
	for _, tm := range trainModels {
		if !selected("GRAFT_BENCH_MODELS", tm.name) {
			continue
		}
		for _, par := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("model=%s/batch=%d/goroutines=%d", tm.name, tm.batch, par), func(b *testing.B) {
				m, err := models.New(tm.name, models.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				x := tensor.RandNormal(2, 0, 1, append([]int{tm.batch}, m.InputShape...)...)
				m.Infer(x)
				b.ResetTimer()
				var wg sync.WaitGroup
				for g := 0; g < par; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := g; i < b.N; i += par {
							m.Infer(x)
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(tm.batch*b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
