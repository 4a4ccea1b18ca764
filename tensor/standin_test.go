package tensor

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestFMA32 checks fma32 against x·y + z computed exactly and rounded once
// (math/big), on random operands and on sums that land near the halfway
// points between floats, where a double rounding would err.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 0))
	rnd := func() float32 {
		switch r.IntN(6) {
		case 0:
			return math.Float32frombits(r.Uint32()) // any bits: NaN, Inf, subnormal
		case 1:
			return float32(r.NormFloat64()) * 1e-40
		}
		return float32(r.NormFloat64())
	}
	for i := 0; i < 200000; i++ {
		x, y := rnd(), rnd()
		z := rnd()
		switch i % 3 {
		case 0: // z cancels most of x·y: the sum's low bits decide
			z = -float32(float64(x) * float64(y))
			z = math.Float32frombits(math.Float32bits(z) + uint32(r.IntN(5)) - 2)
		case 1: // x·y = half an ulp of z, less a bit that float64 drops:
			// a sum rounded twice lands on the halfway point and ties away
			z = math.Float32frombits(r.Uint32()&0x3fffffff | 0x3e000001) // odd last bit
			half := math.Nextafter32(z, float32(math.Inf(1))) - z
			x = 1 + 1.0/(1<<23)
			y = half / 2 * (1 - 1.0/(1<<23))
			if r.IntN(2) == 0 {
				x, z = -x, -z
			}
		}
		got := fma32(x, y, z)
		want := float32(math.FMA(float64(x), float64(y), float64(z)))
		if !isNaN32(x) && !isNaN32(y) && !isNaN32(z) && !math.IsInf(float64(want), 0) {
			bx, by, bz := new(big.Float).SetFloat64(float64(x)), new(big.Float).SetFloat64(float64(y)), new(big.Float).SetFloat64(float64(z))
			if !math.IsInf(float64(x), 0) && !math.IsInf(float64(y), 0) && !math.IsInf(float64(z), 0) {
				e := new(big.Float).SetPrec(400).Mul(bx, by)
				e.Add(e, bz)
				want, _ = e.Float32()
				if want == 0 { // the sign of an exact zero sum: as IEEE rounds to nearest
					want = float32(math.FMA(float64(x), float64(y), float64(z)))
				}
			}
		}
		if math.Float32bits(got) != math.Float32bits(want) && !(isNaN32(got) && isNaN32(want)) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), want %g (%#x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
}

func isNaN32(v float32) bool { return v != v }

// TestSgemmStandInMatchesAssembly checks the stand-in of the AVX-512
// microkernel against the assembly bit for bit, in every variant, with NaN
// guards around the C tile; it needs AVX-512 hardware (elsewhere the
// stand-in runs in every tier-walking test, against the references).
func TestSgemmStandInMatchesAssembly(t *testing.T) {
	if ok, why := kernels.Supported(kernels.AVX512); !ok {
		t.Skip(why)
	}
	asm, si := gemmKernelFor(kernels.AVX512), standInKernelFor(kernels.AVX512)
	if si.id != kidStandIn || si.mr != asm.mr || si.nr != asm.nr || si.kc != asm.kc || si.mc != asm.mc || si.nc != asm.nc || si.conv16 != asm.conv16 {
		t.Fatalf("stand-in %+v, assembly %+v: the geometry differs", *si, *asm)
	}
	r := rand.New(rand.NewPCG(42, 0))
	MR, NR := asm.mr, asm.nr
	for _, kc := range []int{1, 2, 3, 4, 5, 7, 33, 256} {
		for aMode := aPackedPanel; aMode <= aTransInPlace; aMode++ {
			for _, bPacked := range []bool{true, false} {
				for _, beta := range []float32{0, 1, -0.75} {
					lda, ldb, ldc := kc+3, NR+5, NR+7
					if aMode == aTransInPlace {
						lda = MR + 3
					}
					a := make([]float32, max(kc*MR, MR*lda, kc*lda))
					for i := range a {
						a[i] = float32(r.NormFloat64())
					}
					b, c0 := sgemmTestBC(r, kc, MR, NR, ldb, ldc, 1)
					cA, cS := append([]float32(nil), c0...), append([]float32(nil), c0...)
					bl := ldb
					if bPacked {
						bl = 0
					}
					asm.call(kc, a, aMode, lda, b, bPacked, bl, cA[ldc:], ldc, 1.25, beta)
					si.call(kc, a, aMode, lda, b, bPacked, bl, cS[ldc:], ldc, 1.25, beta)
					what := fmt.Sprintf("kc=%d aMode=%d bPacked=%v beta=%v", kc, aMode, bPacked, beta)
					for i := range cA {
						if math.Float32bits(cA[i]) != math.Float32bits(cS[i]) {
							t.Fatalf("%s: c[%d] = %v (stand-in), %v (assembly)", what, i, cS[i], cA[i])
						}
					}
				}
			}
		}
	}
}

// TestSgemmShortKernels checks the AVX-512 tier's 3- and 6-row
// microkernels (callShort), the assembly against its stand-in and both
// against the first rows of the 12-row kernel on the same panel padded
// with zero rows, bit for bit, B packed and read in place, with NaN
// guards around the C tile; it needs AVX-512 hardware.
func TestSgemmShortKernels(t *testing.T) {
	if ok, why := kernels.Supported(kernels.AVX512); !ok {
		t.Skip(why)
	}
	asm, si := gemmKernelFor(kernels.AVX512), standInKernelFor(kernels.AVX512)
	r := rand.New(rand.NewPCG(44, 0))
	MR, NR := asm.mr, asm.nr
	for _, mr := range []int{3, 6} {
		for _, kc := range []int{1, 2, 3, 5, 33, 256} {
			for _, bPacked := range []bool{true, false} {
				for _, ab := range [][2]float32{{1, 0}, {1.25, 0}, {1, 1}, {-0.5, -0.75}} {
					alpha, beta := ab[0], ab[1]
					ldb, ldc := NR+5, NR+7
					short := make([]float32, kc*mr) // a[p*mr+i]
					full := make([]float32, kc*MR)  // the same rows in a 12-row panel
					for p := 0; p < kc; p++ {
						for i := 0; i < mr; i++ {
							v := float32(r.NormFloat64())
							short[p*mr+i], full[p*MR+i] = v, v
						}
					}
					b, c0 := sgemmTestBC(r, kc, MR, NR, ldb, ldc, 0)
					want := slices.Clone(c0)
					asm.call(kc, full, aPackedPanel, 0, b, bPacked, ldb, want, ldc, alpha, beta)
					name := fmt.Sprintf("mr=%d kc=%d bPacked=%v alpha=%v beta=%v", mr, kc, bPacked, alpha, beta)
					for _, kn := range []*gemmKernel{asm, si} {
						got := slices.Clone(c0)
						kn.callShort(mr, kc, short, b, bPacked, ldb, got, ldc, alpha, beta)
						for i := range got {
							w := want[i]
							if i/ldc >= mr { // rows past the short tile: untouched
								w = c0[i]
							}
							if math.Float32bits(got[i]) != math.Float32bits(w) && !(isNaN32(got[i]) && isNaN32(w)) {
								t.Fatalf("%s (%v): c[%d][%d] = %v, want %v", name, kn.id, i/ldc, i%ldc, got[i], w)
							}
						}
					}
				}
			}
		}
	}
}

// sgemmTestBC returns a microkernel test's B (kc rows of nr, in place
// with stride ldb or packed, magnitudes 2^±20) and C (an mr×nr tile of
// normal values from row row0 on, stride ldc, in mr+2 rows of NaN
// guards).
func sgemmTestBC(r *rand.Rand, kc, mr, nr, ldb, ldc, row0 int) (b, c []float32) {
	b = make([]float32, max(kc*nr, kc*ldb))
	for i := range b {
		b[i] = float32(r.NormFloat64()) * float32(math.Exp2(float64(r.IntN(40)-20)))
	}
	c = make([]float32, (mr+2)*ldc)
	for i := range c {
		c[i] = float32(math.NaN())
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			c[(i+row0)*ldc+j] = float32(r.NormFloat64())
		}
	}
	return b, c
}
