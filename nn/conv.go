package nn

import (
	"fmt"
	"sync/atomic"

	"github.com/graftml/graft/tensor"
)

// Conv2D is a 2-D convolution over NHWC activations with an OIHW weight
// [Out, In/Groups, KH, KW], PyTorch's Conv2d: stride, padding (symmetric,
// asymmetric or TF-style "same"), dilation and groups (depthwise when
// Groups = In).
type Conv2D struct {
	Leaf
	In, Out, KH, KW int
	// P holds strides, dilations, padding and groups. With Same set, the
	// padding is recomputed from each input's size (TF's "SAME": the
	// output is ⌈input/stride⌉, the odd pixel padded after).
	P      tensor.ConvParams
	Same   bool
	Weight *Param
	Bias   *Param // nil without bias

	params []Named[*Param]
	x      *tensor.Tensor
	y, dx  *tensor.Tensor
	dy2    *tensor.Tensor
	// fold caches the weight and bias with a following BatchNorm folded
	// in, for inference (see fold.go)
	fold atomic.Pointer[convFold]
	// wt caches the weight of a pointwise convolution transposed, for
	// inference on the CPU (see inferConv)
	wt transposeCache
}

// ConvOpts are a convolution's options beyond its channels and kernel;
// the zero value is stride 1, no padding, dilation 1, one group, no bias.
type ConvOpts struct {
	Stride, Padding, Dilation, Groups int
	// Same pads TF-style so the output is ⌈input/stride⌉ (Padding ignored).
	Same bool
	Bias bool
}

// NewConv2D returns a k×k convolution with PyTorch's default
// initialisation drawn from seed.
func NewConv2D(in, out, k int, o ConvOpts, seed uint64) *Conv2D {
	g := max(o.Groups, 1)
	p := tensor.ConvParams{
		StrideH: max(o.Stride, 1), StrideW: max(o.Stride, 1),
		DilationH: max(o.Dilation, 1), DilationW: max(o.Dilation, 1),
		PadTop: o.Padding, PadLeft: o.Padding, PadBottom: o.Padding, PadRight: o.Padding,
		Groups: g,
	}
	return NewConv2DParams(in, out, k, k, p, o.Same, o.Bias, seed)
}

// NewConv2DParams returns a kh×kw convolution with explicit parameters
// (asymmetric padding, separate strides and dilations).
func NewConv2DParams(in, out, kh, kw int, p tensor.ConvParams, same, bias bool, seed uint64) *Conv2D {
	g := max(p.Groups, 1)
	if in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn.Conv2D: %d→%d channels not divisible by %d groups", in, out, g))
	}
	p.Groups = g
	c := &Conv2D{In: in, Out: out, KH: kh, KW: kw, P: p, Same: same,
		Weight: NewParam(tensor.Zeros(out, in/g, kh, kw))}
	c.params = []Named[*Param]{{"weight", c.Weight}}
	if bias {
		c.Bias = NewParam(tensor.Zeros(out))
		c.params = append(c.params, Named[*Param]{"bias", c.Bias})
	}
	TorchDefaultInit(c.Weight.Value, biasValue(c.Bias), in/g*kh*kw, seed)
	return c
}

// NewConv2DWith returns a convolution over a given weight [Out,
// In/Groups, KH, KW] and bias (nil for none), which it keeps as they are
// (an importer's: no copy, no initialisation). In is In/Groups·Groups.
func NewConv2DWith(w, b *tensor.Tensor, p tensor.ConvParams, same bool) (*Conv2D, error) {
	g := max(p.Groups, 1)
	if w.Rank() != 4 {
		return nil, fmt.Errorf("nn.Conv2D: weight %v, want [Out, In/Groups, KH, KW]", w.Shape())
	}
	out := w.Dim(0)
	if out%g != 0 {
		return nil, fmt.Errorf("nn.Conv2D: %d output channels not divisible by %d groups", out, g)
	}
	if b != nil && (b.Rank() != 1 || b.Dim(0) != out) {
		return nil, fmt.Errorf("nn.Conv2D: bias %v for %d outputs", b.Shape(), out)
	}
	p.Groups = g
	c := &Conv2D{In: w.Dim(1) * g, Out: out, KH: w.Dim(2), KW: w.Dim(3), P: p, Same: same, Weight: NewParam(w)}
	c.params = []Named[*Param]{{"weight", c.Weight}}
	if b != nil {
		c.Bias = NewParam(b)
		c.params = append(c.params, Named[*Param]{"bias", c.Bias})
	}
	return c, nil
}

// Params returns weight and bias.
func (c *Conv2D) Params() []Named[*Param] { return c.params }

// params returns the convolution parameters for an input, with "same"
// padding resolved.
func (c *Conv2D) params2(x *tensor.Tensor) tensor.ConvParams {
	if x.Rank() != 4 || x.Dim(3) != c.In {
		panic(fmt.Sprintf("nn.Conv2D: input %v, want [N, H, W, %d]", x.Shape(), c.In))
	}
	return c.paramsFor(x.Dim(1), x.Dim(2), x.Dim(3))
}

// paramsFor returns the convolution parameters for an input of h×w
// pixels of ch channels, with "same" padding resolved.
func (c *Conv2D) paramsFor(h, w, ch int) tensor.ConvParams {
	if ch != c.In {
		panic(fmt.Sprintf("nn.Conv2D: input of %d channels, want %d", ch, c.In))
	}
	p := c.P
	if c.Same {
		p.PadTop, p.PadBottom = tensor.SamePadding(h, c.KH, max(p.StrideH, 1), max(p.DilationH, 1), false)
		p.PadLeft, p.PadRight = tensor.SamePadding(w, c.KW, max(p.StrideW, 1), max(p.DilationW, 1), false)
	}
	return p
}

// OutShape returns the output shape for an input shape [N, H, W, In].
func (c *Conv2D) OutShape(x *tensor.Tensor) []int {
	p := c.params2(x)
	oh, ow := p.OutSize(x.Dim(1), x.Dim(2), c.KH, c.KW)
	return []int{x.Dim(0), oh, ow, c.Out}
}

// Forward convolves x [N, H, W, In] into [N, OH, OW, Out].
func (c *Conv2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	p := c.params2(x)
	oh, ow := p.OutSize(x.Dim(1), x.Dim(2), c.KH, c.KW)
	y := ensure(x, &c.y, x.Dim(0), oh, ow, c.Out)
	x.Backend().Conv2D(y, x, c.Weight.Value, biasValue(c.Bias), p)
	c.x = x
	return y
}

// Infer is Forward into a fresh tensor.
func (c *Conv2D) Infer(x *tensor.Tensor) *tensor.Tensor { return c.inferAlloc(x, zerosLike(x)) }

// inferAlloc is Infer into a tensor from alloc, whose values it overwrites.
func (c *Conv2D) inferAlloc(x *tensor.Tensor, alloc func(...int) *tensor.Tensor) *tensor.Tensor {
	return c.inferAllocAct(x, alloc, tensor.FusedAct{})
}

// inferAllocAct is inferAlloc followed by the activation act, fused into
// the convolution where the backend can (tensor.Conv2DAct): Graph
// inference runs a Conv→ReLU or Conv→Clip pair so.
func (c *Conv2D) inferAllocAct(x *tensor.Tensor, alloc func(...int) *tensor.Tensor, act tensor.FusedAct) *tensor.Tensor {
	p := c.params2(x)
	oh, ow := p.OutSize(x.Dim(1), x.Dim(2), c.KH, c.KW)
	y := alloc(x.Dim(0), oh, ow, c.Out)
	c.inferConv(y, x, nil, p, act)
	return y
}

// pointwise reports whether c run with p is a plain GEMM on its input
// (1×1, stride 1, no padding, one group, and not the one-channel
// depthwise case).
func (c *Conv2D) pointwise(p tensor.ConvParams) bool {
	return c.KH == 1 && c.KW == 1 && max(p.Groups, 1) == 1 && max(p.StrideH, 1) == 1 && max(p.StrideW, 1) == 1 &&
		p.PadTop == 0 && p.PadBottom == 0 && p.PadLeft == 0 && p.PadRight == 0 && !(c.In == 1 && c.Out == 1)
}

// inferConv computes y = act(conv(x) + bias) for inference, with c's
// weight and bias, or with those of fold when it is not nil. A pointwise
// convolution on the CPU runs through its weight transposed (kept from
// call to call), so that the GEMM does not transpose the weight at every
// call: the result is the same, bit for bit.
func (c *Conv2D) inferConv(y, x *tensor.Tensor, fold *convFold, p tensor.ConvParams, act tensor.FusedAct) {
	w, b := c.Weight.Value, biasValue(c.Bias)
	if fold != nil {
		w, b = fold.w, fold.b
	}
	if cpu, ok := y.Backend().(tensor.CPU); ok && c.pointwise(p) {
		var wt *tensor.Tensor
		if fold != nil {
			wt = fold.wt
		} else {
			wt = c.wt.get(c.Weight.Value, c.Out, c.In)
		}
		cpu.PointwiseAct(y, x, wt, b, act)
		return
	}
	tensor.Conv2DAct(y, x, w, b, p, act)
}

// transposeCache keeps a weight matrix transposed, for CPU inference
// through GEMMs that then read it in place: a layer's weight is stored
// [out, in], as PyTorch's, and a GEMM given it so transposes it at every
// call, which costs as much as the product when the batch is small.
type transposeCache struct {
	p atomic.Pointer[transposed]
}

// transposed is a weight transposed and the fingerprint of the weight.
type transposed struct {
	key uint64
	wt  *tensor.Tensor
}

// get returns w (rows×cols) transposed, from the cache while w's values
// have not changed.
func (c *transposeCache) get(w *tensor.Tensor, rows, cols int) *tensor.Tensor {
	key := fingerprint([]*tensor.Tensor{w})
	if t := c.p.Load(); t != nil && t.key == key {
		return t.wt
	}
	t := &transposed{key: key, wt: transpose2(w.Data(), rows, cols)}
	c.p.Store(t)
	return t.wt
}

// transpose2 returns the rows×cols matrix w transposed.
func transpose2(w []float32, rows, cols int) *tensor.Tensor {
	t := tensor.Zeros(cols, rows)
	d := t.Data()
	for r := range rows {
		for k, v := range w[r*cols : (r+1)*cols] {
			d[k*rows+r] = v
		}
	}
	return t
}

// Backward computes the weight and bias gradients of the trainable ones
// and, when asked, the input gradient.
func (c *Conv2D) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, c.y) // the gradient may follow the default: run where the forward did
	be := like.Backend()
	p := c.params2(c.x)
	wTrain := c.Weight.Trainable
	bTrain := c.Bias != nil && c.Bias.Trainable
	switch {
	case wTrain:
		var db *tensor.Tensor
		if bTrain {
			db = c.Bias.Grad
		}
		be.Conv2DBackwardWeights(c.Weight.Grad, db, c.x, dy, p)
	case bTrain:
		be.Sum(c.Bias.Grad, view(&c.dy2, dy, -1, c.Out), 0)
	}
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &c.dx, c.x.Shape()...)
	be.Conv2DBackwardData(dx, dy, c.Weight.Value, p)
	return dx
}
