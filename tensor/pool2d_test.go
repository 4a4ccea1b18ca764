package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPoolMatchesReference runs the CPU pooling loops against the
// Reference backend's on random windows (strides, dilations, padding, ceil
// mode, count-include-pad) and channel counts on both sides of the
// vector threshold, with NaNs among the inputs.
func TestPoolMatchesReference(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(5, uint64(cpu.kern().tier)))
		for i := 0; i < 300; i++ {
			p := PoolParams{KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), CeilMode: r.IntN(2) == 0, CountIncludePad: r.IntN(2) == 0}
			p.StrideH, p.StrideW = 1+r.IntN(3), 1+r.IntN(3)
			p.DilationH, p.DilationW = 1+r.IntN(2), 1+r.IntN(2)
			p.PadTop, p.PadLeft = r.IntN(p.KH), r.IntN(p.KW)
			p.PadBottom, p.PadRight = r.IntN(p.KH), r.IntN(p.KW)
			n, h, w := 1+r.IntN(3), 1+r.IntN(20), 1+r.IntN(20)
			c := []int{1, 3, 6, 16, 17, 33}[r.IntN(6)]
			oh, ow := p.OutSize(h, w)
			if oh < 1 || ow < 1 {
				continue
			}
			x := RandNormal(r.Uint64(), 0, 1, n, h, w, c)
			if r.IntN(4) == 0 {
				x.data[r.IntN(x.Len())] = float32(math.NaN())
			}
			dy := RandNormal(r.Uint64(), 0, 1, n, oh, ow, c)
			name := fmt.Sprintf("x%v %+v", x.shape, p)
			for _, op := range []string{"max", "avg"} {
				y, want := Full(7, n, oh, ow, c), Full(7, n, oh, ow, c)
				dx, dxWant := Full(7, x.shape...), Full(7, x.shape...)
				if op == "max" {
					cpu.MaxPool2D(y, x, p)
					Reference{}.MaxPool2D(want, x, p)
					cpu.MaxPool2DBackward(dx, x, dy, p)
					Reference{}.MaxPool2DBackward(dxWant, x, dy, p)
				} else {
					cpu.AvgPool2D(y, x, p)
					Reference{}.AvgPool2D(want, x, p)
					cpu.AvgPool2DBackward(dx, dy, p)
					Reference{}.AvgPool2DBackward(dxWant, dy, p)
				}
				poolClose(t, op+" forward "+name, y.data, want.data)
				poolClose(t, op+" backward "+name, dx.data, dxWant.data)
			}
		}
	})
}

func poolClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) != math.IsNaN(g) || math.Abs(g-w) > 1e-5*(1+math.Abs(w)) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}
