package nn

import (
	"fmt"
	"strconv"

	"github.com/graftml/graft/tensor"
)

// Sequential runs its children one after another. Backward stops at the
// lowest child that has a trainable parameter when the input gradient is
// not needed: the layers below it cost nothing.
type Sequential struct {
	Leaf
	layers []Named[Layer]
}

// NewSequential returns a Sequential of layers named "0", "1", …
// (PyTorch's nn.Sequential names).
func NewSequential(layers ...Layer) *Sequential {
	s := &Sequential{}
	for _, l := range layers {
		s.Add(strconv.Itoa(len(s.layers)), l)
	}
	return s
}

// Add appends a named layer and returns s.
func (s *Sequential) Add(name string, l Layer) *Sequential {
	for _, c := range s.layers {
		if c.Name == name {
			panic(fmt.Sprintf("nn.Sequential: two children named %q", name))
		}
	}
	s.layers = append(s.layers, Named[Layer]{name, l})
	return s
}

// AsSequential returns s; a type embedding a *Sequential (a model) gets
// it too, so code walking models can see through the wrapper.
func (s *Sequential) AsSequential() *Sequential { return s }

// Children returns the layers in order.
func (s *Sequential) Children() []Named[Layer] { return s.layers }

// Replace swaps the layer named name for l and returns the old one.
func (s *Sequential) Replace(name string, l Layer) (Layer, error) {
	for i, c := range s.layers {
		if c.Name == name {
			s.layers[i].Value = l
			return c.Value, nil
		}
	}
	return nil, fmt.Errorf("nn.Sequential: no child %q", name)
}

// Len returns the number of layers.
func (s *Sequential) Len() int { return len(s.layers) }

// Layer returns layer i.
func (s *Sequential) Layer(i int) Layer { return s.layers[i].Value }

// Truncate keeps the first n layers and returns the rest (a cut of the
// model: the trunk stays in s).
func (s *Sequential) Truncate(n int) []Named[Layer] {
	rest := s.layers[n:]
	s.layers = s.layers[:n:n]
	return rest
}

// Forward runs the layers in order.
func (s *Sequential) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, l := range s.layers {
		x = l.Value.Forward(x)
	}
	return x
}

// Infer runs the layers' Infer in order. An elementwise layer overwrites
// its input when an earlier layer of this call made it (never the caller's
// tensor), and the tensors of values no layer reads any more are reused
// by later layers of the call. A convolution followed by a BatchNorm (and
// an activation) runs as one convolution with the BatchNorm folded into
// its weights (see fold.go); a ReLU or Clip right after a convolution is
// fused into it (tensor.Conv2DAct: the same values, one pass fewer).
func (s *Sequential) Infer(x *tensor.Tensor) *tensor.Tensor {
	if c := chunkFor(s, x); c > 0 {
		return inferChunked(x, c, s.inferWhole)
	}
	return s.inferWhole(x)
}

// inferWhole is Infer of the whole batch at once.
func (s *Sequential) inferWhole(x *tensor.Tensor) *tensor.Tensor {
	pool := recycler{max: seqRecycled, like: x}
	return s.inferPool(x, &pool)
}

// seqRecycled is how many dead tensors Sequential inference keeps for
// reuse: enough for a chain of layers (and a residual block's paths),
// few enough that a call's peak memory does not grow.
const seqRecycled = 4

// poolInferer is a container whose inference takes the tensors of its
// intermediate values from a recycler, and gives them back to it.
type poolInferer interface {
	inferPool(x *tensor.Tensor, pool *recycler) *tensor.Tensor
}

// inferWith runs l's inference on x (which the caller keeps), drawing
// from and recycling into pool where l can.
func inferWith(l Layer, x *tensor.Tensor, pool *recycler) *tensor.Tensor {
	switch m := l.(type) {
	case poolInferer:
		return m.inferPool(x, pool)
	case allocInferer:
		return m.inferAlloc(x, pool.get)
	}
	return l.Infer(x)
}

// inferPool is Infer over a recycler of the caller's: the tensors of this
// call's dead values go back to it.
func (s *Sequential) inferPool(x *tensor.Tensor, pool *recycler) *tensor.Tensor {
	in := x
	for i := 0; i < len(s.layers); i++ {
		l, prev := s.layers[i].Value, x
		var act tensor.FusedAct
		conv, isConv := l.(*Conv2D)
		if isConv && i+1 < len(s.layers) {
			act, isConv = fusableAct(s.layers[i+1].Value)
		}
		if r, ok := s.runAt(i); ok {
			x = r.infer(x, pool.get)
			i += r.n - 1
		} else if isConv && i+1 < len(s.layers) {
			x = conv.inferAllocAct(x, pool.get, act)
			i++
		} else if ip, ok := l.(inPlacer); ok && !x.Shares(in) {
			x = ip.inferInPlace(x)
		} else {
			x = inferWith(l, x, pool)
		}
		if !prev.Shares(in) && !prev.Shares(x) {
			pool.put(prev)
		}
	}
	return x
}

// runAt returns the run of layers from i that inference runs as one
// convolution (see fold.go).
func (s *Sequential) runAt(i int) (convRun, bool) {
	return matchRun(func(k int) Layer {
		if i+k < len(s.layers) {
			return s.layers[i+k].Value
		}
		return nil
	})
}

// Backward runs the layers' Backward in reverse order, down to the lowest
// trainable layer unless the input gradient is needed.
func (s *Sequential) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	lowest := 0
	if !needInputGrad {
		lowest = -1
		for i, l := range s.layers {
			if HasTrainable(l.Value) {
				lowest = i
				break
			}
		}
		if lowest < 0 {
			return nil
		}
	}
	for i := len(s.layers) - 1; i >= lowest; i-- {
		need := needInputGrad || i > lowest
		dy = s.layers[i].Value.Backward(dy, need)
		if need && dy == nil {
			panic(fmt.Sprintf("nn.Sequential: layer %q returned no input gradient", s.layers[i].Name))
		}
	}
	return dy
}

// Residual adds a shortcut around a main path: y = post(main(x) +
// shortcut(x)), the shortcut being the identity when nil. Its children are
// the main path's layers, by their own names, then the shortcut (named by
// ShortcutName, torchvision's "downsample"), so a ResNet block's
// parameters read layer1.0.conv1.weight and layer1.0.downsample.0.weight.
type Residual struct {
	Leaf
	main         *Sequential
	Shortcut     Layer
	ShortcutName string
	// Post is applied after the sum (a ResNet block's final ReLU); nil
	// for none.
	Post Layer

	children []Named[Layer]
	sum, dx  *tensor.Tensor
}

// NewResidual returns a residual block over the named main-path layers.
func NewResidual(main []Named[Layer], shortcut Layer, post Layer) *Residual {
	r := &Residual{main: &Sequential{}, Shortcut: shortcut, ShortcutName: "downsample", Post: post}
	for _, l := range main {
		r.main.Add(l.Name, l.Value)
	}
	r.children = append(r.children, r.main.layers...)
	if shortcut != nil {
		r.children = append(r.children, Named[Layer]{r.ShortcutName, shortcut})
	}
	return r
}

// Main returns the main path.
func (r *Residual) Main() *Sequential { return r.main }

// Children returns the main path's layers and the shortcut.
func (r *Residual) Children() []Named[Layer] { return r.children }

// SetTraining records the mode and passes it to Post, which is not a child.
func (r *Residual) SetTraining(on bool) {
	r.training = on
	if r.Post != nil {
		r.Post.SetTraining(on)
	}
}

func (r *Residual) add(z, a, b *tensor.Tensor) {
	if !a.SameShape(b) {
		panic(fmt.Sprintf("nn.Residual: main path gives %v, shortcut %v", a.Shape(), b.Shape()))
	}
	z.Backend().Add(z, a, b)
}

// Forward computes post(main(x) + shortcut(x)).
func (r *Residual) Forward(x *tensor.Tensor) *tensor.Tensor {
	h := r.main.Forward(x)
	s := x
	if r.Shortcut != nil {
		s = r.Shortcut.Forward(x)
	}
	y := ensure(x, &r.sum, h.Shape()...)
	r.add(y, h, s)
	if r.Post != nil {
		y = r.Post.Forward(y)
	}
	return y
}

// Infer is Forward through the layers' Infer.
func (r *Residual) Infer(x *tensor.Tensor) *tensor.Tensor {
	var pool recycler
	return r.inferPool(x, &pool)
}

// inferPool is Infer over a recycler of the caller's.
func (r *Residual) inferPool(x *tensor.Tensor, pool *recycler) *tensor.Tensor {
	h := r.main.inferPool(x, pool)
	s := x
	if r.Shortcut != nil {
		s = inferWith(r.Shortcut, x, pool)
	}
	y := h
	if h.Shares(x) || h.Shares(s) {
		y = pool.get(h.Shape()...)
	}
	// a ReLU or Clip Post is fused into the sum
	if act, ok := fusableAct(r.Post); ok {
		if !h.SameShape(s) {
			r.add(y, h, s) // panics, naming the shapes
		}
		tensor.AddAct(y, h, s, act)
		for _, t := range []*tensor.Tensor{h, s} {
			if !t.Shares(x) && !t.Shares(y) {
				pool.put(t)
			}
		}
		return y
	}
	r.add(y, h, s)
	for _, t := range []*tensor.Tensor{h, s} {
		if !t.Shares(x) && !t.Shares(y) {
			pool.put(t)
		}
	}
	if r.Post == nil {
		return y
	}
	if ip, ok := r.Post.(inPlacer); ok {
		return ip.inferInPlace(y)
	}
	z := inferWith(r.Post, y, pool)
	if !y.Shares(z) {
		pool.put(y)
	}
	return z
}

// Backward sends dy through Post, then down both paths, and sums their
// input gradients.
func (r *Residual) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, r.sum) // the gradient may follow the default: run where the forward did
	below := needInputGrad || HasTrainable(r.main) || (r.Shortcut != nil && HasTrainable(r.Shortcut))
	if !below {
		return nil
	}
	if r.Post != nil {
		dy = r.Post.Backward(dy, true)
	}
	dm := r.main.Backward(dy, needInputGrad)
	ds := dy
	if r.Shortcut != nil {
		ds = r.Shortcut.Backward(dy, needInputGrad)
	}
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &r.dx, dm.Shape()...)
	if !dx.SameShape(ds) {
		panic(fmt.Sprintf("nn.Residual: input gradients %v and %v", dm.Shape(), ds.Shape()))
	}
	like.Backend().Add(dx, dm, ds)
	return dx
}

// Concat runs its branches on the same input and concatenates their
// outputs along the last (channel) axis: an Inception-style block.
type Concat struct {
	Leaf
	branches []Named[Layer]

	outs     []*tensor.Tensor
	grads    []*tensor.Tensor
	y, dx    *tensor.Tensor
	shapeBuf []int
}

// NewConcat returns a Concat of named branches.
func NewConcat(branches ...Named[Layer]) *Concat {
	return &Concat{branches: branches, outs: make([]*tensor.Tensor, len(branches)),
		grads: make([]*tensor.Tensor, len(branches))}
}

// Children returns the branches.
func (c *Concat) Children() []Named[Layer] { return c.branches }

func (c *Concat) outShape(outs []*tensor.Tensor) []int {
	s := append(c.shapeBuf[:0], outs[0].Shape()...)
	last := 0
	for _, o := range outs {
		last += o.Dim(-1)
	}
	s[len(s)-1] = last
	c.shapeBuf = s
	return s
}

// Forward concatenates the branches' outputs.
func (c *Concat) Forward(x *tensor.Tensor) *tensor.Tensor {
	for i, b := range c.branches {
		c.outs[i] = b.Value.Forward(x)
	}
	y := ensure(x, &c.y, c.outShape(c.outs)...)
	x.Backend().Concat(y, -1, c.outs...)
	return y
}

// Infer is Forward through the branches' Infer.
func (c *Concat) Infer(x *tensor.Tensor) *tensor.Tensor {
	outs := make([]*tensor.Tensor, len(c.branches))
	for i, b := range c.branches {
		outs[i] = b.Value.Infer(x)
	}
	return concatFresh(outs)
}

// concatFresh concatenates outs along the last axis into a new tensor.
func concatFresh(outs []*tensor.Tensor) *tensor.Tensor {
	s := append([]int(nil), outs[0].Shape()...)
	s[len(s)-1] = 0
	for _, o := range outs {
		s[len(s)-1] += o.Dim(-1)
	}
	y := tensor.ZerosLike(outs[0], s...)
	outs[0].Backend().Concat(y, -1, outs...)
	return y
}

// Backward splits dy among the branches and sums their input gradients.
func (c *Concat) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, c.y) // the gradient may follow the default: run where the forward did
	for i := range c.branches {
		ensure(like, &c.grads[i], c.outs[i].Shape()...)
	}
	be := like.Backend()
	be.Split(dy, -1, c.grads...)
	var dx *tensor.Tensor
	for i, b := range c.branches {
		d := b.Value.Backward(c.grads[i], needInputGrad)
		if !needInputGrad {
			continue
		}
		if dx == nil {
			dx = ensure(like, &c.dx, d.Shape()...)
			be.Scale(dx, 1, d)
			continue
		}
		be.Add(dx, dx, d)
	}
	return dx
}
