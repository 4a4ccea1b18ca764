// Package tensor is graft's tensor core: float32 tensors in row-major,
// contiguous storage, the Backend interface every operation goes through,
// the CPU backend with its run-time kernel tiers (see package kernels) and
// the CUDA backend (see CUDA).
//
// Backends are values: NewCPU makes a CPU backend of a given tier, and a
// tensor belongs to the backend it was made on (ZerosOn, ZerosLike) or
// moved to (MoveTo); an operation refuses a tensor of another backend,
// naming both. A tensor made without one (Zeros, FromSlice, ...) follows
// the default backend, Default: chosen once, on first use, the GPU when
// one answers, else the CPU at the best tier (GRAFT_DEVICE, GRAFT_CPU,
// DeviceReport). Programs use tensors the same way on every backend; on a
// GPU, tensors live in device memory and Data copies them back when the
// host reads them.
//
// Shape errors in operations are programmer errors: they panic with a
// message naming the operation and the shapes.
package tensor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Tensor is an n-dimensional array of float32 in row-major order. Its
// storage is contiguous; Reshape returns views that share it.
type Tensor struct {
	shape []int
	data  []float32
	dev   deviceStore // the copy a device backend keeps (see CUDA); nil on the host backends
	be    Backend     // the backend it was made on or moved to; nil: the default
}

// deviceStore is the copy of a tensor's values that a device backend keeps
// (the CUDA backend's device memory), shared by the tensor's views. The
// host slice is every tensor's own storage; the host backends (CPU tiers,
// Reference) work on it alone, and a device backend tells the tensor
// through these methods when the host slice must be brought up to date.
// Tensor knows no device backend but through it.
type deviceStore interface {
	// toHost makes t's host slice current, copying the device's values
	// down if they are newer; with write, the host's values become the
	// only current ones (the caller writes them).
	toHost(t *Tensor, write bool)
	// discard makes t's host values the current ones without copying:
	// for an output about to be written whole on the host.
	discard(t *Tensor)
	// backend returns the device backend that keeps the copy.
	backend() Backend
}

// deviceBackend is a backend that keeps tensors' values in device
// storage of its own (CUDA).
type deviceBackend interface {
	Backend
	// newStore returns a new, empty device copy for a tensor whose host
	// slice holds its current values.
	newStore() deviceStore
}

// Backend returns the backend t belongs to: the one it was made on
// (ZerosOn, ZerosLike) or moved to (MoveTo), else the default backend.
// Layers run on their input's backend, so that a model moved to a backend
// (nn.MoveTo) runs there whatever the default.
func (t *Tensor) Backend() Backend {
	if t.be != nil {
		return t.be
	}
	return Default()
}

// Placed reports whether t has a backend of its own (made by ZerosOn, by
// ZerosLike of a placed tensor, or moved by MoveTo) rather than following
// the default backend.
func (t *Tensor) Placed() bool { return t.be != nil }

// MoveTo makes be t's backend, in place: moving off a GPU copies t's
// values down first (views made before keep their own backend). Host
// backends (CPU tiers, Reference) share host memory, so moving between
// them copies nothing; a GPU backend copies the values up on first use.
func (t *Tensor) MoveTo(be Backend) {
	if t.dev != nil && t.dev.backend() != be {
		t.hostRead()
		t.dev = nil
	}
	if d, ok := be.(deviceBackend); ok && t.dev == nil {
		t.dev = d.newStore()
	}
	t.be = be
}

// ZerosOn returns a tensor of zeros that belongs to be (see Backend).
func ZerosOn(be Backend, shape ...int) *Tensor {
	t := Zeros(shape...)
	t.MoveTo(be)
	return t
}

// ZerosLike returns a tensor of zeros of the given shape on like's
// backend: like's own, or the default when like follows the default.
func ZerosLike(like *Tensor, shape ...int) *Tensor {
	t := Zeros(shape...)
	if like.be != nil {
		t.MoveTo(like.be)
	}
	return t
}

// sameBackend panics unless every tensor but nil ones follows the default
// or belongs to be (a CPU backend of the same kernels, or the same GPU),
// naming both backends. The host backends call it with every tensor of an
// operation: it also brings a tensor the default GPU holds to the host.
func sameBackend(op string, be Backend, ts ...*Tensor) {
	if c, ok := be.(CPU); ok && c.kern().fallback {
		return
	}
	for _, t := range ts {
		if t == nil {
			continue
		}
		if t.be != nil && !sameBackends(t.be, be) {
			panic(fmt.Sprintf("tensor.%s: a tensor %v of %s given to %s: move it (MoveTo) or the model (nn.MoveTo) first", op, t.shape, t.be.Name(), be.Name()))
		}
		hostOnly(t) // the default GPU may hold its current values; an output is written here
	}
}

// sameBackends reports whether a and b run the same kernels on the same
// memory (CPU backends of one tier with different options do).
func sameBackends(a, b Backend) bool {
	switch a := a.(type) {
	case CPU:
		b, ok := b.(CPU)
		return ok && a.kern().id == b.kern().id
	case CUDA:
		b, ok := b.(CUDA)
		return ok && a.g == b.g
	}
	return a == b
}

// numel returns the product of shape, panicking on a negative dimension.
func numel(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.%s: negative dimension in shape %v", op, append([]int(nil), shape...)))
		}
		n *= d
	}
	return n
}

// Zeros returns a tensor of the given shape filled with zeros. A tensor
// with no dimensions is a scalar of one element.
func Zeros(shape ...int) *Tensor {
	return newTensor(slices.Clone(shape), make([]float32, numel("Zeros", shape)))
}

// Full returns a tensor of the given shape with every element v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// FromSlice returns a tensor of the given shape over data (not copied). It
// panics if len(data) is not the product of shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if n := numel("FromSlice", shape); n != len(data) {
		panic(fmt.Sprintf("tensor.FromSlice: shape %v holds %d elements, data has %d", append([]int(nil), shape...), n, len(data)))
	}
	return newTensor(slices.Clone(shape), data)
}

// newRand returns the deterministic generator of a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// RandNormal returns a tensor of normal samples with the given mean and
// standard deviation. The same seed gives the same values on every machine.
func RandNormal(seed uint64, mean, std float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	r := newRand(seed)
	for i := range t.data {
		t.data[i] = mean + std*float32(r.NormFloat64())
	}
	return t
}

// RandUniform returns a tensor of samples uniform in [lo, hi). The same
// seed gives the same values on every machine.
func RandUniform(seed uint64, lo, hi float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	r := newRand(seed)
	for i := range t.data {
		t.data[i] = lo + (hi-lo)*float32(r.Float64())
	}
	return t
}

// Shape returns the tensor's dimensions. The slice is the tensor's own:
// do not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(fmt.Sprintf("tensor.Dim: no dimension %d in shape %v", i, t.shape))
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Data returns the tensor's storage, row-major (shared, not copied). On a
// GPU it first copies the values down if the device holds newer ones, and
// the host slice then holds the current values: write through it only
// until the next operation on the tensor, and call Data again after one.
func (t *Tensor) Data() []float32 {
	t.hostWrite()
	return t.data
}

// offset returns the storage index of a multi-index.
func (t *Tensor) offset(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor.%s: index %v for shape %v", op, idx, t.shape))
	}
	o := 0
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor.%s: index %v out of range for shape %v", op, idx, t.shape))
		}
		o = o*t.shape[i] + x
	}
	return o
}

// At returns the element at the multi-index idx.
func (t *Tensor) At(idx ...int) float32 {
	t.hostRead()
	return t.data[t.offset("At", idx)]
}

// Set stores v at the multi-index idx.
func (t *Tensor) Set(v float32, idx ...int) {
	t.hostWrite()
	t.data[t.offset("Set", idx)] = v
}

// Reshape returns a view with a new shape over the same storage. One
// dimension may be -1; it is inferred from the others. It panics if the
// element counts differ.
func (t *Tensor) Reshape(dims ...int) *Tensor {
	shape := append([]int(nil), dims...) // a copy, so dims does not escape
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor.Reshape: bad shape %v for %v", shape, t.shape))
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(t.data)%known != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot infer -1 in %v from %v (%d elements)", shape, t.shape, len(t.data)))
		}
		shape[infer] = len(t.data) / known
		known *= shape[infer]
	}
	if known != len(t.data) {
		panic(fmt.Sprintf("tensor.Reshape: shape %v holds %d elements, %v has %d", shape, known, t.shape, len(t.data)))
	}
	return &Tensor{shape: shape, data: t.data, dev: t.dev, be: t.be}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	if c := t.cloneOnDevice(); c != nil {
		return c
	}
	t.hostRead()
	c := newTensor(slices.Clone(t.shape), slices.Clone(t.data))
	c.be = t.be
	return c
}

// SameShape reports whether t and u have the same dimensions.
func (t *Tensor) SameShape(u *Tensor) bool { return slices.Equal(t.shape, u.shape) }

// String formats the shape and, for small tensors, the values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v", t.shape)
	if len(t.data) <= 16 {
		t.hostRead()
		fmt.Fprintf(&b, "%v", t.data)
	}
	return b.String()
}

// mustSameShape panics unless every tensor has the shape of the first.
func mustSameShape(op string, ts ...*Tensor) {
	for _, u := range ts[1:] {
		if !ts[0].SameShape(u) {
			shapes := make([]string, len(ts))
			for i, t := range ts {
				shapes[i] = fmt.Sprint(t.shape)
			}
			panic(fmt.Sprintf("tensor.%s: shapes differ: %s", op, strings.Join(shapes, ", ")))
		}
	}
}

// Shares reports whether t and u are views of the same storage: the same
// first element and the same length. Empty tensors share nothing.
func (t *Tensor) Shares(u *Tensor) bool {
	return len(t.data) > 0 && len(t.data) == len(u.data) && &t.data[0] == &u.data[0]
}
