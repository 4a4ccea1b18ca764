package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

// BenchmarkMobileNetV2Forward times MobileNetV2's inference forward pass
// (eval mode, Infer) at 224×224, batch 32: graft's built-in model
// (torchvision's layout, the frozen trunk a transfer from it runs) and,
// when .ci/run has converted it, npm nsfwjs's Keras MobileNetV2 imported
// from TF.js (an nn.Graph, with TF's asymmetric "same" padding). The peer
// is bench/peers/torch_mobilenet.py (torchvision mobilenet_v2, eval,
// no_grad, NCHW and channels_last). Built-in ResNet-18 runs beside them
// (peer: bench/peers/torch_infer.py --model resnet18). At one thread the
// benchmark also reports images per second of its thread's CPU time
// (cpu_images/s), steadier on a shared machine:
//
//	GOMAXPROCS=1 go test -run '^$' -bench MobileNetV2Forward -cpu 1 -benchtime 3x -count 3 ./bench
//	/usr/bin/python3 bench/peers/torch_mobilenet.py --threads 1
//	/usr/bin/python3 bench/peers/torch_infer.py --model resnet18 --threads 1
func BenchmarkMobileNetV2Forward(b *testing.B) {
	const batch = 32
	run := func(b *testing.B, l nn.Layer) {
		nn.SetTraining(l, false)
		x := tensor.RandNormal(3, 0, 1, batch, 224, 224, 3)
		l.Infer(x)
		b.ResetTimer()
		cpu := startThreadCPU(b)
		for range b.N {
			l.Infer(x)
		}
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
		if runtime.GOMAXPROCS(0) == 1 {
			b.ReportMetric(float64(batch*b.N)/cpu.seconds(b), "cpu_images/s")
		}
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "threads")
	}
	b.Run("model=mobilenetv2/batch=32", func(b *testing.B) {
		run(b, models.MobileNetV2(models.Options{Seed: 1}))
	})
	b.Run("model=nsfwjs/batch=32", func(b *testing.B) {
		home, _ := os.UserHomeDir()
		m, err := tfjs.Read(filepath.Join(home, ".cache", "graft", "tfjs", "nsfwjs_mobilenet_v2", "model.json"))
		if err != nil {
			b.Skip(err)
		}
		run(b, m.Graph)
	})
	b.Run("model=resnet18/batch=32", func(b *testing.B) {
		run(b, models.ResNet18(models.Options{Seed: 1}))
	})
}
