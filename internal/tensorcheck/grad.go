package tensorcheck

import (
	"math"
	"testing"
)

// Finite-difference gradient checks: an analytic gradient against central
// differences of a scalar function of the values, which are perturbed in
// place one at a time and restored.

// GradTol is the gradient checks' tolerance: max|analytic − numeric| ≤
// GradTol · max(|analytic|, |numeric|) over the coordinates.
const GradTol = 1e-2

// GradStep returns a finite-difference step for values v: 1% of their
// largest magnitude, at least 1e-3.
func GradStep(v []float32) float64 { return 1e-2 * math.Max(MaxAbs(v), 0.1) }

// Numeric is the central difference of a function with respect to each
// value, with the one-sided differences that reveal a kink.
type Numeric struct{ Central, Fwd, Bwd []float64 }

// NumericGrad returns the differences of f with respect to each of the
// values data returns, at step h. It calls data anew for every write: a
// tensor on a GPU needs its Data again after f ran for a write to reach
// the device.
func NumericGrad(data func() []float32, h float64, f func() float64) Numeric {
	n := len(data())
	g := Numeric{make([]float64, n), make([]float64, n), make([]float64, n)}
	l0 := f()
	for i := range n {
		g.Central[i], g.Fwd[i], g.Bwd[i] = numericAt(data, i, h, l0, f)
	}
	return g
}

// numericAt returns the central, forward and backward differences of f at
// value i, l0 being f at the unperturbed values.
func numericAt(data func() []float32, i int, h, l0 float64, f func() float64) (central, fwd, bwd float64) {
	orig := data()[i]
	vp, vm := float32(float64(orig)+h), float32(float64(orig)-h)
	data()[i] = vp
	lp := f()
	data()[i] = vm
	lm := f()
	data()[i] = orig
	return (lp - lm) / (float64(vp) - float64(vm)), (lp - l0) / (float64(vp) - float64(orig)), (l0 - lm) / (float64(orig) - float64(vm))
}

// CheckGrad fails t unless got, the analytic gradient of f with respect to
// the values data returns, agrees with the central differences at step h
// (see CheckNumeric). With kinks (piecewise-linear functions: ReLU, max
// pooling) a coordinate that disagrees is retried with smaller steps, as a
// kink within h of the point bends the central difference; one that sits on
// a kink at every step is skipped, at most a tenth of them.
func CheckGrad(t testing.TB, what string, got []float32, data func() []float32, h float64, f func() float64, kinks bool) {
	t.Helper()
	CheckNumeric(t, what, got, NumericGrad(data, h, f), func(i int) bool {
		if !kinks {
			return false
		}
		l0 := f()
		for _, hh := range []float64{h / 4, h / 16, h / 64} {
			c, fw, bw := numericAt(data, i, hh, l0, f)
			if math.Abs(fw-bw) <= 1e-2*math.Max(math.Abs(c), 1) && math.Abs(c-float64(got[i])) <= GradTol*math.Max(math.Abs(c), 1) {
				return true
			}
		}
		return false
	})
}

// CheckNumeric fails t unless max|got − want.Central| ≤ GradTol·scale, the
// scale being the largest magnitude of either; a numeric gradient that is
// about 0 everywhere fails too (the check would prove nothing). retry, when
// not nil, may accept a coordinate that disagrees.
func CheckNumeric(t testing.TB, what string, got []float32, want Numeric, retry func(i int) bool) {
	t.Helper()
	if len(got) != len(want.Central) {
		t.Errorf("%s: %d gradient values, want %d", what, len(got), len(want.Central))
		return
	}
	scale, maxNum := 0.0, 0.0
	for i, w := range want.Central {
		scale = math.Max(scale, math.Max(math.Abs(w), math.Abs(float64(got[i]))))
		maxNum = math.Max(maxNum, math.Abs(w))
	}
	if maxNum < 1e-3 {
		t.Errorf("%s: numeric gradient is ~0 (max %.3g): the check would prove nothing", what, maxNum)
		return
	}
	retried, worst, wi := 0, 0.0, -1
	for i, w := range want.Central {
		d := math.Abs(float64(got[i]) - w)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > GradTol*scale && retry != nil && retry(i) {
			retried++
			continue
		}
		if d > worst {
			worst, wi = d, i
		}
	}
	if retried > len(got)/10+1 {
		t.Errorf("%s: %d of %d coordinates sit near kinks: move the test input", what, retried, len(got))
	}
	if worst > GradTol*scale {
		t.Errorf("%s: max|analytic − numeric| = %.4g at %d (analytic %.6g, numeric %.6g) > %.0e·%.4g",
			what, worst, wi, got[wi], want.Central[wi], GradTol, scale)
	}
}
