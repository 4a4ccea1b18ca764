package tensorcheck

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// failures runs f on a recorder, in a goroutine of its own (Fatalf ends
// it), and returns what it recorded.
func failures(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failures
}

func TestCloseTo(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		got, want []float32
		fail      bool
	}{
		{[]float32{1, 2.0001}, []float32{1, 2}, false},
		{[]float32{1, 2.01}, []float32{1, 2}, true},
		{[]float32{1, nan}, []float32{1, 2}, true},
		{[]float32{1, 2}, []float32{1, nan}, true},
		{[]float32{1}, []float32{1, 2}, true},
		{[]float32{0, 0}, []float32{0, 0}, false},
		{[]float32{1e-9, 0}, []float32{0, 0}, true},
	} {
		fs := failures(t, func(tb testing.TB) { CloseTo(tb, "x", c.got, c.want, 1e-4) })
		if (len(fs) > 0) != c.fail {
			t.Errorf("CloseTo(%v, %v): failures %q, want failing %v", c.got, c.want, fs, c.fail)
		}
	}
}

func TestGuards(t *testing.T) {
	s, buf := Guarded(5)
	if len(s) != 5 || len(buf) != 5+2*GuardLen || !slices.Equal(s, make([]float32, 5)) {
		t.Fatalf("Guarded(5) = %v in %d", s, len(buf))
	}
	Fill(s, 3)
	if fs := failures(t, func(tb testing.TB) { CheckGuards(tb, "inside", buf) }); len(fs) != 0 {
		t.Errorf("writes inside the slice: %q", fs)
	}
	for _, i := range []int{0, GuardLen - 1, GuardLen + 5, len(buf) - 1} {
		_, buf := Guarded(5)
		buf[i] = float32(math.NaN()) // another NaN: not the guard
		if fs := failures(t, func(tb testing.TB) { CheckGuards(tb, "outside", buf) }); len(fs) != 1 {
			t.Errorf("a write at %d of %d: failures %q, want 1", i, len(buf), fs)
		}
	}
}

func TestSameState(t *testing.T) {
	want := map[string][]float32{"a": {1, 2}, "b": {0}}
	for _, c := range []struct {
		got   map[string][]float32
		fails int
	}{
		{map[string][]float32{"a": {1, 2}, "b": {0}}, 0},
		{map[string][]float32{"a": {1, 2}, "b": {float32(math.Copysign(0, -1))}}, 1},
		{map[string][]float32{"a": {1, 3}, "b": {0}}, 1},
		{map[string][]float32{"a": {1, 2}}, 2},
		{map[string][]float32{"a": {1}, "b": {0}}, 1},
	} {
		if fs := failures(t, func(tb testing.TB) { SameState(tb, "s", c.got, want) }); len(fs) != c.fails {
			t.Errorf("SameState(%v): failures %q, want %d", c.got, fs, c.fails)
		}
		if got := ChangedNames(want, c.got); (len(got) == 0) != (c.fails == 0) {
			t.Errorf("ChangedNames(%v) = %v", c.got, got)
		}
	}
}

func TestCheckGrad(t *testing.T) {
	v := []float32{0.5, -1, 2, 0.25}
	f := func() float64 { // Σ v³
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x) * float64(x)
		}
		return s
	}
	grad := func(k float32) []float32 {
		g := make([]float32, len(v))
		for i, x := range v {
			g[i] = k * x * x
		}
		return g
	}
	data := func() []float32 { return v }
	if fs := failures(t, func(tb testing.TB) { CheckGrad(tb, "3v²", grad(3), data, GradStep(v), f, false) }); len(fs) != 0 {
		t.Errorf("the right gradient: %q", fs)
	}
	if fs := failures(t, func(tb testing.TB) { CheckGrad(tb, "3.1v²", grad(3.1), data, GradStep(v), f, false) }); len(fs) != 1 {
		t.Errorf("a gradient 3%% off: failures %q, want 1", fs)
	}
	if !slices.Equal(v, []float32{0.5, -1, 2, 0.25}) {
		t.Errorf("the values were not restored: %v", v)
	}
	flat := func() float64 { return 7 }
	if fs := failures(t, func(tb testing.TB) { CheckGrad(tb, "flat", make([]float32, 4), data, 1e-2, flat, false) }); len(fs) != 1 {
		t.Errorf("a zero gradient proves nothing: failures %q, want 1", fs)
	}
}
