package bench

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// textCNN is the benchmark's Kim (2014) CNN: a 100-d trainable embedding
// of 20,000 ids (padding 0), filters of widths 3, 4 and 5 × 100 over time
// with ReLU and max over time, and a dense 300 → 2 head.
func textCNN(vocab, dim, filters int) nn.Layer {
	return nn.NewSequential(
		nn.NewEmbedding(vocab, dim, 0, 1),
		nn.NewConcat(
			nn.Named[nn.Layer]{Name: "conv3", Value: nn.NewConv1DMax(dim, filters, 3, true, 2)},
			nn.Named[nn.Layer]{Name: "conv4", Value: nn.NewConv1DMax(dim, filters, 4, true, 3)},
			nn.Named[nn.Layer]{Name: "conv5", Value: nn.NewConv1DMax(dim, filters, 5, true, 4)},
		),
		nn.NewDense(3*filters, 2, true, 5),
	)
}

// BenchmarkTextStep times one training step of a text classifier
// (forward, cross-entropy, backward, SGD with momentum 0.9 over every
// parameter, the embedding table included) on a fixed batch of random ids,
// 200 tokens each, reporting examples/s. bench/peers/torch_text.py times
// the same model in PyTorch.
func BenchmarkTextStep(b *testing.B) {
	const vocab, seq, dim, filters = 20000, 200, 100, 100
	for _, batch := range []int{64} {
		b.Run(fmt.Sprintf("model=cnn/batch=%d", batch), func(b *testing.B) {
			m := textCNN(vocab, dim, filters)
			x := tensor.RandUniform(7, 0, vocab, batch, seq)
			for i, v := range x.Data() {
				x.Data()[i] = float32(int(v))
			}
			labels := make([]int, batch)
			for i := range labels {
				labels[i] = i % 2
			}
			opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.01, 0))
			nn.SetTraining(m, true)
			grad := tensor.Zeros(batch, 2)
			step := func() {
				out := m.Forward(x)
				nn.CrossEntropy{}.Loss(grad, out, labels, nil)
				m.Backward(grad, false)
				opt.Step()
			}
			step()
			step()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "threads")
		})
	}
}
