package main

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
)

func init() {
	register(command{name: "bench", device: true,
		summary: "GFLOP/s of the headline kernels and images/s of training steps here",
		doc:     `Times SGEMM 512³, a ResNet-18 3×3 convolution and a training step of LeNet-5 and the MNIST CNN on the device graft chose (see graft info), a few seconds in all. GPU work is synchronised before the clock stops. go test -bench ./bench has the full set.`,
		run:     bench})
}

// benchResult is one line of `graft bench`.
type benchResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// bench is `graft bench`: the headline kernels and a training step on
// this machine, a few seconds in all (go test -bench ./bench has the full
// set).
func bench(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("bench")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	var res []benchResult
	// SGEMM 512³.
	n := 512
	a, b2, c := tensor.RandNormal(1, 0, 1, n, n), tensor.RandNormal(2, 0, 1, n, n), tensor.Zeros(n, n)
	r := timed(func() { tensor.MatMul(c, a, b2, false, false, 1, 0) })
	res = append(res, benchResult{"sgemm 512x512x512", 2 * float64(n*n*n) * float64(r.N) / r.T.Seconds() / 1e9, "GFLOP/s"})
	// A ResNet-18 3×3 convolution (layer 2: 28×28, 128 channels, batch 8).
	x := tensor.RandNormal(3, 0, 1, 8, 28, 28, 128)
	w := tensor.RandNormal(4, 0, 0.1, 128, 128, 3, 3)
	p := tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	y := tensor.ConvOutput(x, w, p)
	r = timed(func() { tensor.Conv2D(y, x, w, nil, p) })
	res = append(res, benchResult{"conv 3x3 128->128 28x28 batch 8", tensor.ConvFLOPs(x, w, p) * float64(r.N) / r.T.Seconds() / 1e9, "GFLOP/s"})
	// Training steps.
	for _, tm := range []struct {
		arch  string
		batch int
	}{{"lenet5", 64}, {"mnistcnn", 64}} {
		m, err := models.New(tm.arch, models.Options{Seed: 1})
		if err != nil {
			return fmt.Errorf("bench: %v", err)
		}
		x := tensor.RandNormal(5, 0, 1, append([]int{tm.batch}, m.InputShape...)...)
		labels := make([]int, tm.batch)
		for i := range labels {
			labels[i] = i % 10
		}
		opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.01, 0))
		nn.SetTraining(m, true)
		grad := tensor.Zeros(tm.batch, 10)
		r = timed(func() {
			out := m.Forward(x)
			nn.CrossEntropy{}.Loss(grad, out, labels, nil)
			m.Backward(grad, false)
			opt.Step()
		})
		res = append(res, benchResult{fmt.Sprintf("train step %s batch %d", tm.arch, tm.batch), float64(tm.batch*r.N) / r.T.Seconds(), "images/s"})
	}
	dev := s.device()
	if *asJSON {
		return printJSON(out, map[string]any{"device": s.backendName(), "device_reason": dev.Reason, "gpu": dev.GPU,
			"tier": kernels.Current().String(), "threads": runtime.GOMAXPROCS(0), "results": res})
	}
	fmt.Fprintf(out, "device %s (%s), tier %s, %d threads\n", s.backendName(), dev.Reason, kernels.Current(), runtime.GOMAXPROCS(0))
	for _, r := range res {
		fmt.Fprintf(out, "  %-34s %10.1f %s\n", r.Name, r.Value, r.Unit)
	}
	return nil
}

// timed benchmarks f, waiting for the device to finish its work before
// the clock starts and before it stops: on a GPU an operation returns
// once queued, and timing the queueing would flatter it.
func timed(f func()) testing.BenchmarkResult {
	return testing.Benchmark(func(b *testing.B) {
		f() // warm up: kernels loaded, buffers allocated
		tensor.Synchronize()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			f()
		}
		tensor.Synchronize()
	})
}
