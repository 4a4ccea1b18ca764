package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/graftml/graft/tensor"
)

// ConvLayer is one benchmarked convolution: input N×H×W×C (NHWC), O
// filters of KH×KW.
type ConvLayer struct {
	Name          string
	N, H, W, C, O int
	K             int // square kernel
	P             tensor.ConvParams
}

// ConvLayers are the layers of BenchmarkConv2D (and of bench/peers/torch_conv.py).
var ConvLayers = []ConvLayer{
	{"lenet_c1", 64, 28, 28, 1, 6, 5, tensor.ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
	{"lenet_c2", 64, 14, 14, 6, 16, 5, tensor.ConvParams{}},
	{"mnist_c1", 64, 28, 28, 1, 32, 5, tensor.ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
	{"mnist_c2", 64, 14, 14, 32, 64, 5, tensor.ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
	{"r18_conv1", 32, 224, 224, 3, 64, 7, tensor.ConvParams{StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3}},
	{"r18_l1", 32, 56, 56, 64, 64, 3, tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"r18_l2", 32, 28, 28, 128, 128, 3, tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"r18_l3", 32, 14, 14, 256, 256, 3, tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"r18_l4", 32, 7, 7, 512, 512, 3, tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"mbv2_dw", 32, 56, 56, 144, 144, 3, tensor.ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 144}},
	{"pw_1x1", 32, 56, 56, 64, 256, 1, tensor.ConvParams{}},
}

// BenchmarkConv2D times the forward, backward-data and backward-weights
// passes of each layer on each tier. Every pass reports the layer's forward
// FLOPs (2·N·O·OH·OW·C/groups·KH·KW) divided by its own time, as GFLOP/s.
// GRAFT_BENCH_IMPL and GRAFT_BENCH_LAYERS (comma lists) narrow the run.
func BenchmarkConv2D(b *testing.B) {
	impls := benchImpls()
	layers := os.Getenv("GRAFT_BENCH_LAYERS")
	for _, impl := range impls {
		for _, l := range ConvLayers {
			if layers != "" && !strings.Contains(","+layers+",", ","+l.Name+",") {
				continue
			}
			x := tensor.RandNormal(1, 0, 1, l.N, l.H, l.W, l.C)
			w := tensor.RandNormal(2, 0, 0.1, l.O, l.C/max(l.P.Groups, 1), l.K, l.K)
			bias := tensor.Zeros(l.O)
			y := tensor.ConvOutput(x, w, l.P)
			dy := tensor.RandNormal(3, 0, 1, y.Shape()...)
			dx, dw, db := tensor.Zeros(x.Shape()...), tensor.Zeros(w.Shape()...), tensor.Zeros(l.O)
			flops := tensor.ConvFLOPs(x, w, l.P)
			for _, pass := range []string{"fwd", "bwd_data", "bwd_weights"} {
				b.Run(fmt.Sprintf("impl=%s/layer=%s/pass=%s", impl, l.Name, pass), func(b *testing.B) {
					be := backendFor(b, impl)
					run := map[string]func(){
						"fwd":         func() { be.Conv2D(y, x, w, bias, l.P) },
						"bwd_data":    func() { be.Conv2DBackwardData(dx, dy, w, l.P) },
						"bwd_weights": func() { be.Conv2DBackwardWeights(dw, db, x, dy, l.P) },
					}[pass]
					run()
					tensor.Synchronize()
					b.ReportAllocs()
					cpu := startThreadCPU(b)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
					tensor.Synchronize()
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					b.ReportMetric(flops*float64(b.N)/cpu.seconds(b)/1e9, "cpuGFLOP/s")
					b.ReportMetric(float64(l.N)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
				})
			}
		}
	}
}
