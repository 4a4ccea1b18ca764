// Package nn holds graft's layers, containers, losses, optimizers,
// learning-rate schedules, the training loop and checkpoints.
//
// Autodiff is layer level: every Layer has Forward and Backward, and the
// containers (Sequential, Residual, Concat) compose them. Backward is told
// whether its input gradient is needed; a parameter that is not Trainable
// gets no gradient. Together these let a partly frozen model skip the
// work nobody needs: Sequential calls no Backward at all below its lowest
// trainable layer.
//
// Parameters and buffers carry PyTorch state_dict names (conv1.weight,
// layer1.0.bn1.running_mean), built from the names of the children, so
// checkpoints saved by PyTorch load by name.
//
// Layers keep their outputs and gradients in buffers they reuse, so a
// steady-state training step allocates nothing; a tensor returned by
// Forward or Backward is valid until the layer's next call. Infer is the
// goroutine-safe inference path: it keeps nothing and writes no layer
// state but a convolution's cache of its weights with the BatchNorm after
// it folded in, which it checks against the weights at every call (see
// Sequential.Infer).
package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graftml/graft/tensor"
)

// Param is a learnable tensor and its gradient.
type Param struct {
	// Value holds the parameter, in PyTorch's layout.
	Value *tensor.Tensor
	// Grad holds the gradient of the last Backward; it is written only
	// while Trainable is set.
	Grad *tensor.Tensor
	// Trainable says whether Backward computes Grad and optimizers update
	// Value. Optimizers read it at every step.
	Trainable bool
	// Rows, when not nil, lists the rows (indices along the first axis) the
	// last Backward wrote into Grad; Grad is zero in every other row.
	// Layers with row-sparse gradients (Embedding, EmbeddingBag) set it;
	// optimizers of a Lazy group then update only these rows.
	Rows []int
}

// NewParam returns a trainable parameter over v with a zero gradient.
func NewParam(v *tensor.Tensor) *Param {
	return &Param{Value: v, Grad: tensor.Zeros(v.Shape()...), Trainable: true}
}

// Buffer is a tensor of state that is not learned by gradient, such as a
// BatchNorm's running statistics.
type Buffer struct {
	Value *tensor.Tensor
	// Int marks a buffer of integers (BatchNorm's num_batches_tracked),
	// saved as I64.
	Int bool
}

// Named pairs a local name with a parameter, buffer or child layer.
type Named[T any] struct {
	Name  string
	Value T
}

// Layer is one step of a model.
type Layer interface {
	// Forward computes the layer's output. In training mode it keeps what
	// Backward needs. The result is the layer's own buffer, valid until
	// its next Forward.
	Forward(x *tensor.Tensor) *tensor.Tensor
	// Backward takes the gradient of the loss with respect to the last
	// Forward's output, writes the gradients of the trainable parameters
	// and returns the input gradient when needInputGrad is set (nil
	// otherwise).
	Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor
	// Infer computes the output in inference mode (running statistics, no
	// dropout) into fresh tensors, keeping nothing: it is safe to call from
	// several goroutines at once, as long as nothing changes the weights.
	Infer(x *tensor.Tensor) *tensor.Tensor
	// Params returns the layer's own parameters (not its children's).
	Params() []Named[*Param]
	// Buffers returns the layer's own buffers.
	Buffers() []Named[*Buffer]
	// Children returns the named sub-layers of a container.
	Children() []Named[Layer]
	// SetTraining switches the layer (not its children) between training
	// and inference mode.
	SetTraining(on bool)
}

// Leaf provides a Layer's bookkeeping for layers without children:
// embed it and override what the layer has.
type Leaf struct {
	training bool
}

// Params returns nil.
func (*Leaf) Params() []Named[*Param] { return nil }

// Buffers returns nil.
func (*Leaf) Buffers() []Named[*Buffer] { return nil }

// Children returns nil.
func (*Leaf) Children() []Named[Layer] { return nil }

// SetTraining records the mode.
func (l *Leaf) SetTraining(on bool) { l.training = on }

// Training reports the mode.
func (l *Leaf) Training() bool { return l.training }

// Walk calls fn for l and every layer under it, depth first, parents
// before children, with each layer's dotted name ("" for l itself).
func Walk(l Layer, fn func(name string, l Layer)) {
	walk("", l, fn)
}

func walk(prefix string, l Layer, fn func(string, Layer)) {
	fn(prefix, l)
	for _, c := range l.Children() {
		walk(join(prefix, c.Name), c.Value, fn)
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// MoveTo moves every parameter (its value and gradient) and buffer of l
// to backend be (tensor.Tensor.MoveTo). Each layer runs on its input's
// backend, and its outputs are made there, so a model moved to be runs on
// be when its input is there too (x.MoveTo(be), tensor.ZerosOn): two
// models on two backends, say two CPU tiers, run side by side in one
// process. Optimizer state follows its parameter at the next Step.
func MoveTo(l Layer, be tensor.Backend) {
	for _, p := range Parameters(l) {
		p.Value.Value.MoveTo(be)
		if p.Value.Grad != nil {
			p.Value.Grad.MoveTo(be)
		}
	}
	for _, b := range Buffers(l) {
		b.Value.Value.MoveTo(be)
	}
}

// BackendOf returns the backend l's parameters (else its buffers) belong
// to when they were moved to one (MoveTo), nil when they follow the
// default backend: where l's inputs must be made.
func BackendOf(l Layer) tensor.Backend {
	for _, p := range Parameters(l) {
		if p.Value.Value.Placed() {
			return p.Value.Value.Backend()
		}
	}
	for _, b := range Buffers(l) {
		if b.Value.Value.Placed() {
			return b.Value.Value.Backend()
		}
	}
	return nil
}

// Parameters returns every parameter of l with its dotted name, in
// PyTorch's order (a layer's own parameters, then its children's).
func Parameters(l Layer) []Named[*Param] {
	var out []Named[*Param]
	Walk(l, func(name string, m Layer) {
		for _, p := range m.Params() {
			out = append(out, Named[*Param]{join(name, p.Name), p.Value})
		}
	})
	return out
}

// Buffers returns every buffer of l with its dotted name.
func Buffers(l Layer) []Named[*Buffer] {
	var out []Named[*Buffer]
	Walk(l, func(name string, m Layer) {
		for _, b := range m.Buffers() {
			out = append(out, Named[*Buffer]{join(name, b.Name), b.Value})
		}
	})
	return out
}

// Find returns the layer at a dotted name ("" is l itself).
func Find(l Layer, name string) (Layer, error) {
	if name == "" {
		return l, nil
	}
	cur := l
	for _, part := range strings.Split(name, ".") {
		var next Layer
		for _, c := range cur.Children() {
			if c.Name == part {
				next = c.Value
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("nn: no layer %q (no child %q)", name, part)
		}
		cur = next
	}
	return cur, nil
}

// SetTraining switches l and every layer under it between training and
// inference mode. It changes nothing else: frozen parameters stay frozen
// and frozen BatchNorm statistics stay frozen.
func SetTraining(l Layer, on bool) {
	Walk(l, func(_ string, m Layer) { m.SetTraining(on) })
}

// SetTrainable sets the Trainable flag of every parameter under l.
func SetTrainable(l Layer, on bool) {
	for _, p := range Parameters(l) {
		p.Value.Trainable = on
	}
}

// HasTrainable reports whether any parameter under l is trainable.
func HasTrainable(l Layer) bool {
	for _, p := range l.Params() {
		if p.Value.Trainable {
			return true
		}
	}
	for _, c := range l.Children() {
		if HasTrainable(c.Value) {
			return true
		}
	}
	return false
}

// NumParams counts the parameters' elements under l.
func NumParams(l Layer) int {
	n := 0
	for _, p := range Parameters(l) {
		n += p.Value.Value.Len()
	}
	return n
}

// ensure returns *t, replaced by a zero tensor of the shape when it is nil
// or of another shape: the reusable buffers of the layers.
func ensure(like *tensor.Tensor, t **tensor.Tensor, shape ...int) *tensor.Tensor {
	if *t == nil || !slices.Equal((*t).Shape(), shape) || (*t).Backend() != like.Backend() {
		*t = tensor.ZerosLike(like, shape...)
	}
	return *t
}

// likeOf returns the first of ts that has a backend of its own
// (tensor.Tensor.Placed), else the first: the tensor whose backend an
// operation on them all runs on, so that a gradient made on the default
// backend (tensor.Zeros, as a loss's usually is) still runs where the
// forward pass ran.
func likeOf(ts ...*tensor.Tensor) *tensor.Tensor {
	for _, t := range ts {
		if t != nil && t.Placed() {
			return t
		}
	}
	return ts[0]
}

// zerosLike returns an allocator of tensors of zeros on like's backend.
func zerosLike(like *tensor.Tensor) func(...int) *tensor.Tensor {
	return func(shape ...int) *tensor.Tensor { return tensor.ZerosLike(like, shape...) }
}

// view returns *t as a view of src with the shape, reusing the cached view
// while it still covers src's storage with that shape.
func view(t **tensor.Tensor, src *tensor.Tensor, shape ...int) *tensor.Tensor {
	if *t == nil || !(*t).Shares(src) || !slices.Equal((*t).Shape(), shape) {
		*t = src.Reshape(shape...)
	}
	return *t
}

// mustRank panics (a programmer error inside a model) unless x has the
// rank, naming the layer.
func mustRank(layer string, x *tensor.Tensor, rank int) {
	if x.Rank() != rank {
		panic(fmt.Sprintf("nn.%s: input %v, want rank %d", layer, x.Shape(), rank))
	}
}
