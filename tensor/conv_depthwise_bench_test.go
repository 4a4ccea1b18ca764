package tensor

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// BenchmarkDepthwiseInCache times the depthwise forward pass (3×3, pad 1,
// ReLU6 fused) of one image whose input and output fit in L2, as
// InvertedResidual runs it on its bands: MobileNetV2's depthwise layers at
// stride 1 and 2, on the current best tier, in GFLOP/s.
//
//	GOMAXPROCS=1 go test -run '^$' -bench DepthwiseInCache -cpu 1 ./tensor
func BenchmarkDepthwiseInCache(b *testing.B) {
	for _, l := range [][4]int{{56, 56, 144, 1}, {28, 28, 192, 1}, {14, 14, 384, 1}, {14, 14, 576, 1}, {7, 7, 960, 1}, {28, 28, 144, 2}, {14, 14, 576, 2}} {
		h, w, c, s := l[0], l[1], l[2], l[3]
		b.Run(fmt.Sprintf("layer=%dx%dx%d/stride=%d", h, w, c, s), func(b *testing.B) {
			p := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: s, StrideW: s, Groups: c}
			x := RandNormal(1, 0, 1, 1, h, w, c)
			wt := RandNormal(2, 0, 0.1, c, 1, 3, 3)
			bias := RandNormal(3, 0, 0.1, c)
			y := ConvOutput(x, wt, p)
			g := convDims("Conv2D", x, wt, y, bias, p)
			cpu, err := NewCPU(kernels.Current(), false)
			if err != nil {
				b.Fatal(err)
			}
			act := FusedAct{Kind: FuseClamp, Lo: 0, Hi: 6}
			cpu.Conv2DAct(y, x, wt, bias, p, act)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			for b.Loop() {
				cpu.Conv2DAct(y, x, wt, bias, p, act)
			}
			b.ReportMetric(g.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
