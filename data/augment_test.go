package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// augSet returns a Set of n random h×w×c examples with distinct values,
// normalised with the given mean and std (fill −mean/std).
func augSet(n, h, w, c int) *Set {
	r := rand.New(rand.NewPCG(1, 2))
	s := &Set{Shape: []int{h, w, c}, Classes: []string{"a", "b"}, Mean: []float32{0.25, 0.5, 0.75}[:c], Std: []float32{0.5, 0.25, 2}[:c]}
	for i := range n {
		s.Labels = append(s.Labels, i%2)
	}
	for range n * h * w * c {
		s.X = append(s.X, 3+r.Float32()) // never equal to the fill values
	}
	return s
}

// loadAll loads examples idx of d.
func loadAll(t *testing.T, d interface {
	ExampleShape() []int
	Load([]float32, []int, []int) error
}, idx []int) ([]float32, []int) {
	t.Helper()
	e := 1
	for _, v := range d.ExampleShape() {
		e *= v
	}
	x := make([]float32, len(idx)*e)
	labels := make([]int, len(idx))
	if err := d.Load(x, labels, idx); err != nil {
		t.Fatal(err)
	}
	return x, labels
}

func TestAugmentedSatisfiesDataset(t *testing.T) {
	var _ interface {
		Len() int
		ExampleShape() []int
		NumClasses() int
		Load(x []float32, labels []int, idx []int) error
	} = (*AugmentedSet)(nil)
	s := augSet(3, 4, 5, 2)
	a := Augmented(s, Augment{HFlip: true})
	if a.Len() != 3 || a.NumClasses() != 2 || !slices.Equal(a.ExampleShape(), []int{4, 5, 2}) || a.Base() != s || !a.Augment().HFlip {
		t.Error("AugmentedSet does not report its Set's geometry")
	}
}

func TestAugmentIdentity(t *testing.T) {
	s := augSet(4, 5, 6, 3)
	if !(Augment{Seed: 9}).IsIdentity() || (Augment{HFlip: true}).IsIdentity() || (Augment{MaxScale: 0.1}).IsIdentity() {
		t.Error("IsIdentity wrong")
	}
	idx := []int{3, 1, 1, 0}
	want, wl := loadAll(t, s, idx)
	got, gl := loadAll(t, Augmented(s, Augment{Seed: 9}), idx)
	if !slices.Equal(got, want) || !slices.Equal(gl, wl) {
		t.Error("zero Augment changed the examples")
	}
}

// hflip returns the h×w×c example e mirrored left to right.
func hflip(e []float32, h, w, c int) []float32 {
	out := make([]float32, len(e))
	for y := range h {
		for x := range w {
			copy(out[(y*w+x)*c:(y*w+x+1)*c], e[(y*w+w-1-x)*c:(y*w+w-x)*c])
		}
	}
	return out
}

func TestAugmentHFlip(t *testing.T) {
	h, w, c := 3, 5, 2
	s := augSet(1, h, w, c)
	a := Augmented(s, Augment{HFlip: true, Seed: 1})
	flipped := hflip(s.X, h, w, c)
	var plain, mirror int
	for range 64 {
		x, _ := loadAll(t, a, []int{0})
		switch {
		case slices.Equal(x, s.X):
			plain++
		case slices.Equal(x, flipped):
			mirror++
		default:
			t.Fatalf("HFlip gave neither the example nor its exact mirror: %v", x)
		}
	}
	if plain < 16 || mirror < 16 {
		t.Errorf("64 draws: %d unchanged, %d mirrored; want about half each", plain, mirror)
	}
}

// shiftOf reports whether out is e shifted by (dx, dy) pixels (out(x, y) =
// e(x−dx, y−dy)) with fill where the source lies outside, trying every
// shift up to p; it returns the shift found.
func shiftOf(out, e []float32, h, w, c, p int, fill []float32) (int, int, bool) {
	for dy := -p; dy <= p; dy++ {
	next:
		for dx := -p; dx <= p; dx++ {
			for y := range h {
				for x := range w {
					want := fill
					if sx, sy := x-dx, y-dy; sx >= 0 && sy >= 0 && sx < w && sy < h {
						want = e[(sy*w+sx)*c : (sy*w+sx+1)*c]
					}
					if !slices.Equal(out[(y*w+x)*c:(y*w+x+1)*c], want) {
						continue next
					}
				}
			}
			return dx, dy, true
		}
	}
	return 0, 0, false
}

func TestAugmentPadCrop(t *testing.T) {
	h, w, c, p := 5, 6, 3, 2
	s := augSet(2, h, w, c)
	fill := []float32{-0.25 / 0.5, -0.5 / 0.25, -0.75 / 2}
	a := Augmented(s, Augment{PadCrop: p, Seed: 5})
	seen := map[[2]int]bool{}
	for range 100 {
		x, labels := loadAll(t, a, []int{1, 0})
		if !slices.Equal(labels, []int{1, 0}) {
			t.Fatalf("labels %v, want [1 0]", labels)
		}
		for j, i := range []int{1, 0} {
			e := s.X[i*h*w*c : (i+1)*h*w*c]
			dx, dy, ok := shiftOf(x[j*h*w*c:(j+1)*h*w*c], e, h, w, c, p, fill)
			if !ok {
				t.Fatalf("PadCrop output is not the example shifted by at most %d pixels with black fill", p)
			}
			seen[[2]int{dx, dy}] = true
		}
	}
	if len(seen) < 20 {
		t.Errorf("200 crops used %d of the 25 offsets", len(seen))
	}

	// Combined with HFlip: still exact pixel copies (no interpolation).
	b := Augmented(s, Augment{PadCrop: p, HFlip: true, Seed: 6})
	e := s.X[:h*w*c]
	for range 50 {
		x, _ := loadAll(t, b, []int{0})
		if _, _, ok := shiftOf(x, e, h, w, c, p, fill); ok {
			continue
		}
		if _, _, ok := shiftOf(x, hflip(e, h, w, c), h, w, c, p, fill); !ok {
			t.Fatal("PadCrop+HFlip output is not a shifted example or mirror")
		}
	}
}

func TestAugmentDeterminism(t *testing.T) {
	s := augSet(6, 7, 8, 3)
	aug := Augment{PadCrop: 2, HFlip: true, MaxRotate: 15, MaxShift: 0.1, MaxScale: 0.1, Seed: 42}
	idx := []int{5, 0, 2}
	a, b := Augmented(s, aug), Augmented(s, aug)
	a1, _ := loadAll(t, a, idx)
	a2, _ := loadAll(t, a, idx)
	b1, _ := loadAll(t, b, idx)
	b2, _ := loadAll(t, b, idx)
	if !slices.Equal(a1, b1) || !slices.Equal(a2, b2) {
		t.Error("same seed and calls gave different examples")
	}
	if slices.Equal(a1, a2) {
		t.Error("two calls gave the same transforms")
	}
	aug.Seed = 43
	c1, _ := loadAll(t, Augmented(s, aug), idx)
	if slices.Equal(a1, c1) {
		t.Error("different seeds gave the same transforms")
	}
	for _, v := range slices.Concat(a1, a2, c1) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite value %v", v)
		}
	}
	// The draws depend on the count of examples loaded, not on how they
	// are batched.
	d := Augmented(s, Augment{PadCrop: 2, HFlip: true, MaxRotate: 15, MaxShift: 0.1, MaxScale: 0.1, Seed: 42})
	var parts []float32
	for _, i := range idx {
		x, _ := loadAll(t, d, []int{i})
		parts = append(parts, x...)
	}
	if !slices.Equal(parts, a1) {
		t.Error("loading one by one gave other examples than one batch")
	}
}

func TestAugmentAffine(t *testing.T) {
	h, w, c := 9, 9, 2
	s := augSet(1, h, w, c)
	fill := []float32{-0.25 / 0.5, -0.5 / 0.25}
	// Rotation only: the centre of an odd-sized example stays put, and
	// every value is a convex mix of example values and the fill.
	a := Augmented(s, Augment{MaxRotate: 30, Seed: 7})
	lo, hi := fill[1], float32(4)
	changed := false
	for range 20 {
		x, _ := loadAll(t, a, []int{0})
		centre := (4*w + 4) * c
		if !slices.Equal(x[centre:centre+c], s.X[centre:centre+c]) {
			t.Fatalf("rotation moved the centre pixel: %v, want %v", x[centre:centre+c], s.X[centre:centre+c])
		}
		for _, v := range x {
			if !(v >= lo-1e-5 && v <= hi+1e-5) {
				t.Fatalf("value %v outside the range [%v, %v] of example and fill", v, lo, hi)
			}
		}
		changed = changed || !slices.Equal(x, s.X)
	}
	if !changed {
		t.Error("rotation never changed the example")
	}

	// A constant example keeps its value where the whole neighbourhood is
	// inside; a large shift brings in exact fill at the far side.
	k := &Set{Shape: []int{h, w, c}, Classes: []string{"a"}, Labels: []int{0}, Mean: s.Mean, Std: s.Std}
	for range h * w * c {
		k.X = append(k.X, 2)
	}
	b := Augmented(k, Augment{MaxRotate: 10, MaxScale: 0.05, MaxShift: 0.05, Seed: 8})
	for range 10 {
		x, _ := loadAll(t, b, []int{0})
		centre := (4*w + 4) * c
		for ch := range c {
			if math.Abs(float64(x[centre+ch]-2)) > 1e-5 {
				t.Fatalf("constant example's centre became %v", x[centre+ch])
			}
		}
	}
	far := Augmented(k, Augment{MaxShift: 1, Seed: 3})
	sawFill := false
	for range 10 {
		x, _ := loadAll(t, far, []int{0})
		for i := 0; i < len(x); i += c {
			sawFill = sawFill || slices.Equal(x[i:i+c], fill)
		}
	}
	if !sawFill {
		t.Error("shifts of up to a whole side never showed the black fill")
	}
}

func TestAugmentErrors(t *testing.T) {
	s := augSet(2, 3, 3, 1)
	for _, a := range []Augment{
		{PadCrop: -1},
		{PadCrop: 1 << 20},
		{MaxRotate: -1},
		{MaxRotate: math.NaN()},
		{MaxShift: 2},
		{MaxScale: 1},
		{MaxScale: math.Inf(1)},
	} {
		if err := Augmented(s, a).Load(make([]float32, 9), nil, []int{0}); err == nil || !strings.Contains(err.Error(), "Augment") {
			t.Errorf("%+v: error %v, want one naming the bad field", a, err)
		}
	}
	a := Augmented(s, Augment{HFlip: true})
	if err := a.Load(make([]float32, 8), nil, []int{0}); err == nil {
		t.Error("short x: no error")
	}
	if err := a.Load(make([]float32, 9), nil, []int{2}); err == nil {
		t.Error("index out of range: no error")
	}
	bad := augSet(1, 3, 3, 1)
	bad.Mean, bad.Std = []float32{0.5}, []float32{0}
	if err := Augmented(bad, Augment{HFlip: true}).Load(make([]float32, 9), nil, []int{0}); err == nil {
		t.Error("zero std: no error")
	}
}
