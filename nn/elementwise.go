package nn

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/tensor"
)

// pointwise is an elementwise layer of one of a few piecewise functions
// (HardSigmoid, HardSwish, Clip), each a tight loop.
type pointwise struct {
	Leaf
	kind pwKind
	a, b float32 // HardSigmoid's slope and offset; Clip's bounds
	name string

	x, y, dx *tensor.Tensor
}

type pwKind int

const (
	pwHardSigmoid pwKind = iota
	pwHardSwish
	pwClip
)

func (p *pointwise) apply(y, x *tensor.Tensor) {
	if p.kind == pwClip {
		tensor.Clamp(y, x, p.a, p.b) // vector kernel, threads: Clip(0, 6) follows most MobileNet convolutions
		return
	}
	xd := x.Data()
	yd := y.Data()[:len(xd)]
	a, b := p.a, p.b
	switch p.kind {
	case pwHardSigmoid:
		for i, v := range xd {
			yd[i] = min(max(a*v+b, 0), 1)
		}
	case pwHardSwish:
		for i, v := range xd {
			yd[i] = v * min(max(v*(1.0/6)+0.5, 0), 1)
		}
	}
}

// grad writes dx = dy·f'(x).
func (p *pointwise) grad(dx, dy, x []float32) {
	a, b := p.a, p.b
	dx = dx[:len(dy)]
	x = x[:len(dy)]
	switch p.kind {
	case pwHardSigmoid:
		for i, g := range dy {
			if v := a*x[i] + b; v > 0 && v < 1 {
				dx[i] = g * a
			} else {
				dx[i] = 0
			}
		}
	case pwHardSwish:
		for i, g := range dy {
			switch v := x[i]; {
			case v <= -3:
				dx[i] = 0
			case v >= 3:
				dx[i] = g
			default:
				dx[i] = g * (v/3 + 0.5)
			}
		}
	case pwClip:
		for i, g := range dy {
			if v := x[i]; v > a && v < b {
				dx[i] = g
			} else {
				dx[i] = 0
			}
		}
	}
}

// inferInPlace applies the function over x (which the caller owns).
func (p *pointwise) inferInPlace(x *tensor.Tensor) *tensor.Tensor {
	p.apply(x, x)
	return x
}

// Forward applies the function.
func (p *pointwise) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &p.y, x.Shape()...)
	p.apply(y, x)
	p.x = x
	return y
}

// Infer applies the function into a fresh tensor.
func (p *pointwise) Infer(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.ZerosLike(x, x.Shape()...)
	p.apply(y, x)
	return y
}

// Backward multiplies dy by the derivative at the last input.
func (p *pointwise) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, p.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	if !dy.SameShape(p.x) {
		panic(fmt.Sprintf("nn.%s: gradient %v for input %v", p.name, dy.Shape(), p.x.Shape()))
	}
	dx := ensure(like, &p.dx, dy.Shape()...)
	p.grad(dx.Data(), dy.Data(), p.x.Data())
	return dx
}

// HardSigmoid is max(0, min(1, Alpha·x + Beta)), ONNX's HardSigmoid
// (PyTorch's Hardsigmoid is Alpha = 1/6, Beta = 1/2).
type HardSigmoid struct {
	pointwise
	Alpha, Beta float32
}

// NewHardSigmoid returns a HardSigmoid with the slope and offset.
func NewHardSigmoid(alpha, beta float32) *HardSigmoid {
	h := &HardSigmoid{Alpha: alpha, Beta: beta}
	h.name, h.kind, h.a, h.b = "HardSigmoid", pwHardSigmoid, alpha, beta
	return h
}

// HardSwish is x·HardSigmoid(x) with Alpha = 1/6, Beta = 1/2 (PyTorch's
// Hardswish, ONNX's HardSwish).
type HardSwish struct{ pointwise }

// NewHardSwish returns a HardSwish.
func NewHardSwish() *HardSwish {
	h := &HardSwish{}
	h.name, h.kind = "HardSwish", pwHardSwish
	return h
}

// Clip is min(max(x, Min), Max); the gradient passes where Min < x < Max.
type Clip struct {
	pointwise
	Min, Max float32
}

// NewClip returns a Clip to [lo, hi].
func NewClip(lo, hi float32) *Clip {
	c := &Clip{Min: lo, Max: hi}
	c.name, c.kind, c.a, c.b = "Clip", pwClip, lo, hi
	return c
}

// BinaryOp is an elementwise operation of two tensors.
type BinaryOp int

// The binary operations.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div"}

// String returns the operation's name.
func (o BinaryOp) String() string {
	if o >= 0 && int(o) < len(binaryNames) {
		return binaryNames[o]
	}
	return fmt.Sprintf("BinaryOp(%d)", int(o))
}

// Binary applies a BinaryOp to two inputs with NumPy broadcasting (the
// shorter shape is aligned to the right; dimensions of 1 stretch), as in
// a squeeze-excitation block's x·s with x [N, H, W, C] and s [N, 1, 1, C].
// With Const set it is a one-input layer computing x op Const (or Const op
// x when ConstFirst is set); Const is a buffer named "const" and gets no
// gradient. Otherwise it is a MultiInput of two inputs.
type Binary struct {
	Leaf
	Op         BinaryOp
	Const      *Buffer
	ConstFirst bool

	buffers []Named[*Buffer]
	a, b    *tensor.Tensor
	y       *tensor.Tensor
	da, db  *tensor.Tensor
	one     [1]*tensor.Tensor
	res     [2]*tensor.Tensor
	sh      bshape
}

// bshape holds a broadcast's shapes and strides, reused across calls.
type bshape struct {
	out, sa, sb, idx []int
}

func (s *bshape) set(a, b []int) error {
	r := max(len(a), len(b))
	s.out = slices.Grow(s.out[:0], r)[:r]
	for i := range r {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			s.out[i] = da
		case da == 1:
			s.out[i] = db
		default:
			return fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	s.sa = bstrides(s.sa, a, s.out)
	s.sb = bstrides(s.sb, b, s.out)
	s.idx = slices.Grow(s.idx[:0], r)[:r]
	return nil
}

// NewBinary returns a Binary of two inputs.
func NewBinary(op BinaryOp) *Binary { return &Binary{Op: op} }

// NewBinaryConst returns a Binary of x and a constant (c op x when
// constFirst is set).
func NewBinaryConst(op BinaryOp, c *tensor.Tensor, constFirst bool) *Binary {
	b := &Binary{Op: op, Const: &Buffer{Value: c}, ConstFirst: constFirst}
	b.buffers = []Named[*Buffer]{{"const", b.Const}}
	return b
}

// Buffers returns the constant, if any.
func (b *Binary) Buffers() []Named[*Buffer] { return b.buffers }

func (b *Binary) operands(xs []*tensor.Tensor) (x, y *tensor.Tensor) {
	if b.Const != nil {
		if len(xs) != 1 {
			panic(fmt.Sprintf("nn.Binary: %d inputs with a constant", len(xs)))
		}
		if b.ConstFirst {
			return b.Const.Value, xs[0]
		}
		return xs[0], b.Const.Value
	}
	if len(xs) != 2 {
		panic(fmt.Sprintf("nn.Binary: %d inputs, want 2", len(xs)))
	}
	return xs[0], xs[1]
}

// BroadcastShape returns the NumPy broadcast of two shapes, or an error.
func BroadcastShape(a, b []int) ([]int, error) {
	var s bshape
	if err := s.set(a, b); err != nil {
		return nil, err
	}
	return s.out, nil
}

// bstrides returns the strides of shape s aligned right to the output
// shape, 0 where s broadcasts, in st's storage.
func bstrides(st, s []int, out []int) []int {
	r := len(out)
	st = slices.Grow(st[:0], r)[:r]
	clear(st)
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := i + r - len(s)
		if s[i] != 1 || out[j] == 1 {
			st[j] = acc
		}
		acc *= s[i]
	}
	return st
}

// bcastRuns calls fn for each run along the last dimension of the output
// shape: offsets into out, a and b, the run's length and a's and b's steps.
func bcastRuns(out []int, sa, sb, idx []int, fn func(o, a, b, n, stepA, stepB int)) {
	r := len(out)
	if r == 0 {
		fn(0, 0, 0, 1, 0, 0)
		return
	}
	n := out[r-1]
	outer := 1
	for _, d := range out[:r-1] {
		outer *= d
	}
	clear(idx)
	oa, ob := 0, 0
	for k := range outer {
		fn(k*n, oa, ob, n, sa[r-1], sb[r-1])
		for d := r - 2; d >= 0; d-- { // odometer over the outer dimensions
			idx[d]++
			oa += sa[d]
			ob += sb[d]
			if idx[d] < out[d] {
				break
			}
			oa -= sa[d] * out[d]
			ob -= sb[d] * out[d]
			idx[d] = 0
		}
	}
}

// computeWith writes x1 op x2 into y; sh holds their broadcast (outShape
// set it).
func (b *Binary) computeWith(sh *bshape, y, x1, x2 *tensor.Tensor) {
	if x1.SameShape(x2) && (b.Op == OpAdd || b.Op == OpMul) {
		if b.Op == OpAdd {
			y.Backend().Add(y, x1, x2)
		} else {
			y.Backend().Mul(y, x1, x2)
		}
		return
	}
	yd, ad, bd := y.Data(), x1.Data(), x2.Data()
	op := b.Op
	bcastRuns(sh.out, sh.sa, sh.sb, sh.idx, func(o, a, bb, n, ka, kb int) {
		yr := yd[o : o+n]
		switch op {
		case OpAdd:
			for i := range yr {
				yr[i] = ad[a+i*ka] + bd[bb+i*kb]
			}
		case OpSub:
			for i := range yr {
				yr[i] = ad[a+i*ka] - bd[bb+i*kb]
			}
		case OpMul:
			for i := range yr {
				yr[i] = ad[a+i*ka] * bd[bb+i*kb]
			}
		case OpDiv:
			for i := range yr {
				yr[i] = ad[a+i*ka] / bd[bb+i*kb]
			}
		}
	})
}

func (b *Binary) outShape(sh *bshape, x1, x2 *tensor.Tensor) []int {
	if err := sh.set(x1.Shape(), x2.Shape()); err != nil {
		panic("nn.Binary: " + err.Error())
	}
	return sh.out
}

// ForwardN computes xs[0] op xs[1] (or with the constant).
func (b *Binary) ForwardN(xs []*tensor.Tensor) *tensor.Tensor {
	x1, x2 := b.operands(xs)
	y := ensure(xs[0], &b.y, b.outShape(&b.sh, x1, x2)...)
	b.computeWith(&b.sh, y, x1, x2)
	b.a, b.b = x1, x2
	return y
}

// InferN computes into a fresh tensor.
func (b *Binary) InferN(xs []*tensor.Tensor) *tensor.Tensor {
	x1, x2 := b.operands(xs)
	var sh bshape
	y := tensor.ZerosLike(xs[0], b.outShape(&sh, x1, x2)...)
	b.computeWith(&sh, y, x1, x2)
	return y
}

// Forward is ForwardN of one input (with the constant).
func (b *Binary) Forward(x *tensor.Tensor) *tensor.Tensor {
	b.one[0] = x
	y := b.ForwardN(b.one[:])
	b.one[0] = nil
	return y
}

// Infer is InferN of one input (with the constant).
func (b *Binary) Infer(x *tensor.Tensor) *tensor.Tensor { return b.InferN([]*tensor.Tensor{x}) }

// Backward returns the gradient of the one input (with the constant).
func (b *Binary) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	if b.Const == nil {
		panic("nn.Binary: Backward of a two-input Binary (use BackwardN)")
	}
	if !needInputGrad {
		return nil
	}
	if b.ConstFirst {
		return b.grads(dy, false, true)[1]
	}
	return b.grads(dy, true, false)[0]
}

// BackwardN returns the inputs' gradients, summed over the broadcast
// dimensions.
func (b *Binary) BackwardN(dy *tensor.Tensor, need []bool) []*tensor.Tensor {
	if b.Const != nil {
		b.one[0] = b.Backward(dy, need[0])
		return b.one[:]
	}
	return b.grads(dy, need[0], need[1])
}

func (b *Binary) grads(dy *tensor.Tensor, needA, needB bool) []*tensor.Tensor {
	like := likeOf(dy, b.y) // the gradient may follow the default: run where the forward did
	out := dy.Shape()
	res := b.res[:]
	clear(res)
	same := b.a.SameShape(dy) && b.b.SameShape(dy)
	if same && (b.Op == OpAdd || b.Op == OpSub) {
		if needA {
			res[0] = dy
		}
		if needB {
			if b.Op == OpAdd {
				res[1] = dy
			} else {
				res[1] = ensure(like, &b.db, out...)
				like.Backend().Scale(res[1], -1, dy)
			}
		}
		return res
	}
	if same && b.Op == OpMul {
		be := like.Backend()
		if needA {
			res[0] = ensure(like, &b.da, out...)
			be.Mul(res[0], dy, b.b)
		}
		if needB {
			res[1] = ensure(like, &b.db, out...)
			be.Mul(res[1], dy, b.a)
		}
		return res
	}
	sh := &b.sh
	if err := sh.set(b.a.Shape(), b.b.Shape()); err != nil {
		panic("nn.Binary: " + err.Error())
	}
	sa, sb := sh.sa, sh.sb
	ad, bd, gd := b.a.Data(), b.b.Data(), dy.Data()
	op := b.Op
	if needA {
		res[0] = ensure(like, &b.da, b.a.Shape()...)
		g := res[0].Data()
		clear(g)
		bcastRuns(out, sa, sb, sh.idx, func(o, a, bb, n, ka, kb int) {
			for i := range n {
				v := gd[o+i]
				switch op {
				case OpMul:
					v *= bd[bb+i*kb]
				case OpDiv:
					v /= bd[bb+i*kb]
				}
				g[a+i*ka] += v
			}
		})
	}
	if needB {
		res[1] = ensure(like, &b.db, b.b.Shape()...)
		g := res[1].Data()
		clear(g)
		bcastRuns(out, sa, sb, sh.idx, func(o, a, bb, n, ka, kb int) {
			for i := range n {
				v := gd[o+i]
				switch op {
				case OpSub:
					v = -v
				case OpMul:
					v *= ad[a+i*ka]
				case OpDiv:
					q := bd[bb+i*kb]
					v = -v * ad[a+i*ka] / (q * q)
				}
				g[bb+i*kb] += v
			}
		})
	}
	return res
}

// ConcatN joins its inputs along Axis (negative counts from the end) in
// a Graph: the merge of branches, as in SqueezeNet's fire modules.
type ConcatN struct {
	Leaf
	Axis int

	shapes   [][]int
	y        *tensor.Tensor
	dxs, out []*tensor.Tensor
	sbuf     []int
	one      [1]*tensor.Tensor
}

// NewConcatN returns a ConcatN along axis.
func NewConcatN(axis int) *ConcatN { return &ConcatN{Axis: axis} }

func (c *ConcatN) shape(buf *[]int, xs []*tensor.Tensor) ([]int, int) {
	s := append((*buf)[:0], xs[0].Shape()...)
	*buf = s
	ax := c.Axis
	if ax < 0 {
		ax += len(s)
	}
	if ax < 0 || ax >= len(s) {
		panic(fmt.Sprintf("nn.ConcatN: axis %d of %v", c.Axis, s))
	}
	s[ax] = 0
	for _, x := range xs {
		s[ax] += x.Dim(ax)
	}
	return s, ax
}

// ForwardN concatenates the inputs.
func (c *ConcatN) ForwardN(xs []*tensor.Tensor) *tensor.Tensor {
	s, ax := c.shape(&c.sbuf, xs)
	y := ensure(xs[0], &c.y, s...)
	xs[0].Backend().Concat(y, ax, xs...)
	c.shapes = c.shapes[:0]
	for _, x := range xs {
		c.shapes = append(c.shapes, x.Shape())
	}
	return y
}

// InferN concatenates into a fresh tensor.
func (c *ConcatN) InferN(xs []*tensor.Tensor) *tensor.Tensor {
	var buf []int
	s, ax := c.shape(&buf, xs)
	y := tensor.ZerosLike(xs[0], s...)
	xs[0].Backend().Concat(y, ax, xs...)
	return y
}

// BackwardN splits dy among the inputs.
func (c *ConcatN) BackwardN(dy *tensor.Tensor, need []bool) []*tensor.Tensor {
	like := likeOf(dy, c.y) // the gradient may follow the default: run where the forward did
	if len(c.dxs) != len(c.shapes) {
		c.dxs = make([]*tensor.Tensor, len(c.shapes))
	}
	for i, s := range c.shapes {
		ensure(like, &c.dxs[i], s...)
	}
	ax := c.Axis
	if ax < 0 {
		ax += dy.Rank()
	}
	like.Backend().Split(dy, ax, c.dxs...)
	c.out = append(c.out[:0], c.dxs...)
	out := c.out
	for i := range out {
		if need[i] {
			continue
		}
		out[i] = nil
	}
	return out
}

// Forward is ForwardN of one input.
func (c *ConcatN) Forward(x *tensor.Tensor) *tensor.Tensor {
	c.one[0] = x
	y := c.ForwardN(c.one[:])
	c.one[0] = nil
	return y
}

// Infer is InferN of one input.
func (c *ConcatN) Infer(x *tensor.Tensor) *tensor.Tensor { return c.InferN([]*tensor.Tensor{x}) }

// Backward is BackwardN of one input.
func (c *ConcatN) Backward(dy *tensor.Tensor, need bool) *tensor.Tensor {
	return c.BackwardN(dy, []bool{need})[0]
}

// Softmax normalises along its last axis: y = e^x / Σ e^x.
type Softmax struct {
	Leaf
	y, dx *tensor.Tensor
}

// NewSoftmax returns a Softmax over the last axis.
func NewSoftmax() *Softmax { return &Softmax{} }

// Forward computes the softmax.
func (s *Softmax) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &s.y, x.Shape()...)
	x.Backend().Softmax(y, x, -1, false)
	return y
}

// Infer computes the softmax into a fresh tensor.
func (s *Softmax) Infer(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.ZerosLike(x, x.Shape()...)
	x.Backend().Softmax(y, x, -1, false)
	return y
}

// Backward computes y·(dy − Σ y·dy).
func (s *Softmax) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, s.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &s.dx, dy.Shape()...)
	like.Backend().SoftmaxGrad(dx, s.y, dy, -1, false)
	return dx
}

// Pad2D pads NHWC activations with a constant on the spatial borders.
type Pad2D struct {
	Leaf
	Top, Bottom, Left, Right int
	Value                    float32

	xshape, shape []int
	y, dx         *tensor.Tensor
}

// NewPad2D returns a constant padding of the height and width.
func NewPad2D(top, bottom, left, right int, value float32) *Pad2D {
	return &Pad2D{Top: top, Bottom: bottom, Left: left, Right: right, Value: value}
}

// pad writes x into y with the border.
func (p *Pad2D) pad(y, x *tensor.Tensor) {
	n, h, w, c := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	H, W := y.Dim(1), y.Dim(2)
	yd, xd := y.Data(), x.Data()
	for i := range yd {
		yd[i] = p.Value
	}
	for i := range n {
		for r := range h {
			o := ((i*H+r+p.Top)*W + p.Left) * c
			copy(yd[o:o+w*c], xd[(i*h+r)*w*c:(i*h+r+1)*w*c])
		}
	}
}

func (p *Pad2D) out(x *tensor.Tensor) []int {
	mustRank("Pad2D", x, 4)
	p.shape = append(p.shape[:0], x.Dim(0), x.Dim(1)+p.Top+p.Bottom, x.Dim(2)+p.Left+p.Right, x.Dim(3))
	return p.shape
}

// Forward pads x.
func (p *Pad2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &p.y, p.out(x)...)
	p.pad(y, x)
	p.xshape = x.Shape()
	return y
}

// Infer pads x into a fresh tensor.
func (p *Pad2D) Infer(x *tensor.Tensor) *tensor.Tensor {
	mustRank("Pad2D", x, 4)
	y := tensor.ZerosLike(x, x.Dim(0), x.Dim(1)+p.Top+p.Bottom, x.Dim(2)+p.Left+p.Right, x.Dim(3))
	p.pad(y, x)
	return y
}

// Backward crops dy to the input's region.
func (p *Pad2D) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, p.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	s := p.xshape
	dx := ensure(like, &p.dx, s...)
	n, h, w, c := s[0], s[1], s[2], s[3]
	W := dy.Dim(2)
	H := dy.Dim(1)
	src, dst := dy.Data(), dx.Data()
	for i := range n {
		for r := range h {
			o := ((i*H+r+p.Top)*W + p.Left) * c
			copy(dst[(i*h+r)*w*c:(i*h+r+1)*w*c], src[o:o+w*c])
		}
	}
	return dx
}
