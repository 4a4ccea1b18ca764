package tensor

import (
	"math"
	"runtime"
	"testing"
)

func TestBatchNormMatchesReference(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		for i, shape := range [][]int{{2, 3, 4, 5}, {7, 17}, {3, 20, 20, 33}, {1, 1}, {600, 8}} {
			c := shape[len(shape)-1]
			// A large offset: the statistics must not cancel.
			x := RandNormal(uint64(i), 1000, 2, shape...)
			gamma, beta := RandNormal(uint64(i)+10, 1, 0.5, c), RandNormal(uint64(i)+20, 0, 1, c)
			for _, relu := range []bool{false, true} {
				p := BatchNormParams{Momentum: 0.1, Eps: 1e-5, UnbiasedVar: true, ReLU: relu}
				var outs [2][]*Tensor // y, mean, invstd, runMean, runVar, dx, dgamma, dbeta
				for k, b := range []Backend{cpu, Reference{}} {
					y, sm, si := Zeros(shape...), Zeros(c), Zeros(c)
					rm, rv := Full(0.5, c), Full(2, c)
					b.BatchNormTrain(y, x, gamma, beta, rm, rv, sm, si, p)
					dy := RandNormal(99, 0, 1, shape...)
					dx, dg, db := Zeros(shape...), Zeros(c), Zeros(c)
					b.BatchNormBackward(dx, dg, db, x, dy, gamma, sm, si)
					yi := Zeros(shape...)
					b.BatchNormInference(yi, x, gamma, beta, rm, rv, p)
					outs[k] = []*Tensor{y, sm, si, rm, rv, dx, dg, db, yi}
				}
				names := []string{"y", "mean", "invstd", "running mean", "running var", "dx", "dgamma", "dbeta", "inference y"}
				n := x.Len() / c
				// dx's terms reach gamma·invstd·|dy| before they cancel
				dxScale := 1.0
				for j := 0; j < c; j++ {
					dxScale = math.Max(dxScale, 4*math.Abs(float64(gamma.data[j]*outs[1][2].data[j])))
				}
				for j, name := range names {
					got, want := outs[0][j].data, outs[1][j].data
					for e := range want {
						// relative to the values' scale; sums over n rows
						scale := math.Max(1, math.Abs(float64(want[e])))
						if j == 5 {
							scale = math.Max(scale, dxScale)
						}
						tol := 2e-5 * scale * math.Sqrt(float64(n)+1)
						if j == 1 || j == 3 {
							tol = 1e-6 * 1000 * 4
						}
						if d := math.Abs(float64(got[e] - want[e])); !(d <= tol) {
							t.Fatalf("%v relu=%v: %s[%d] = %v, reference %v", shape, relu, name, e, got[e], want[e])
						}
					}
				}
			}
		}
	})
}

func TestBatchNormThreadsBitIdentical(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	x := RandNormal(5, 3, 2, 9, 30, 30, 16)
	gamma, beta, dy := Full(1.5, 16), Full(0.5, 16), RandNormal(6, 0, 1, 9, 30, 30, 16)
	var first []float32
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		y, sm, si := Zeros(x.shape...), Zeros(16), Zeros(16)
		CPU{}.BatchNormTrain(y, x, gamma, beta, nil, nil, sm, si, BatchNormParams{Eps: 1e-5})
		dx, dg, db := Zeros(x.shape...), Zeros(16), Zeros(16)
		CPU{}.BatchNormBackward(dx, dg, db, x, dy, gamma, sm, si)
		all := append(append(append(y.data, dx.data...), dg.data...), db.data...)
		if first == nil {
			first = all
			continue
		}
		for i := range all {
			if math.Float32bits(all[i]) != math.Float32bits(first[i]) {
				t.Fatalf("GOMAXPROCS=%d differs at %d", procs, i)
			}
		}
	}
}
