package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/graftml/graft/tensor"
)

// TestInitialisers checks Kaiming and Xavier, normal and uniform, against
// their formulas: the sample standard deviation of a large weight within
// 2% of std, uniform draws inside ±√3·std and reaching near it, the mean
// near 0, the same values for the same seed and different ones for
// another.
func TestInitialisers(t *testing.T) {
	const in, out, k = 96, 128, 3 // a convolution weight [O, I, 3, 3]: fan-in 864, fan-out 1152
	cases := []struct {
		name   string
		normal bool
		init   func(w *tensor.Tensor, normal bool, seed uint64)
		std    float64
	}{
		{"kaiming fan-in", true, func(w *tensor.Tensor, n bool, s uint64) { Kaiming(w, FanIn, math.Sqrt2, n, s) }, math.Sqrt2 / math.Sqrt(in*k*k)},
		{"kaiming fan-out", false, func(w *tensor.Tensor, n bool, s uint64) { Kaiming(w, FanOut, math.Sqrt2, n, s) }, math.Sqrt2 / math.Sqrt(out*k*k)},
		{"xavier normal", true, func(w *tensor.Tensor, n bool, s uint64) { Xavier(w, 1, n, s) }, math.Sqrt(2.0 / (in*k*k + out*k*k))},
		{"xavier uniform", false, func(w *tensor.Tensor, n bool, s uint64) { Xavier(w, 1.5, n, s) }, 1.5 * math.Sqrt(2.0/(in*k*k+out*k*k))},
	}
	for _, c := range cases {
		w := tensor.Zeros(out, in, k, k)
		c.init(w, c.normal, 7)
		var sum, sq, maxAbs float64
		for _, v := range w.Data() {
			sum += float64(v)
			sq += float64(v) * float64(v)
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		n := float64(w.Len())
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		if math.Abs(std/c.std-1) > 0.02 || math.Abs(mean) > 0.02*c.std {
			t.Errorf("%s: mean %.3g, std %.4g, want 0 and %.4g", c.name, mean, std, c.std)
		}
		if !c.normal && (maxAbs > math.Sqrt(3)*c.std*1.0001 || maxAbs < math.Sqrt(3)*c.std*0.99) {
			t.Errorf("%s: max |w| %.4g, want just under √3·std = %.4g", c.name, maxAbs, math.Sqrt(3)*c.std)
		}
		again, other := tensor.Zeros(out, in, k, k), tensor.Zeros(out, in, k, k)
		c.init(again, c.normal, 7)
		c.init(other, c.normal, 8)
		if !slices.Equal(w.Data(), again.Data()) {
			t.Errorf("%s: the same seed gave different weights", c.name)
		}
		if slices.Equal(w.Data(), other.Data()) {
			t.Errorf("%s: seeds 7 and 8 gave the same weights", c.name)
		}
	}
	if fi, fo := Fans(tensor.Zeros(10, 3, 5, 5)); fi != 75 || fo != 250 {
		t.Errorf("Fans of [10 3 5 5] = %d, %d; want 75, 250", fi, fo)
	}
	if fi, fo := Fans(tensor.Zeros(20, 30)); fi != 30 || fo != 20 {
		t.Errorf("Fans of [20 30] = %d, %d; want 30, 20", fi, fo)
	}
}
