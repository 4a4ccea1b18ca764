package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// epiActs are the fused activations the epilogue tests walk: none, ReLU,
// and clamps whose bounds the special values below hit exactly.
// The clamps with hi ±0 take the full sequence, the others the quick one
// (EpiClampQuick), lo = +0 the one case where its sign fix matters.
var epiActs = []FusedAct{{}, ReLUAct(), ClampAct(0, 6), ClampAct(-0.5, 0.25), ClampAct(float32(math.Inf(-1)), 1),
	ClampAct(-1, 0), ClampAct(float32(math.Copysign(0, -1)), 3), ClampAct(-2, float32(math.Copysign(0, -1)))}

// TestSgemmEpilogueExact checks sgemmEpi (the Sgemm…E kernels' epilogue:
// bias, then ReLU or clamp, in registers) on every tier, on one and two
// threads, against sgemm followed by separate passes adding the bias and
// applying the activation, bit for bit (NaN for NaN), on ragged shapes
// (edge tiles, K over several KC blocks, M over several MC blocks,
// strided C, both transposes, beta 0 and not, alpha 1, other and negative,
// no bias),
// with rows of A that make the outputs ±0, ±Inf, NaN and exactly the
// clamp bounds; nothing outside C may be written.
func TestSgemmEpilogueExact(t *testing.T) {
	// … {11, 45, 9}, {31, 70, 200}, {19, 17, 203}: edges of 7–11 rows
	// (edgeRows on the AVX-512 tier), over one and two KC blocks
	shapes := [][3]int{{1, 1, 1}, {13, 33, 7}, {25, 70, 600}, {700, 40, 17}, {37, 129, 260}, {24, 64, 16}, {40, 24, 30}, {30, 144, 20}, {26, 57, 200},
		{11, 45, 9}, {31, 70, 200}, {19, 17, 203}}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		for _, procs := range []int{1, 2} {
			prev := runtime.GOMAXPROCS(procs)
			for si, sh := range shapes {
				for v := range 8 {
					act := epiActs[(si+v)%len(epiActs)]
					r := rand.New(rand.NewPCG(uint64(si), uint64(v)+100))
					transA, transB := v&1 != 0, v&2 != 0
					beta := float32(0)
					if si%2 == 1 {
						beta = 0.5
					}
					alpha := float32(1.25)
					if si%3 == 0 {
						alpha = 1 // the kernels skip the product
					}
					if v&4 != 0 {
						alpha = -1 // zero rows then give −0
					}
					g := newGemmCase(r, transA, transB, sh[0], sh[1], sh[2], alpha, beta)
					special(g, r)
					var bias []float32
					if v != 3 {
						bias = make([]float32, sh[1])
						for j := range bias {
							bias[j] = float32(r.NormFloat64())
							switch r.IntN(6) {
							case 0:
								bias[j] = act.Hi
							case 1:
								bias[j] = act.Lo
							case 2:
								bias[j] = float32(math.Copysign(0, -1))
							}
						}
					}
					want := g.run(func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						// The AVX-512 product through its stand-ins
						// (bit for bit the assembly, edge tiles in Go):
						// a reference for the masked edge kernels.
						ref := cpu
						if tier.Tier == kernels.AVX512 && !tier.StandIns {
							if ok, _ := kernels.StandInsSupported(kernels.AVX512); ok {
								ref = cpuFor(t, kernels.TestTier{Tier: kernels.AVX512, StandIns: true}, CPUOptions{})
							}
						}
						sgemm(ref.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						for i := 0; i < m; i++ {
							row := c[i*ldc : i*ldc+n]
							if bias != nil {
								addF32(ref.kern(), row, row, bias)
							}
							switch act.Kind {
							case FuseReLU:
								for j, x := range row {
									if x < 0 {
										row[j] = 0
									}
								}
							case FuseClamp:
								for j, x := range row {
									row[j] = min(max(x, act.Lo), act.Hi)
								}
							}
						}
					})
					got := g.run(func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						sgemmEpi(cpu.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, act, c, ldc)
					})
					where := fmt.Sprintf("tier %s, %d threads, %v, trans %v %v, alpha %v beta %v, bias %v, act %+v", tier, procs, sh, transA, transB, alpha, beta, bias != nil, act)
					for i := range want {
						if !sameBits(got[i], want[i]) {
							t.Fatalf("%s: element %d = %v (%#x), want %v (%#x)", where, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
			runtime.GOMAXPROCS(prev)
		}
	}
}

// special puts rows of zeros (outputs ±0, or the bias alone), a NaN and
// an infinity into op(A), and NaN and −0 into C where it is read.
func special(g *gemmCase, r *rand.Rand) {
	at := func(i, p int) *float32 {
		if g.transA {
			return &g.a[p*g.lda+i]
		}
		return &g.a[i*g.lda+p]
	}
	for i := 0; i < g.m; i++ {
		switch r.IntN(5) {
		case 0, 1:
			for p := 0; p < g.k; p++ {
				*at(i, p) = 0
			}
			if g.beta != 0 {
				for j := 0; j < g.n; j++ {
					g.c[g.cOff+i*g.ldc+j] = 0
					if r.IntN(2) == 0 {
						g.c[g.cOff+i*g.ldc+j] = float32(math.Copysign(0, -1))
					}
				}
			}
		case 2:
			*at(i, r.IntN(g.k)) = float32(math.NaN())
		case 3:
			*at(i, r.IntN(g.k)) = float32(math.Inf(1 - 2*r.IntN(2)))
		}
	}
}
