package data

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// labelledSet returns a Set of 2x1x1 examples where example i has X values
// (i, -i) and the given labels, with the given number of classes.
func labelledSet(labels []int, classes int) *Set {
	s := &Set{Labels: append([]int(nil), labels...), Shape: []int{2, 1, 1}, Mean: []float32{0}, Std: []float32{1}}
	for c := range classes {
		s.Classes = append(s.Classes, string(rune('a'+c)))
	}
	for i := range labels {
		s.X = append(s.X, float32(i), -float32(i))
	}
	return s
}

// ids returns the original example index of each example of s (from X).
func ids(t *testing.T, s *Set) []int {
	t.Helper()
	out := make([]int, s.Len())
	for j := range out {
		i := int(s.X[2*j])
		if s.X[2*j+1] != -float32(i) {
			t.Fatalf("example %d: X = %v, %v: values of two examples mixed", j, s.X[2*j], s.X[2*j+1])
		}
		out[j] = i
	}
	return out
}

// classLabels returns n0 labels 0, n1 labels 1, ... interleaved.
func classLabels(counts ...int) []int {
	var labels []int
	left := slices.Clone(counts)
	for more := true; more; {
		more = false
		for c := range left {
			if left[c] > 0 {
				labels = append(labels, c)
				left[c]--
				more = true
			}
		}
	}
	return labels
}

func TestLoadAndSubset(t *testing.T) {
	s := labelledSet([]int{0, 1, 2, 1}, 3)
	x := make([]float32, 3*2)
	labels := make([]int, 3)
	if err := s.Load(x, labels, []int{3, 0, 3}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x, []float32{3, -3, 0, 0, 3, -3}) || !slices.Equal(labels, []int{1, 0, 1}) {
		t.Fatalf("Load: x %v labels %v", x, labels)
	}
	if err := s.Load(x[:2], nil, []int{2}); err != nil || x[0] != 2 {
		t.Fatalf("Load with nil labels: %v, x %v", err, x)
	}
	for _, c := range []struct {
		x      []float32
		labels []int
		idx    []int
		substr string
	}{
		{make([]float32, 2), make([]int, 1), []int{4}, "index 4"},
		{make([]float32, 2), make([]int, 1), []int{-1}, "index -1"},
		{make([]float32, 3), make([]int, 1), []int{0}, "x has 3 elements, want 2"},
		{make([]float32, 2), make([]int, 2), []int{0}, "labels has 2 elements, want 1"},
	} {
		if err := s.Load(c.x, c.labels, c.idx); err == nil || !strings.Contains(err.Error(), c.substr) {
			t.Errorf("Load(idx %v): err = %v, want %q", c.idx, err, c.substr)
		}
	}

	sub := s.Subset([]int{2, 0})
	if sub.Len() != 2 || !slices.Equal(sub.Labels, []int{2, 0}) || !slices.Equal(ids(t, sub), []int{2, 0}) {
		t.Fatalf("Subset: labels %v X %v", sub.Labels, sub.X)
	}
	sub.X[0], sub.Classes[0], sub.Shape[0] = 99, "z", 7
	if s.X[4] != 2 || s.Classes[0] != "a" || s.Shape[0] != 2 {
		t.Fatal("Subset shares memory with its source")
	}
	if err := sub.Validate(); err == nil {
		t.Fatal("Validate accepted a Shape that does not match X")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "index 9") {
				t.Errorf("Subset out of range: recover() = %v", r)
			}
		}()
		s.Subset([]int{9})
	}()
	shape := s.ExampleShape()
	shape[0] = 100
	if s.Shape[0] != 2 {
		t.Fatal("ExampleShape returned the Set's own slice")
	}
}

func TestShuffle(t *testing.T) {
	s := labelledSet(make([]int, 10), 1)
	p := s.Shuffle(42)
	if q := s.Shuffle(42); !slices.Equal(p, q) {
		t.Fatalf("same seed, different permutations: %v %v", p, q)
	}
	sorted := slices.Sorted(slices.Values(p))
	for i, v := range sorted {
		if v != i {
			t.Fatalf("Shuffle(42) = %v is not a permutation", p)
		}
	}
	// Golden value: the permutation must not change across machines or Go
	// releases (PCG's stream is specified; the shuffle is this package's).
	if want := []int{3, 2, 5, 0, 1, 9, 7, 8, 4, 6}; !slices.Equal(p, want) {
		t.Errorf("Shuffle(42) = %v, want %v", p, want)
	}
	if slices.Equal(p, s.Shuffle(43)) {
		t.Errorf("seeds 42 and 43 give the same permutation %v", p)
	}
}

func TestSplit(t *testing.T) {
	counts := []int{50, 30, 7, 0, 13}
	s := labelledSet(classLabels(counts...), len(counts))
	fracs := []float64{0.7, 0.2, 0.1}
	parts, err := s.Split(1, fracs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	seen := map[int]bool{}
	for pi, p := range parts {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		for j, i := range ids(t, p) {
			if seen[i] {
				t.Fatalf("example %d in two parts", i)
			}
			seen[i] = true
			if p.Labels[j] != s.Labels[i] {
				t.Fatalf("part %d: example %d has label %d, source %d", pi, i, p.Labels[j], s.Labels[i])
			}
		}
		// Stratified: each class in proportion, within one example.
		for c, n := range p.Counts() {
			if want := fracs[pi] * float64(counts[c]); math.Abs(float64(n)-want) > 1 {
				t.Errorf("part %d class %d: %d examples, want about %.1f", pi, c, n, want)
			}
		}
		// Shuffled: not sorted by class.
		if p.Len() > 10 && slices.IsSorted(p.Labels) {
			t.Errorf("part %d is sorted by class: %v", pi, p.Labels)
		}
	}
	if len(seen) != s.Len() {
		t.Fatalf("parts cover %d of %d examples", len(seen), s.Len())
	}
	again, _ := s.Split(1, fracs...)
	other, _ := s.Split(2, fracs...)
	for i := range parts {
		if !slices.Equal(ids(t, parts[i]), ids(t, again[i])) {
			t.Fatalf("same seed, different part %d", i)
		}
	}
	if slices.Equal(ids(t, parts[0]), ids(t, other[0])) {
		t.Error("seeds 1 and 2 give the same split")
	}

	// Fractions summing to less than 1 leave examples out.
	half, err := s.Split(3, 0.5)
	if err != nil || !slices.Equal(half[0].Counts(), []int{25, 15, 4, 0, 7}) {
		t.Fatalf("Split(0.5): %v counts %v", err, half[0].Counts())
	}
	// Rounding: 1/3 each still covers everything.
	thirds, err := s.Split(4, 1.0/3, 1.0/3, 1.0/3)
	if err != nil || thirds[0].Len()+thirds[1].Len()+thirds[2].Len() != s.Len() {
		t.Fatalf("Split(thirds): %v", err)
	}

	for _, bad := range [][]float64{nil, {0.8, 0.3}, {-0.1, 0.5}, {math.NaN()}} {
		if _, err := s.Split(1, bad...); err == nil {
			t.Errorf("Split(%v) accepted", bad)
		}
	}
	broken := labelledSet([]int{0, 5}, 2)
	if _, err := broken.Split(1, 0.5, 0.5); err == nil || !strings.Contains(err.Error(), "label 5") {
		t.Errorf("Split of a Set with a bad label: %v", err)
	}
}

func TestFewShot(t *testing.T) {
	s := labelledSet(classLabels(10, 4, 6), 3)
	f, err := s.FewShot(4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Counts(), []int{4, 4, 4}) {
		t.Fatalf("Counts = %v", f.Counts())
	}
	got := ids(t, f)
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != 12 {
		t.Fatalf("repeated examples: %v", got)
	}
	for j, i := range got {
		if f.Labels[j] != s.Labels[i] {
			t.Fatalf("label mismatch for example %d", i)
		}
	}
	g, _ := s.FewShot(4, 7)
	if !slices.Equal(got, ids(t, g)) {
		t.Fatal("same seed, different few-shot sets")
	}
	h, _ := s.FewShot(4, 8)
	if slices.Equal(got, ids(t, h)) {
		t.Error("seeds 7 and 8 pick the same examples")
	}
	_, err = s.FewShot(5, 7)
	if err == nil || !strings.Contains(err.Error(), `class 1 ("b") has only 4 examples, need 5`) {
		t.Fatalf("short class: err = %v", err)
	}
	if _, err := s.FewShot(0, 7); err == nil {
		t.Fatal("FewShot(0) accepted")
	}
}

func TestSetSatisfiesDataset(t *testing.T) {
	var _ interface {
		Len() int
		ExampleShape() []int
		NumClasses() int
		Load(x []float32, labels []int, idx []int) error
	} = (*Set)(nil)
}
