package bench

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/transfer"
)

// BenchmarkPartialStep times a training step (forward, cross-entropy,
// backward, SGD update) with only the top layer groups trainable, from the
// head alone to the whole model, with no feature cache: the frozen layers
// still run forward. It reports ms/step and the activation bytes the
// backward pass keeps (transfer.PlanBackprop).
func BenchmarkPartialStep(b *testing.B) {
	for _, tm := range []struct {
		name  string
		batch int
	}{{"mnistcnn", 64}, {"resnet18cifar", 32}} {
		if !selected("GRAFT_BENCH_MODELS", tm.name) {
			continue
		}
		probe, err := models.New(tm.name, models.Options{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		g := len(probe.Groups)
		for k := 1; k <= g; k++ {
			label := fmt.Sprintf("top%d", k)
			switch k {
			case 1:
				label = "head"
			case g:
				label = "all"
			}
			b.Run(fmt.Sprintf("model=%s/trainable=%s", tm.name, label), func(b *testing.B) {
				m, _ := models.New(tm.name, models.Options{Seed: 1})
				if err := transfer.FreezeTo(m, g-k, transfer.FreezeOptions{}); err != nil {
					b.Fatal(err)
				}
				plan, err := transfer.PlanBackprop(m, append([]int{tm.batch}, m.InputShape...))
				if err != nil {
					b.Fatal(err)
				}
				step := trainStep(m, tm.batch)
				step()
				b.ReportAllocs()
				cpu := startThreadCPU(b)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					step()
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
				b.ReportMetric(cpu.seconds(b)*1e3/float64(b.N), "cpu_ms/step")
				b.ReportMetric(float64(plan.KeptBytes), "bytes_kept")
				b.ReportMetric((plan.FwdFLOPs+plan.BwdFLOPs)/1e9, "GFLOP/step")
				b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "threads")
			})
		}
	}
}
