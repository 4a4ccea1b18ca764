package data

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
)

// Set is an in-memory labelled image dataset. It satisfies the nn.Dataset
// interface (Len, ExampleShape, NumClasses, Load).
//
// Example i occupies X[i*E : (i+1)*E], E = prod(Shape), in NHWC order (for
// one example: row-major H×W×C, channels last), already normalised per
// channel as (pixel/255 − Mean[ch]) / Std[ch]. Labels[i] is its class, an
// index into Classes.
type Set struct {
	X       []float32 // Len()·prod(Shape) normalised values, example after example
	Labels  []int     // one class index per example, 0 ≤ label < len(Classes)
	Shape   []int     // one example's shape [H, W, C]
	Classes []string  // class names; len(Classes) is the number of classes
	Mean    []float32 // per-channel mean subtracted (after scaling pixels to [0,1])
	Std     []float32 // per-channel standard deviation divided by
}

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// ExampleShape returns a copy of one example's shape, [H, W, C].
func (s *Set) ExampleShape() []int { return append([]int(nil), s.Shape...) }

// NumClasses returns the number of classes, len(Classes).
func (s *Set) NumClasses() int { return len(s.Classes) }

// exampleSize returns prod(Shape).
func (s *Set) exampleSize() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Validate checks that the Set is consistent: every dimension of Shape is
// positive, X holds exactly Len()·prod(Shape) values, every label is a valid
// class index, and Mean and Std have the same length. The loaders of this
// package always return valid Sets; Validate is for Sets built by hand.
func (s *Set) Validate() error {
	if len(s.Shape) == 0 {
		return errors.New("data: Set: empty Shape")
	}
	size := 1
	for i, d := range s.Shape {
		if d <= 0 {
			return fmt.Errorf("data: Set: Shape %v: dimension %d is %d, must be positive", s.Shape, i, d)
		}
		if size > math.MaxInt/d {
			return fmt.Errorf("data: Set: Shape %v is too large", s.Shape)
		}
		size *= d
	}
	n := len(s.Labels)
	if (n > 0 && size > math.MaxInt/n) || len(s.X) != n*size {
		return fmt.Errorf("data: Set: X has %d values, want %d examples × %d (Shape %v)", len(s.X), n, size, s.Shape)
	}
	for i, l := range s.Labels {
		if l < 0 || l >= len(s.Classes) {
			return fmt.Errorf("data: Set: label %d of example %d out of range: %d classes", l, i, len(s.Classes))
		}
	}
	if len(s.Mean) != len(s.Std) {
		return fmt.Errorf("data: Set: %d means but %d standard deviations", len(s.Mean), len(s.Std))
	}
	return nil
}

// Load copies examples idx, in that order, into x and their labels into
// labels: example idx[j] goes to x[j*E : (j+1)*E] with E = prod(Shape).
// x must have exactly len(idx)·E elements and labels exactly len(idx)
// (labels may be nil when the caller does not want them). It returns an
// error, and writes nothing, if a buffer has the wrong size or an index is
// out of range.
func (s *Set) Load(x []float32, labels []int, idx []int) error {
	size := s.exampleSize()
	n := s.Len()
	if len(s.X) != n*size {
		return fmt.Errorf("data: Load: Set is inconsistent: X has %d values, want %d examples × %d (Shape %v)", len(s.X), n, size, s.Shape)
	}
	if len(x) != len(idx)*size {
		return fmt.Errorf("data: Load: x has %d elements, want %d (%d examples × %v)", len(x), len(idx)*size, len(idx), s.Shape)
	}
	if labels != nil && len(labels) != len(idx) {
		return fmt.Errorf("data: Load: labels has %d elements, want %d (one per index)", len(labels), len(idx))
	}
	for j, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("data: Load: index %d (position %d of idx) out of range [0, %d)", i, j, n)
		}
	}
	for j, i := range idx {
		copy(x[j*size:(j+1)*size], s.X[i*size:(i+1)*size])
		if labels != nil {
			labels[j] = s.Labels[i]
		}
	}
	return nil
}

// Subset returns a new Set holding copies of examples idx, in that order
// (an index may repeat). Classes, Shape, Mean and Std are copied too, so
// the result shares no memory with s. An index out of range is a
// programming error and panics, naming the index.
func (s *Set) Subset(idx []int) *Set {
	size := s.exampleSize()
	n := s.Len()
	out := &Set{
		X:       make([]float32, len(idx)*size),
		Labels:  make([]int, len(idx)),
		Shape:   append([]int(nil), s.Shape...),
		Classes: append([]string(nil), s.Classes...),
		Mean:    append([]float32(nil), s.Mean...),
		Std:     append([]float32(nil), s.Std...),
	}
	for j, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("data: Subset: index %d (position %d of idx) out of range [0, %d)", i, j, n))
		}
		copy(out.X[j*size:(j+1)*size], s.X[i*size:(i+1)*size])
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Counts returns the number of examples of each class: Counts()[c] is the
// number of examples labelled c. Its length is NumClasses(); labels outside
// [0, NumClasses()) are not counted.
func (s *Set) Counts() []int {
	c := make([]int, len(s.Classes))
	for _, l := range s.Labels {
		if l >= 0 && l < len(c) {
			c[l]++
		}
	}
	return c
}

// Shuffle returns a permutation of 0..Len()-1 drawn from a PCG generator
// seeded by seed. The same seed gives the same permutation on every machine.
func (s *Set) Shuffle(seed uint64) []int {
	p := make([]int, s.Len())
	for i := range p {
		p[i] = i
	}
	newRNG(seed).shuffle(p)
	return p
}

// byClass returns the indices of each class's examples, in order.
func (s *Set) byClass() [][]int {
	counts := s.Counts()
	idx := make([][]int, len(counts))
	for c, n := range counts {
		idx[c] = make([]int, 0, n)
	}
	for i, l := range s.Labels {
		idx[l] = append(idx[l], i)
	}
	return idx
}

// className returns a printable name for class c: its index and, when it is
// not the same text, its name.
func (s *Set) className(c int) string {
	name := s.Classes[c]
	if name == strconv.Itoa(c) {
		return name
	}
	return fmt.Sprintf("%d (%q)", c, name)
}

// Split divides the Set into len(fracs) disjoint parts, stratified: each
// class is split in the proportions fracs (part i of a class with n
// examples holds about fracs[i]·n of them; cumulative boundaries are
// rounded, so the parts of a class differ from exact proportions by less
// than one example and, when the fractions sum to 1, cover the class
// exactly). The fractions must be non-negative and sum to at most 1 (+1e-9);
// examples beyond their sum are left out. Which examples go where and the
// order inside each part are drawn from seed: the same seed gives the same
// split.
func (s *Set) Split(seed uint64, fracs ...float64) ([]*Set, error) {
	if len(fracs) == 0 {
		return nil, errors.New("data: Split: no fractions given")
	}
	sum := 0.0
	for i, f := range fracs {
		if math.IsNaN(f) || f < 0 || f > 1+1e-9 {
			return nil, fmt.Errorf("data: Split: fraction %d is %v, want a number in [0, 1]", i, f)
		}
		sum += f
	}
	if sum > 1+1e-9 {
		return nil, fmt.Errorf("data: Split: fractions %v sum to %v, more than 1", fracs, sum)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("data: Split: %w", err)
	}
	r := newRNG(seed)
	parts := make([][]int, len(fracs))
	for _, members := range s.byClass() {
		r.shuffle(members)
		n := len(members)
		lo, cum := 0, 0.0
		for i, f := range fracs {
			cum += f
			hi := min(int(math.Round(cum*float64(n))), n)
			hi = max(hi, lo)
			parts[i] = append(parts[i], members[lo:hi]...)
			lo = hi
		}
	}
	out := make([]*Set, len(fracs))
	for i, p := range parts {
		r.shuffle(p)
		out[i] = s.Subset(p)
	}
	return out, nil
}

// FewShot returns a new Set with k examples of every class, chosen by seed
// (the same seed picks the same examples) and shuffled. It returns an error
// naming the class if a class has fewer than k examples.
func (s *Set) FewShot(k int, seed uint64) (*Set, error) {
	shot, _, err := s.FewShotSplit(k, seed)
	return shot, err
}

// FewShotSplit is FewShot that also returns the rest of the set (every
// example not picked, in a seeded order): a k-shot training set and its
// held-out test set.
func (s *Set) FewShotSplit(k int, seed uint64) (shot, rest *Set, err error) {
	if k <= 0 {
		return nil, nil, fmt.Errorf("data: FewShot: k = %d, want at least 1 example per class", k)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("data: FewShot: %w", err)
	}
	r := newRNG(seed)
	var pick, left []int
	for c, members := range s.byClass() {
		if len(members) < k {
			return nil, nil, fmt.Errorf("data: FewShot: class %s has only %d examples, need %d", s.className(c), len(members), k)
		}
		r.shuffle(members)
		pick = append(pick, members[:k]...)
		left = append(left, members[k:]...)
	}
	r.shuffle(pick)
	r.shuffle(left)
	return s.Subset(pick), s.Subset(left), nil
}

// rng draws uniform integers from a PCG source. It uses only the PCG
// generator's Uint64 stream (specified by math/rand/v2) and its own bounded
// sampling and shuffle, so results do not depend on the Go release.
type rng struct{ src *rand.PCG }

// newRNG returns a generator seeded by seed.
func newRNG(seed uint64) *rng {
	return &rng{src: rand.NewPCG(seed, 0xda3e39cb94b95bdb)}
}

// intn returns a uniform integer in [0, n), n > 0 (Lemire's nearly
// divisionless method).
func (r *rng) intn(n int) int {
	bound := uint64(n)
	hi, lo := bits.Mul64(r.src.Uint64(), bound)
	if lo < bound {
		thresh := -bound % bound
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), bound)
		}
	}
	return int(hi)
}

// shuffle permutes p in place (Fisher–Yates).
func (r *rng) shuffle(p []int) {
	for i := len(p) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}
