// Package tensorcheck holds what graft's tests share to check float
// results: walking the CPU kernel tiers, guard bands around buffers,
// random values, and comparisons of values and of named states within a
// tolerance or bit for bit.
//
// It imports nothing of graft but kernels, so that every package's tests
// can use it, tensor's own (package tensor) included.
package tensorcheck

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Guard is the value guard bands hold: a NaN whose payload no kernel
// computes, so a write out of bounds replaces it with something else.
var Guard = math.Float32frombits(0x7fc0dead)

// GuardLen is the length of a guard band: odd, longer than any vector.
const GuardLen = 37

// IsGuard reports whether v is Guard, bit for bit.
func IsGuard(v float32) bool { return math.Float32bits(v) == math.Float32bits(Guard) }

// Guarded returns n zeros inside a buffer that holds GuardLen guards on
// either side, and that buffer (for CheckGuards).
func Guarded(n int) (s, buf []float32) {
	buf = make([]float32, GuardLen+n+GuardLen)
	Fill(buf[:GuardLen], Guard)
	Fill(buf[GuardLen+n:], Guard)
	return buf[GuardLen : GuardLen+n], buf
}

// CheckGuards fails t when an element of the guard bands of buf (a buffer
// from Guarded) is not Guard: something wrote outside the slice.
func CheckGuards(t testing.TB, what string, buf []float32) {
	t.Helper()
	for i, v := range buf {
		if (i < GuardLen || i >= len(buf)-GuardLen) && !IsGuard(v) {
			t.Fatalf("%s: wrote outside the slice: guard-band element %d of %d is %v", what, i, len(buf), v)
		}
	}
}

// Fill sets every element of s to v.
func Fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// Normal returns n standard normal values drawn from r.
func Normal(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// MaxAbs returns max |a[i]| (0 for no values; NaN is passed over).
func MaxAbs(a []float32) float64 {
	var m float64
	for _, v := range a {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// MaxAbsDiff returns max |a[i] − b[i]|, +Inf when the lengths differ and
// NaN when a difference is NaN.
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return d
		}
		m = math.Max(m, d)
	}
	return m
}

// CloseTo fails t unless got and want are as long and
// max|got − want| ≤ rel·max|want| (a NaN anywhere in got or want fails).
func CloseTo(t testing.TB, what string, got, want []float32, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	d, s := MaxAbsDiff(got, want), MaxAbs(want)
	if !(d <= rel*s) {
		t.Errorf("%s: max|got − want| = %.3g > %.0e · max|want| (%.3g)", what, d, rel, s)
	}
}

// BitsEqual reports whether a and b hold the same float32 values bit for
// bit (so −0 is not +0, and a NaN only matches the same NaN).
func BitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// SameState fails t unless got and want, the values of a model's tensors
// by name, hold the same names and values bit for bit.
func SameState(t testing.TB, what string, got, want map[string][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: no %s", what, name)
		case len(g) != len(want[name]):
			t.Errorf("%s: %s has %d values, want %d", what, name, len(g), len(want[name]))
		case !BitsEqual(g, want[name]):
			w := want[name]
			i := 0
			for i = range g {
				if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
					break
				}
			}
			t.Errorf("%s: %s changed: [%d] = %v, want %v", what, name, i, g[i], w[i])
		}
	}
}

// ChangedNames returns, sorted, the names whose values differ between two
// states of a model (a name missing from after counts as changed).
func ChangedNames(before, after map[string][]float32) []string {
	var out []string
	for name, b := range before {
		if a, ok := after[name]; !ok || !BitsEqual(b, a) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// SideBySide runs each of works in n goroutines at once, and returns a
// line for every run whose results differ in any bit from want[i] (the
// results of works[i] run alone): for checking that computations on
// different backends do not disturb one another.
func SideBySide(n int, works []func() [][]float32, want [][][]float32) []string {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for i, work := range works {
		for range n {
			wg.Go(func() {
				got := work()
				for k := range got {
					for j, v := range got[k] {
						if math.Float32bits(v) != math.Float32bits(want[i][k][j]) {
							mu.Lock()
							bad = append(bad, fmt.Sprintf("work %d, result %d: [%d] = %v, alone %v", i, k, j, v, want[i][k][j]))
							mu.Unlock()
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	return bad
}
