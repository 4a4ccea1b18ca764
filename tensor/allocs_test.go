package tensor

import (
	"runtime"
	"testing"
)

// TestOpsSteadyStateNoAllocs checks that, once their workspaces exist, the
// CPU ops allocate nothing per call (on one thread: the pools' per-thread
// caches would otherwise warm up at random).
func TestOpsSteadyStateNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	pad1 := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	convs := map[string]struct {
		c, o, k int
		p       ConvParams
	}{
		"rowtap":    {16, 32, 3, pad1},
		"gather":    {1, 32, 5, ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		"im2col":    {6, 10, 3, ConvParams{StrideH: 2, StrideW: 2}},
		"depthwise": {16, 16, 3, ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 16}},
		"pointwise": {16, 24, 1, ConvParams{}},
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		ops := map[string]func(){}
		for name, c := range convs {
			x := RandNormal(1, 0, 1, 2, 12, 12, c.c)
			w := RandNormal(2, 0, 1, c.o, c.c/max(c.p.Groups, 1), c.k, c.k)
			y := ConvOutput(x, w, c.p)
			dy, dx, dw, db, b := RandNormal(3, 0, 1, y.shape...), Zeros(x.shape...), Zeros(w.shape...), Zeros(c.o), Zeros(c.o)
			ops["conv "+name] = func() {
				cpu.Conv2D(y, x, w, b, c.p)
				cpu.Conv2DBackwardData(dx, dy, w, c.p)
				cpu.Conv2DBackwardWeights(dw, db, x, dy, c.p)
				cpu.Conv2DAct(y, x, w, b, c.p, ClampAct(0, 6))
				cpu.Conv2DAct(y, x, w, b, c.p, ReLUAct())
			}
		}
		x := RandNormal(4, 0, 1, 2, 12, 12, 16)
		pp := PoolParams{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1}}
		oh, ow := pp.OutSize(12, 12)
		py, pdy, pdx := Zeros(2, oh, ow, 16), RandNormal(5, 0, 1, 2, oh, ow, 16), Zeros(x.shape...)
		ops["pooling"] = func() {
			cpu.MaxPool2D(py, x, pp)
			cpu.MaxPool2DBackward(pdx, x, pdy, pp)
			cpu.AvgPool2D(py, x, pp)
			cpu.AvgPool2DBackward(pdx, pdy, pp)
		}
		g, bt, sm, si, dg, db := Full(1, 16), Zeros(16), Zeros(16), Zeros(16), Zeros(16), Zeros(16)
		bny, bdx := Zeros(x.shape...), Zeros(x.shape...)
		ops["batch norm"] = func() {
			cpu.BatchNormTrain(bny, x, g, bt, nil, nil, sm, si, BatchNormParams{Eps: 1e-5, ReLU: true})
			cpu.BatchNormBackward(bdx, dg, db, x, bny, g, sm, si)
			cpu.BatchNormInference(bny, x, g, bt, sm, si, BatchNormParams{Eps: 1e-5})
		}
		ax, ay := RandNormal(6, 0, 1, 2, 12, 12, 16), ZerosOn(cpu, 2, 12, 12, 16) // AddAct runs on ay's backend
		ops["add, fused"] = func() {
			AddAct(ay, ax, x, ClampAct(0, 6))
			AddAct(ay, ax, x, ReLUAct())
			cpu.Add(ay, ax, x)
			cpu.ReLU(ay, ax)
		}
		red := Zeros(2, 12, 16)
		ops["reductions"] = func() {
			cpu.Sum(red, x, 1)
			cpu.Max(red, x, 2)
		}
		for name, op := range ops {
			op() // create the workspaces
			if a := testing.AllocsPerRun(5, op); a != 0 {
				t.Errorf("%s allocates %.1f times per call", name, a)
			}
		}
	})
}
