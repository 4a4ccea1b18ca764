package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Augment describes random training-time transforms applied to each
// example as it is loaded (see Augmented). The zero Augment is the
// identity. The transforms run in this order, like torchvision's
// RandomCrop, RandomHorizontalFlip and RandomAffine in a Compose:
//
//  1. PadCrop p > 0: the example is padded with p black pixels on every
//     side and an H×W window is cropped at a random offset (0..2p in each
//     direction), which shifts the content by −p..p whole pixels;
//  2. HFlip: the example is mirrored left to right with probability ½;
//  3. MaxRotate, MaxShift, MaxScale: an affine map about the centre,
//     rotating by an angle uniform in ±MaxRotate degrees, scaling by a
//     factor uniform in 1 ± MaxScale and shifting by up to ±MaxShift·W
//     horizontally and ±MaxShift·H vertically (uniform, sub-pixel),
//     sampled bilinearly.
//
// Pixels that come from outside the example are black: per channel the
// normalised value of a zero byte, −Mean[ch]/Std[ch]. All three steps are
// composed into one resampling, so an example is interpolated at most once,
// and not at all when only PadCrop and HFlip are set.
//
// Augmentation is for training only: evaluate on the plain Set. It must be
// off (IsIdentity) when features are cached — the transfer package's
// feature cache computes each example's features once and assumes fixed
// inputs, so augmented examples would be silently ignored.
type Augment struct {
	PadCrop   int     // random crop with this zero padding (torchvision RandomCrop(size, padding)); 0: off
	HFlip     bool    // mirror left to right with probability ½
	MaxRotate float64 // largest rotation, in degrees (either way); 0: off
	MaxShift  float64 // largest shift, as a fraction of the side (e.g. 0.1); 0: off
	MaxScale  float64 // largest relative scale change, e.g. 0.1 for ±10%; 0: off; must be below 1
	Seed      uint64  // seeds the random draws
}

// IsIdentity reports whether a leaves examples unchanged: no field but Seed
// is set.
func (a Augment) IsIdentity() bool {
	return a.PadCrop == 0 && !a.HFlip && a.MaxRotate == 0 && a.MaxShift == 0 && a.MaxScale == 0
}

// affine reports whether a has a rotation, shift or scale.
func (a Augment) affine() bool { return a.MaxRotate != 0 || a.MaxShift != 0 || a.MaxScale != 0 }

// maxPadCrop bounds Augment.PadCrop.
const maxPadCrop = 1 << 16

// Validate checks a's fields: PadCrop (at most 65536), MaxRotate, MaxShift and MaxScale
// must be non-negative and finite, MaxRotate at most 180, MaxShift at most
// 1 and MaxScale below 1.
func (a Augment) Validate() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	switch {
	case a.PadCrop < 0 || a.PadCrop > maxPadCrop:
		return fmt.Errorf("data: Augment: PadCrop = %d, want 0..%d pixels", a.PadCrop, maxPadCrop)
	case bad(a.MaxRotate) || a.MaxRotate > 180:
		return fmt.Errorf("data: Augment: MaxRotate = %v, want 0..180 degrees", a.MaxRotate)
	case bad(a.MaxShift) || a.MaxShift > 1:
		return fmt.Errorf("data: Augment: MaxShift = %v, want a fraction of the side in 0..1", a.MaxShift)
	case bad(a.MaxScale) || a.MaxScale >= 1:
		return fmt.Errorf("data: Augment: MaxScale = %v, want 0 ≤ MaxScale < 1", a.MaxScale)
	}
	return nil
}

// AugmentedSet is a Set seen through random augmentation: it has the Set's
// examples, shape and classes, and each Load returns freshly transformed
// copies of the requested examples. It satisfies the nn.Dataset interface
// (Len, ExampleShape, NumClasses, Load).
//
// The transforms are drawn from Seed and a counter of examples loaded so
// far, so the same seed and the same sequence of Load calls give the same
// examples, on every machine; each call draws new transforms. Load may be
// called from several goroutines; the counter is then taken in the order
// the calls are served.
type AugmentedSet struct {
	set *Set
	aug Augment

	mu    sync.Mutex
	count uint64    // examples transformed so far
	buf   []float32 // one source example, reused
}

// Augmented returns d seen through a: a dataset whose Load applies a fresh
// random transform to every example it loads (see Augment). d is shared,
// not copied, and is never modified. Invalid fields of a are reported by
// Load.
func Augmented(d *Set, a Augment) *AugmentedSet {
	return &AugmentedSet{set: d, aug: a}
}

// Base returns the underlying Set.
func (s *AugmentedSet) Base() *Set { return s.set }

// Augment returns the augmentation applied.
func (s *AugmentedSet) Augment() Augment { return s.aug }

// Len returns the number of examples.
func (s *AugmentedSet) Len() int { return s.set.Len() }

// ExampleShape returns a copy of one example's shape, [H, W, C].
func (s *AugmentedSet) ExampleShape() []int { return s.set.ExampleShape() }

// NumClasses returns the number of classes.
func (s *AugmentedSet) NumClasses() int { return s.set.NumClasses() }

// Load copies examples idx into x and their labels into labels as
// Set.Load does, then transforms each example in x with its own random
// draw. Besides Set.Load's errors it returns an error if the augmentation
// is invalid (see Augment.Validate), the Set's Shape is not [H, W, C], or
// its Mean and Std do not hold C values or one.
func (s *AugmentedSet) Load(x []float32, labels []int, idx []int) error {
	a := s.aug
	if err := a.Validate(); err != nil {
		return err
	}
	d := s.set
	if a.IsIdentity() {
		return d.Load(x, labels, idx)
	}
	if len(d.Shape) != 3 {
		return fmt.Errorf("data: Augmented Load: example shape %v, want [H, W, C]", d.Shape)
	}
	h, w, c := d.Shape[0], d.Shape[1], d.Shape[2]
	fill, err := blackFill(d.Mean, d.Std, c)
	if err != nil {
		return err
	}
	if err := d.Load(x, labels, idx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	size := h * w * c
	if cap(s.buf) < size {
		s.buf = make([]float32, size)
	}
	src := s.buf[:size]
	for j := range idx {
		ex := x[j*size : (j+1)*size]
		copy(src, ex)
		t := a.draw(s.count, h, w)
		s.count++
		t.apply(ex, src, h, w, c, fill)
	}
	return nil
}

// blackFill returns, per channel, the normalised value of a black pixel,
// −mean/std; zeros when the Set records no normalisation.
func blackFill(mean, std []float32, c int) ([]float32, error) {
	fill := make([]float32, c)
	if len(mean) == 0 && len(std) == 0 {
		return fill, nil
	}
	if err := checkNorm(mean, std, c); err != nil {
		return nil, fmt.Errorf("data: Augmented Load: Set normalisation: %w", err)
	}
	m, sd := expand(mean, c), expand(std, c)
	for ch := range fill {
		fill[ch] = (0 - m[ch]) / sd[ch]
	}
	return fill, nil
}

// transform is one drawn augmentation: output pixel (x, y) (integer pixel
// indices) takes the source value at continuous index coordinates
//
//	u = ax·(x − cx) + bx·(y − cy) + ex,  v = ay·(x − cx) + by·(y − cy) + ey
//
// (cx, cy the centre), sampled bilinearly with black outside. With no
// rotation, shift or scale the coefficients are integers and the mapping
// is an exact pixel copy.
type transform struct {
	ax, bx, ex float64
	ay, by, ey float64
}

// draw returns the transform for the n-th example loaded, for examples of
// h×w pixels. The draws depend only on the seed and n.
func (a Augment) draw(n uint64, h, w int) transform {
	r := rand.New(rand.NewPCG(mix64(a.Seed), mix64(n^0x9e3779b97f4a7c15)))
	uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*float64(r.Uint64()>>11)/(1<<53) }
	// Crop offset (torchvision: top, left uniform in 0..2p).
	var top, left int
	if p := a.PadCrop; p > 0 {
		top = int(r.Uint64() % uint64(2*p+1))
		left = int(r.Uint64() % uint64(2*p+1))
	}
	flip := a.HFlip && r.Uint64()>>63 == 1
	angle, scale, tx, ty := 0.0, 1.0, 0.0, 0.0
	if a.MaxRotate > 0 {
		angle = uniform(-a.MaxRotate, a.MaxRotate) * math.Pi / 180
	}
	if a.MaxScale > 0 {
		scale = uniform(1-a.MaxScale, 1+a.MaxScale)
	}
	if a.MaxShift > 0 {
		tx = uniform(-a.MaxShift, a.MaxShift) * float64(w)
		ty = uniform(-a.MaxShift, a.MaxShift) * float64(h)
	}

	// Affine step, inverted: the point q of the flipped, cropped image
	// seen at output offset o from the centre is R(−angle)(o − t)/scale.
	cx, cy := float64(w-1)/2, float64(h-1)/2
	cos, sin := math.Cos(angle)/scale, math.Sin(angle)/scale
	t := transform{
		ax: cos, bx: sin, ex: -(cos*tx + sin*ty),
		ay: -sin, by: cos, ey: sin*tx - cos*ty,
	}
	if !a.affine() {
		t = transform{ax: 1, by: 1}
	}
	// Offsets are relative to the centre; make them absolute indices.
	t.ex += cx
	t.ey += cy
	// Flip: u → w−1−u.
	if flip {
		t.ax, t.bx, t.ex = -t.ax, -t.bx, float64(w-1)-t.ex
	}
	// Crop of the padded image: u → u + left − p, v → v + top − p.
	t.ex += float64(left - a.PadCrop)
	t.ey += float64(top - a.PadCrop)
	return t
}

// apply writes to dst the h×w×c example src seen through t.
func (t transform) apply(dst, src []float32, h, w, c int, fill []float32) {
	for y := range h {
		fy := float64(y) - float64(h-1)/2
		for x := range w {
			fx := float64(x) - float64(w-1)/2
			u := t.ax*fx + t.bx*fy + t.ex
			v := t.ay*fx + t.by*fy + t.ey
			out := dst[(y*w+x)*c : (y*w+x+1)*c]
			sample(out, src, h, w, c, u, v, fill)
		}
	}
}

// sample writes to out the bilinear interpolation of src at index
// coordinates (u, v), pixels outside the example being fill. At integer
// coordinates it copies the pixel exactly.
func sample(out, src []float32, h, w, c int, u, v float64, fill []float32) {
	if math.IsNaN(u) || math.IsNaN(v) || u <= -1 || v <= -1 || u >= float64(w) || v >= float64(h) {
		copy(out, fill)
		return
	}
	x0f, y0f := math.Floor(u), math.Floor(v)
	x0, y0 := int(x0f), int(y0f)
	wx, wy := float32(u-x0f), float32(v-y0f)
	pixel := func(x, y int) []float32 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return fill
		}
		return src[(y*w+x)*c : (y*w+x+1)*c]
	}
	p00 := pixel(x0, y0)
	if wx == 0 && wy == 0 {
		copy(out, p00)
		return
	}
	p01, p10, p11 := pixel(x0+1, y0), pixel(x0, y0+1), pixel(x0+1, y0+1)
	for ch := range c {
		top := p00[ch] + wx*(p01[ch]-p00[ch])
		bot := p10[ch] + wx*(p11[ch]-p10[ch])
		out[ch] = top + wy*(bot-top)
	}
}

// mix64 is SplitMix64's finaliser: it spreads seeds and counters over all
// 64 bits before they seed a PCG generator.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
