package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestSgemmBiasExact checks sgemmBias on every tier, on one and two
// threads, against sgemm followed by a separate pass adding the bias, bit
// for bit, on ragged shapes: edge tiles, K over several KC blocks, M over
// several MC blocks, strided and offset C, both transposes, beta 0 and not,
// and no bias; nothing outside C may be written.
func TestSgemmBiasExact(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {13, 33, 7}, {25, 70, 600}, {700, 40, 17}, {37, 129, 260}}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			for si, sh := range shapes {
				for v := range 4 {
					r := rand.New(rand.NewPCG(uint64(si), uint64(v)))
					transA, transB := v&1 != 0, v&2 != 0
					beta := float32(0)
					if si%2 == 1 {
						beta = 0.5
					}
					g := newGemmCase(r, transA, transB, sh[0], sh[1], sh[2], 1.25, beta)
					var bias []float32
					if v != 3 {
						bias = make([]float32, sh[1])
						for j := range bias {
							bias[j] = float32(r.NormFloat64())
						}
					}
					want := g.run(func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						sgemm(cpu.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						for i := 0; bias != nil && i < m; i++ {
							row := c[i*ldc : i*ldc+n]
							addF32(cpu.kern(), row, row, bias)
						}
					})
					got := g.run(func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						sgemmBias(cpu.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc)
					})
					where := fmt.Sprintf("tier %s, %d threads, %v, trans %v %v, beta %v, bias %v", tier, procs, sh, transA, transB, beta, bias != nil)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s: element %d = %v, want %v", where, i, got[i], want[i])
						}
					}
				}
			}
			runtime.GOMAXPROCS(prev)
		}
	}
}
