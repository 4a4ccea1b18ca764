package tensor

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// BenchmarkDepthwiseInCache times the depthwise forward pass (3×3, pad 1,
// ReLU6 fused) of one image, its input and output in cache (L2, or L3 for
// the 56² layers), as InvertedResidual runs it on its bands: MobileNetV2's
// depthwise layers at stride 1 and 2, on the current best tier, in
// GFLOP/s.
//
//	GOMAXPROCS=1 go test -run '^$' -bench DepthwiseInCache -cpu 1 ./tensor
func BenchmarkDepthwiseInCache(b *testing.B) {
	for _, l := range [][4]int{{56, 56, 144, 1}, {28, 28, 192, 1}, {14, 14, 384, 1}, {14, 14, 576, 1}, {7, 7, 960, 1}, {56, 56, 144, 2}, {14, 14, 576, 2}} {
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
			for b.Loop() {
				cpu.Conv2DAct(y, x, wt, bias, p, act)
			}
			b.ReportMetric(g.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkInvertedResidual times InvertedResidual (1×1 expansion,
// ReLU6, 3×3 depthwise, ReLU6, 1×1 projection) on MobileNetV2's block
// shapes at batch 32 on the current best tier, in GFLOP/s of the three
// convolutions together.
//
//	GOMAXPROCS=1 go test -run '^$' -bench InvertedResidual -cpu 1 ./tensor
func BenchmarkInvertedResidual(b *testing.B) {
	// h, w, cin, expanded channels, out, stride
	for _, l := range [][6]int{{112, 112, 16, 96, 24, 2}, {56, 56, 24, 144, 24, 1}, {28, 28, 32, 192, 32, 1}, {14, 14, 64, 384, 64, 1}, {14, 14, 96, 576, 96, 1}, {7, 7, 160, 960, 160, 1}, {56, 56, 24, 144, 32, 2}, {14, 14, 96, 576, 160, 2}} {
		h, w, cin, c, o, s := l[0], l[1], l[2], l[3], l[4], l[5]
		b.Run(fmt.Sprintf("layer=%dx%dx%d-%d-%d/stride=%d", h, w, cin, c, o, s), func(b *testing.B) {
			const n = 32
			p := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: s, StrideW: s, Groups: c}
			x := RandNormal(1, 0, 1, n, h, w, cin)
			we := RandNormal(2, 0, 0.1, cin, c)
			dw := RandNormal(3, 0, 0.1, c, 1, 3, 3)
			wt := RandNormal(4, 0, 0.1, c, o)
			b0, b1, b2 := RandNormal(5, 0, 0.1, c), RandNormal(6, 0, 0.1, c), RandNormal(7, 0, 0.1, o)
			oh, ow := p.OutSize(h, w, 3, 3)
			y := Zeros(n, oh, ow, o)
			cpu, err := NewCPU(kernels.Current(), false)
			if err != nil {
				b.Fatal(err)
			}
			act := ClampAct(0, 6)
			run := func() { cpu.InvertedResidual(y, x, we, b0, act, dw, b1, p, act, wt, b2, FusedAct{}) }
			run()
			flops := 2 * float64(n) * (float64(h*w*cin*c) + float64(oh*ow*c*9) + float64(oh*ow*c*o))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for b.Loop() {
				run()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
