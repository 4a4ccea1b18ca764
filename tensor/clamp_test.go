package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// TestClampExact checks Clamp on every tier against the plain loop
// min(max(x, lo), hi) bit for bit (a NaN for a NaN), on ragged lengths (one cut into parts
// on several threads) with ±0, ±Inf, NaNs with payloads and the bounds
// themselves among the values, for bounds of either sign, equal bounds,
// signed-zero bounds and NaN bounds.
func TestClampExact(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := math.Float32frombits(0x7fc01234)
	bounds := [][2]float32{{0, 6}, {negZero, 6}, {-1, 1}, {0, negZero}, {negZero, 0}, {2, 2},
		{float32(math.Inf(-1)), 0}, {-3, float32(math.Inf(1))}, {nan, 6}, {0, nan}}
	sizes := []int{3*relu6Grain + 5}
	for n := range 70 {
		sizes = append(sizes, n)
	}
	for _, tier := range kernels.TestTiers() {
		cpu := cpuFor(t, tier, CPUOptions{})
		r := rand.New(rand.NewPCG(3, 4))
		for _, bd := range bounds {
			lo, hi := bd[0], bd[1]
			specials := []float32{0, negZero, lo, hi, -lo, -hi, 6, 1e-45, -1e-45,
				float32(math.Inf(1)), float32(math.Inf(-1)), nan, math.Float32frombits(0xffc05678)}
			for _, n := range sizes {
				x := withSpecials(r, n, specials)
				got := Full(7, n)
				got.MoveTo(cpu) // Clamp runs on its output's backend
				Clamp(got, x, lo, hi)
				in := x.Clone()
				in.MoveTo(cpu)
				Clamp(in, in, lo, hi) // in place
				for i, v := range x.data {
					want := min(max(v, lo), hi)
					if !sameClamp(got.data[i], want) || !sameClamp(in.data[i], want) {
						t.Fatalf("tier %s, n=%d: clamp(%v, %v, %v) = %#x (in place %#x), want %#x", tier, n, v, lo, hi,
							math.Float32bits(got.data[i]), math.Float32bits(in.data[i]), math.Float32bits(want))
					}
				}
			}
		}
	}
}

// sameClamp reports whether got is want bit for bit, or both are NaN: the
// sign and quiet bit of a NaN out of Go's min and max depend on how the
// compiler lowers them (amd64 negates around MINSS), not on the language.
func sameClamp(got, want float32) bool {
	if want != want {
		return got != got
	}
	return math.Float32bits(got) == math.Float32bits(want)
}
