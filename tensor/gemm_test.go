package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/graftml/graft/kernels"
)

// guard is the value written around every matrix; a write out of bounds
// replaces it.
var guard = math.Float32frombits(0x7fc0dead)

// forEachTier runs f as a subtest, named by the tier, with a CPU backend
// of every tier the tests walk (kernels.TestTiers), made by NewCPU:
// nothing process-wide is switched.
func forEachTier(t *testing.T, f func(t *testing.T, cpu CPU)) {
	t.Helper()
	for _, tt := range kernels.TestTiers() {
		t.Run(tt.String(), func(t *testing.T) { f(t, cpuFor(t, tt, CPUOptions{})) })
	}
}

// forEachTierParallel is forEachTier with the tiers' subtests run in
// parallel with each other: for tests that change nothing process-wide
// (GOMAXPROCS, allocation counts), since each tier has a backend of its
// own.
func forEachTierParallel(t *testing.T, f func(t *testing.T, cpu CPU)) {
	t.Helper()
	for _, tt := range kernels.TestTiers() {
		t.Run(tt.String(), func(t *testing.T) {
			t.Parallel()
			f(t, cpuFor(t, tt, CPUOptions{}))
		})
	}
}

// cpuFor returns a CPU backend of test tier tt with options o (StandIns
// taken from tt), failing t when it cannot be made.
func cpuFor(t testing.TB, tt kernels.TestTier, o CPUOptions) CPU {
	t.Helper()
	o.StandIns = tt.StandIns
	cpu, err := NewCPUWith(tt.Tier, o)
	if err != nil {
		t.Fatal(err)
	}
	return cpu
}

// sgemmOnCPU returns Sgemm on cpu's kernels.
func sgemmOnCPU(cpu CPU) func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmOn(cpu.kern(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// gemmCase is one Sgemm problem with its operands laid out with padding
// (lda > cols, ldc > n) and guard bands before and after C.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	lda, ldb, ldc  int
	a, b, c        []float32
	cOff           int // where C starts inside c; guards before and after
}

const guardLen = 37

func newGemmCase(r *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda = max(ac, 1) + r.IntN(3)
	g.ldb = max(bc, 1) + r.IntN(3)
	g.ldc = max(n, 1) + r.IntN(3)
	fill := func(rows, ld int) []float32 {
		s := make([]float32, max(rows*ld, 1))
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	g.a = fill(ar, max(g.lda, 1))
	g.b = fill(br, max(g.ldb, 1))
	g.cOff = guardLen
	g.c = make([]float32, guardLen+m*g.ldc+guardLen)
	for i := range g.c {
		g.c[i] = guard
	}
	for i := 0; i < m; i++ {
		for j := 0; j < g.ldc; j++ {
			if j < n {
				g.c[g.cOff+i*g.ldc+j] = float32(r.NormFloat64())
				if beta == 0 && r.IntN(4) == 0 {
					g.c[g.cOff+i*g.ldc+j] = float32(math.NaN()) // must not be read
				}
			}
		}
	}
	return g
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
		g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc)
}

// run computes the case with f into a copy of C.
func (g *gemmCase) run(f func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) []float32 {
	c := append([]float32(nil), g.c...)
	f(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c[g.cOff:g.cOff+max(g.m*g.ldc-(g.ldc-g.n), 0)], g.ldc)
	return c
}

// check compares got against the reference, element by element, with a
// tolerance that grows with k, and checks that nothing outside C (guard
// bands and row padding) was written.
func (g *gemmCase) check(t *testing.T, got, want []float32) {
	t.Helper()
	eps := float64(math.Nextafter32(1, 2) - 1)
	bad := 0
	for idx := range got {
		i, j := (idx-g.cOff)/max(g.ldc, 1), (idx-g.cOff)%max(g.ldc, 1)
		inC := idx >= g.cOff && idx-g.cOff < g.m*g.ldc && j < g.n
		if !inC {
			if math.Float32bits(got[idx]) != math.Float32bits(guard) {
				t.Errorf("%v: wrote %v outside C at offset %d", g, got[idx], idx-g.cOff)
				return
			}
			continue
		}
		// Bound on the rounding error: (k+2)·eps·(|alpha|·Σ|a||b| + |beta·c|).
		var mag float64
		if g.alpha != 0 {
			for p := 0; p < g.k; p++ {
				var av, bv float32
				if g.transA {
					av = g.a[p*g.lda+i]
				} else {
					av = g.a[i*g.lda+p]
				}
				if g.transB {
					bv = g.b[j*g.ldb+p]
				} else {
					bv = g.b[p*g.ldb+j]
				}
				mag += math.Abs(float64(av) * float64(bv))
			}
			mag *= math.Abs(float64(g.alpha))
		}
		if g.beta != 0 {
			mag += math.Abs(float64(g.beta) * float64(g.c[idx]))
		}
		tol := float64(g.k+2)*eps*mag + 1e-30
		d := math.Abs(float64(got[idx]) - float64(want[idx]))
		if !(d <= tol) {
			if bad++; bad <= 3 {
				t.Errorf("%v: C[%d,%d] = %v, want %v (|diff| %.3g > tol %.3g)", g, i, j, got[idx], want[idx], d, tol)
			}
		}
	}
}

// sizes that stress tile edges of every kernel (MR 4/6/12, NR 4/16/32)
var edgeSizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129, 255, 256, 257, 300}

func randomDim(r *rand.Rand) int {
	if r.IntN(2) == 0 {
		return edgeSizes[r.IntN(len(edgeSizes))]
	}
	return 1 + r.IntN(300)
}

var scalars = []float32{0, 1, -0.75, 2.5}

func TestSgemmRandom(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	for _, tt := range kernels.TestTiers() {
		t.Run(tt.String(), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, uint64(tt.Tier)))
			packModes := []string{"", "none", "a", "b", "ab"} // every kernel variant and edge path
			var cpus []CPU
			for _, mode := range packModes {
				cpus = append(cpus, cpuFor(t, tt, CPUOptions{GemmPack: mode}))
			}
			for it := 0; it < n; it++ {
				g := newGemmCase(r, it&1 != 0, it&2 != 0, randomDim(r), randomDim(r), randomDim(r),
					scalars[r.IntN(len(scalars))], scalars[r.IntN(len(scalars))])
				g.check(t, g.run(sgemmOnCPU(cpus[it%len(cpus)])), g.run(SgemmRef))
				if t.Failed() {
					t.Logf("GemmPack %q", packModes[it%len(packModes)])
					return
				}
			}
		})
	}
}

func TestSgemmZeroSizes(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(2, 0))
		for _, m := range []int{0, 1, 5} {
			for _, n := range []int{0, 1, 17} {
				for _, k := range []int{0, 1, 33} {
					for _, ab := range [][2]float32{{1, 0}, {0, 0}, {0, 2}, {1.5, -1}} {
						g := newGemmCase(r, k%2 == 1, n%2 == 1, m, n, k, ab[0], ab[1])
						g.check(t, g.run(sgemmOnCPU(cpu)), g.run(SgemmRef))
					}
				}
			}
		}
	})
}

// TestSgemmLarge crosses every cache block boundary (KC, MC, NC) at least once.
func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large shapes in -short mode")
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		kn := cpu.kern()
		r := rand.New(rand.NewPCG(3, 0))
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			m, n, k := kn.mc+kn.mr+1, kn.nr*3+5, kn.kc*2+3
			g := newGemmCase(r, tr[0], tr[1], m, n, k, 1, 0.5)
			g.check(t, g.run(sgemmOnCPU(cpu)), g.run(SgemmRef))
		}
		if kn.nc < 2048 {
			g := newGemmCase(r, false, true, 13, kn.nc+kn.nr+3, 37, -1, 1)
			g.check(t, g.run(sgemmOnCPU(cpu)), g.run(SgemmRef))
		}
	})
}

// TestSgemmThreadsBitIdentical checks the result does not depend on the
// number of threads.
func TestSgemmThreadsBitIdentical(t *testing.T) {
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(4, 0))
		prev := runtime.GOMAXPROCS(0)
		defer runtime.GOMAXPROCS(prev)
		for it := 0; it < 12; it++ {
			g := newGemmCase(r, it&1 != 0, it&2 != 0, 50+r.IntN(250), 50+r.IntN(250), 50+r.IntN(300), 1.25, scalars[it%len(scalars)])
			var first []float32
			for _, procs := range []int{1, 2, 3, 4, 7} {
				runtime.GOMAXPROCS(procs)
				got := g.run(sgemmOnCPU(cpu))
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%v: GOMAXPROCS=%d differs from 1 at %d: %v vs %v", g, procs, i, got[i], first[i])
					}
				}
			}
		}
	})
}

func TestSgemmPanicsNamingShapes(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic for a short slice")
		}
		if s := fmt.Sprint(r); s != "tensor.Sgemm: B is 4×3 with row stride 3 and needs 12 elements, has 11 (m=2 n=3 k=4)" {
			t.Fatalf("panic message %q", s)
		}
	}()
	Sgemm(false, false, 2, 3, 4, 1, make([]float32, 8), 4, make([]float32, 11), 3, 0, make([]float32, 6), 3)
}

func TestSgemmSteadyStateNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		m, n, k := 200, 300, 150
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		sgemm := sgemmOnCPU(cpu)
		sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) // warm the pools
		allocs := testing.AllocsPerRun(20, func() { sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		if allocs > 0.5 {
			t.Fatalf("Sgemm allocates %.1f times per call in steady state", allocs)
		}
	})
}

// TestSgemmConcurrentCallers runs Sgemm from several goroutines at once
// (they share the worker pool) and checks each result.
func TestSgemmConcurrentCallers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	cases := make([]*gemmCase, 6)
	want := make([][]float32, len(cases))
	for i := range cases {
		cases[i] = newGemmCase(r, i%2 == 0, i%3 == 0, 60+r.IntN(120), 60+r.IntN(120), 60+r.IntN(120), 1, 0.5)
		want[i] = cases[i].run(Sgemm)
	}
	done := make(chan error)
	for i := range cases {
		go func() {
			for rep := 0; rep < 20; rep++ {
				got := cases[i].run(Sgemm)
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
						done <- fmt.Errorf("%v: concurrent result differs at %d", cases[i], j)
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range cases {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestPackA checks packA (and PackA12AVX2 under it, for 12-row panels of a
// row-major A, where the CPU has AVX2) against the packing's definition on
// ragged shapes: rows past mc and every kc mod 8.
func TestPackA(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 0))
	for _, mr := range []int{4, 6, 12} {
		for _, trans := range []bool{false, true} {
			for _, sh := range [][3]int{{12, 8, 8}, {12, 1, 3}, {24, 17, 40}, {25, 35, 50}, {37, 192, 1031}, {5, 9, 9}, {13, 64, 64}} {
				mc, kc, ld := sh[0], sh[1], sh[2]
				i0, p0 := 1, 2
				rows, cols := i0+mc, p0+kc // op(A)'s extent read
				if trans {
					rows, cols = cols, rows
				}
				ld = max(ld, cols)
				a := make([]float32, rows*ld)
				for i := range a {
					a[i] = r.Float32() - 0.5
				}
				panels := ceilDiv(mc, mr)
				got := make([]float32, panels*mr*kc)
				for i := range got {
					got[i] = float32(math.NaN()) // every element must be written
				}
				packA(got, a, ld, trans, i0, mc, p0, kc, mr)
				for q := 0; q < panels; q++ {
					for p := 0; p < kc; p++ {
						for i := 0; i < mr; i++ {
							want := float32(0)
							if row := q*mr + i; row < mc {
								if trans {
									want = a[(p0+p)*ld+i0+row]
								} else {
									want = a[(i0+row)*ld+p0+p]
								}
							}
							if g := got[q*kc*mr+p*mr+i]; math.Float32bits(g) != math.Float32bits(want) {
								t.Fatalf("mr %d trans %v mc %d kc %d ld %d: panel %d (p %d, i %d) = %v, want %v", mr, trans, mc, kc, ld, q, p, i, g, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmPackRowsExact checks that packing a row-major A whose stride
// crowds L1 (packRowsMin: m, n ≥ 512 on the AVX-512 tier) changes no bit
// against reading A in place (GemmPack "none").
func TestSgemmPackRowsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("a 520×530×70 product per tier in -short mode")
	}
	for _, tt := range kernels.TestTiers() {
		kn := cpuFor(t, tt, CPUOptions{}).kern()
		none := cpuFor(t, tt, CPUOptions{GemmPack: "none"}).kern()
		r := rand.New(rand.NewPCG(21, 0))
		const m, n, k, lda = 520, 530, 70, 1024
		a := make([]float32, m*lda)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		if pA, _ := kn.packing(false, false, m, n, lda); kn.packRowsMin > 0 && !pA {
			t.Fatalf("%s: A with stride %d not packed", tt, lda)
		}
		got, want := make([]float32, m*n), make([]float32, m*n)
		sgemm(kn, false, false, m, n, k, 1, a, lda, b, n, 0, got, n)
		sgemm(none, false, false, m, n, k, 1, a, lda, b, n, 0, want, n)
		for i, v := range want {
			if !sameBits(got[i], v) {
				t.Fatalf("%s: C[%d] = %v packed, %v in place", tt, i, got[i], v)
			}
		}
	}
}

// TestGemmKeepB checks gemmScratch.keepB: calls on one scratch with the
// same B reuse its packing, whole or edge panel, as m crosses the B
// packing threshold, and give what a fresh scratch gives; after
// resetScratchB, a B changed in place is packed again.
func TestGemmKeepB(t *testing.T) {
	for _, tt := range kernels.TestTiers() {
		kn := cpuFor(t, tt, CPUOptions{}).kern()
		r := rand.New(rand.NewPCG(22, 0))
		const k = 40
		for _, n := range []int{64, 70, 5} {
			b := make([]float32, k*n)
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			s := getGemmScratch(kn)
			s.resetScratchB()
			s.keepB = true
			for call, m := range []int{50, kn.packBMinM + 30, 13, kn.packBMinM + 1, 0, 50} {
				if m == 0 { // B changed in place, the caller resets
					for i := range b {
						b[i] = -0.5*b[i] + 1
					}
					s.resetScratchB()
					continue
				}
				a := make([]float32, m*k)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				got, want := make([]float32, m*n), make([]float32, m*n)
				gemmSerial(kn, s, false, false, m, n, k, 1, a, k, b, n, 0, got, n)
				fresh := getGemmScratch(kn)
				fresh.resetScratchB()
				gemmSerial(kn, fresh, false, false, m, n, k, 1, a, k, b, n, 0, want, n)
				gemmScratches.Put(fresh)
				for i, v := range want {
					if !sameBits(got[i], v) {
						t.Fatalf("%s: n %d, call %d (m %d): C[%d] = %v, want %v", tt, n, call, m, i, got[i], v)
					}
				}
			}
			s.keepB = false
			s.resetScratchB()
			gemmScratches.Put(s)
		}
	}
}
