package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
)

// optimLens are the lengths the updates are checked at: every length up to
// 100 (all vector tails), then lengths that split over the pool.
func optimLens() []int {
	var ns []int
	for n := 0; n <= 100; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1000, 4099, optimChunk+3, optimParallelMin, optimParallelMin+5, 3*optimParallelMin+13)
}

// optimArrays returns k arrays of n values inside guard bands, with their
// backing buffers; positive makes them non-negative (Adam's v).
func optimArrays(r *rand.Rand, n int, scale float32, positive bool) ([]float32, []float32) {
	d, buf := tensorcheck.Guarded(n)
	for i := range d {
		x := float32(r.NormFloat64()) * scale
		if r.IntN(13) == 0 {
			x = 0
		}
		if positive {
			x = x * x
		}
		d[i] = x
	}
	return d, buf
}

func checkSameBits(t *testing.T, name, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("%s: %s[%d] = %v (%#x), reference %v (%#x)", name, what, i, g, math.Float32bits(g), w, math.Float32bits(w))
		}
	}
}

type sgdCase struct {
	lr, mom, wd     float32
	nesterov, first bool
}

var sgdCases = []sgdCase{
	{0.1, 0, 0, false, false},
	{0.05, 0, 5e-4, false, false},
	{0.1, 0.9, 5e-4, false, true},
	{0.1, 0.9, 5e-4, false, false},
	{0.01, 0.9, 1e-2, true, true},
	{0.01, 0.9, 0, true, false},
}

type adamCase struct {
	lr, b1, b2, eps, wd float32
	step                int
	decoupled           bool
}

var adamCases = []adamCase{
	{1e-3, 0.9, 0.999, 1e-8, 0, 1, false},
	{1e-3, 0.9, 0.999, 1e-8, 1e-2, 7, false},
	{3e-4, 0.85, 0.99, 1e-6, 5e-2, 3, true},
}

// run applies the case on kernel set kn, or the plain reference when ref.
func (c adamCase) run(kn *gemmKernel, w, g, m, v []float32, ref bool) {
	bc1 := 1 - math.Pow(float64(c.b1), float64(c.step))
	bc2 := 1 - math.Pow(float64(c.b2), float64(c.step))
	stepSize, sq2 := float32(float64(c.lr)/bc1), float32(math.Sqrt(bc2))
	if !ref {
		adamUpdate(kn, w, g, m, v, c.lr, c.b1, c.b2, c.eps, c.wd, stepSize, sq2, c.decoupled)
		return
	}
	k := adamConsts{c.b1, 1 - c.b1, c.b2, 1 - c.b2, c.eps, c.wd, stepSize, sq2, float32(1 - float64(c.lr)*float64(c.wd))}
	adamRef(w, g, m, v, &k, c.decoupled)
}

// TestOptimUpdatesMatchReference checks SGDUpdate and AdamUpdate against
// their Go references bit for bit, on every tier, every tail length and
// lengths split over the pool, writing nothing outside the arrays.
func TestOptimUpdatesMatchReference(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 3)))
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(11, uint64(cpu.kern().tier)))
		for ci, c := range sgdCases {
			for _, n := range optimLens() {
				name := fmt.Sprintf("SGD case %d n=%d", ci, n)
				w, wb := optimArrays(r, n, 1, false)
				g, gb := optimArrays(r, n, 0.1, false)
				b, bb := optimArrays(r, n, 0.1, false)
				rw, rg, rbuf := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), b...)
				var buf, refBuf []float32
				if c.mom != 0 {
					buf, refBuf = b, rbuf
				}
				sgdUpdate(cpu.kern(), w, g, buf, c.lr, c.mom, c.wd, c.nesterov, c.first)
				sgdRef(rw, rg, refBuf, c.lr, c.mom, c.wd, c.nesterov, c.first)
				for _, bb := range [][]float32{wb, gb, bb} {
					tensorcheck.CheckGuards(t, name, bb)
				}
				checkSameBits(t, name, "w", w, rw)
				checkSameBits(t, name, "buf", b, rbuf)
				checkSameBits(t, name, "g", g, rg)
			}
		}
		for ci, c := range adamCases {
			for _, n := range optimLens() {
				name := fmt.Sprintf("Adam case %d n=%d", ci, n)
				w, wb := optimArrays(r, n, 1, false)
				g, gb := optimArrays(r, n, 0.1, false)
				m, mb := optimArrays(r, n, 0.01, false)
				v, vb := optimArrays(r, n, 0.01, true)
				rw, rg := append([]float32(nil), w...), append([]float32(nil), g...)
				rm, rv := append([]float32(nil), m...), append([]float32(nil), v...)
				c.run(cpu.kern(), w, g, m, v, false)
				c.run(nil, rw, rg, rm, rv, true)
				for _, bb := range [][]float32{wb, gb, mb, vb} {
					tensorcheck.CheckGuards(t, name, bb)
				}
				checkSameBits(t, name, "w", w, rw)
				checkSameBits(t, name, "m", m, rm)
				checkSameBits(t, name, "v", v, rv)
				checkSameBits(t, name, "g", g, rg)
			}
		}
	})
}

// TestOptimUpdatesThreadIndependent runs the updates of a large parameter
// at 1–4 threads: every run gives the same bits.
func TestOptimUpdatesThreadIndependent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	n := 5*optimParallelMin + 77
	r := rand.New(rand.NewPCG(12, 0))
	w0, _ := optimArrays(r, n, 1, false)
	g, _ := optimArrays(r, n, 0.1, false)
	m0, _ := optimArrays(r, n, 0.01, false)
	v0, _ := optimArrays(r, n, 0.01, true)
	var sw, sb, aw, am, av []float32
	for procs := 1; procs <= 4; procs++ {
		runtime.GOMAXPROCS(procs)
		w, b := append([]float32(nil), w0...), append([]float32(nil), m0...)
		for step := range 3 {
			SGDUpdate(w, g, b, 0.1, 0.9, 5e-4, true, step == 0)
		}
		w2, m, v := append([]float32(nil), w0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
		for step := range 3 {
			adamCase{1e-3, 0.9, 0.999, 1e-8, 1e-2, step + 1, step == 1}.run(cpuKernel(), w2, g, m, v, false)
		}
		if sw == nil {
			sw, sb = w, b
			aw, am, av = w2, m, v
			continue
		}
		name := fmt.Sprintf("GOMAXPROCS=%d", procs)
		checkSameBits(t, name, "SGD w", w, sw)
		checkSameBits(t, name, "SGD buf", b, sb)
		checkSameBits(t, name, "Adam w", w2, aw)
		checkSameBits(t, name, "Adam m", m, am)
		checkSameBits(t, name, "Adam v", v, av)
	}
}

// TestOptimUpdatesNoAllocs checks that the updates allocate nothing once
// the pool is warm, split over threads or not.
func TestOptimUpdatesNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, n := range []int{1000, 3 * optimParallelMin} {
		w, g, b, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		f := func() {
			SGDUpdate(w, g, b, 0.1, 0.9, 5e-4, false, false)
			SGDUpdate(w, g, nil, 0.1, 0, 5e-4, false, false)
			AdamUpdate(w, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1e-2, 0.05, true)
		}
		f()
		if a := testing.AllocsPerRun(20, f); a != 0 {
			t.Errorf("n=%d: %v allocations per update", n, a)
		}
	}
}

// BenchmarkSGDUpdate is SGD with momentum on 11 M floats (ResNet-18's
// parameter count): the fused update against its one-thread Go reference.
func BenchmarkSGDUpdate(b *testing.B) {
	const n = 11_000_000
	w, g, buf := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range w {
		w[i], g[i] = float32(i%97)*0.01, float32(i%89)*0.001
	}
	b.Run("fused", func(b *testing.B) {
		b.SetBytes(5 * 4 * n)
		for b.Loop() {
			SGDUpdate(w, g, buf, 1e-6, 0.9, 5e-4, false, false)
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(5 * 4 * n)
		for b.Loop() {
			sgdRef(w, g, buf, 1e-6, 0.9, 5e-4, false, false)
		}
	})
}

// BenchmarkAdamUpdate is Adam on 11 M floats.
func BenchmarkAdamUpdate(b *testing.B) {
	const n = 11_000_000
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range w {
		w[i], g[i] = float32(i%97)*0.01, float32(i%89)*0.001
	}
	b.SetBytes(7 * 4 * n)
	for b.Loop() {
		AdamUpdate(w, g, m, v, 1e-6, 0.9, 0.999, 1e-8, 0, 1e-5, 0.03, false)
	}
}
