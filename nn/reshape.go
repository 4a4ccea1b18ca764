package nn

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/tensor"
)

// Reshape gives activations a new shape in PyTorch's element order, as
// ONNX's and PyTorch's reshape do on NCHW tensors: a rank-4 input is taken
// as NHWC and read in (C, H, W) order, and a rank-4 result [N, C, H, W] is
// returned NHWC. Shape is the target in NCHW terms, batch included; a 0
// copies the input's dimension (NCHW), one −1 takes what is left.
type Reshape struct {
	Leaf
	Shape []int

	xshape           []int
	fwd, bwd         reshaper
	sbuf, tbuf, bbuf []int
}

// NewReshape returns a Reshape to shape (NCHW terms).
func NewReshape(shape ...int) *Reshape { return &Reshape{Shape: slices.Clone(shape)} }

// nchwShape returns x's shape in NCHW terms.
func nchwShape(s []int) []int {
	if len(s) == 4 {
		return []int{s[0], s[3], s[1], s[2]}
	}
	return slices.Clone(s)
}

// ResolveShape returns target with its 0s and −1 resolved against an input
// shape in (NCHW) terms, or an error.
func ResolveShape(in, target []int) ([]int, error) {
	var out []int
	return resolveInto(&out, in, target)
}

func resolveInto(buf *[]int, in, target []int) ([]int, error) {
	n := 1
	for _, d := range in {
		n *= d
	}
	out := append((*buf)[:0], target...)
	*buf = out
	free, known := -1, 1
	for i, d := range out {
		switch {
		case d == 0:
			if i >= len(in) {
				return nil, fmt.Errorf("reshape %v to %v: 0 at %d copies no dimension", in, target, i)
			}
			out[i] = in[i]
		case d == -1:
			if free >= 0 {
				return nil, fmt.Errorf("reshape %v to %v: two −1", in, target)
			}
			free = i
			continue
		case d < 0:
			return nil, fmt.Errorf("reshape %v to %v: negative dimension", in, target)
		}
		known *= out[i]
	}
	if free >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("reshape %v to %v: %d elements do not divide", in, target, n)
		}
		out[free] = n / known
		known *= out[free]
	}
	if known != n {
		return nil, fmt.Errorf("reshape %v to %v: %d elements, not %d", in, target, n, known)
	}
	return out, nil
}

// trivial reports whether the NHWC↔NCHW orders agree for s (rank 4 with
// H·W = 1 or C = 1).
func trivial(s []int) bool { return len(s) != 4 || s[1]*s[2] == 1 || s[3] == 1 }

// reshaper moves tensors between shapes in NCHW order, reusing its buffers.
type reshaper struct {
	nchw, y       *tensor.Tensor
	inView, nview *tensor.Tensor
	outView       *tensor.Tensor
	shape, ys     []int
}

// to moves x (graft layout) to the target (NCHW terms) in graft layout.
// With fresh set, it allocates and keeps nothing.
func (r *reshaper) to(x *tensor.Tensor, target []int, fresh bool) *tensor.Tensor {
	s := x.Shape()
	flat := x
	if !trivial(s) {
		if fresh {
			flat = tensor.ZerosLike(x, s[0], s[3], s[1], s[2])
		} else {
			flat = ensure(x, &r.nchw, s[0], s[3], s[1], s[2])
		}
		tensor.NHWCToNCHW(flat, x)
	}
	if len(target) == 4 {
		t := target
		ys := append(r.ys[:0], t[0], t[2], t[3], t[1])
		r.ys = ys // a fresh reshaper is the caller's own, dropped after
		if !trivial(ys) {
			var y *tensor.Tensor
			if fresh {
				y = tensor.ZerosLike(x, ys...)
				tensor.NCHWToNHWC(y, flat.Reshape(t...))
				return y
			}
			y = ensure(x, &r.y, ys...)
			tensor.NCHWToNHWC(y, view(&r.nview, flat, t...))
			return y
		}
		target = ys
	}
	if fresh {
		return flat.Clone().Reshape(target...)
	}
	if flat == x {
		return view(&r.inView, x, target...)
	}
	return view(&r.outView, flat, target...)
}

func (r *Reshape) target(x *tensor.Tensor, buf *[]int) []int {
	in := append((*buf)[:0], x.Shape()...)
	if len(in) == 4 {
		in[1], in[2], in[3] = in[3], in[1], in[2]
	}
	*buf = in
	t, err := resolveInto(&r.tbuf, in, r.Shape)
	if err != nil {
		panic("nn.Reshape: " + err.Error())
	}
	return t
}

// Forward reshapes x.
func (r *Reshape) Forward(x *tensor.Tensor) *tensor.Tensor {
	r.xshape = x.Shape()
	return r.fwd.to(x, r.target(x, &r.sbuf), false)
}

// Infer reshapes x into a fresh tensor.
func (r *Reshape) Infer(x *tensor.Tensor) *tensor.Tensor {
	var fresh reshaper
	t, err := ResolveShape(nchwShape(x.Shape()), r.Shape)
	if err != nil {
		panic("nn.Reshape: " + err.Error())
	}
	return fresh.to(x, t, true)
}

// Backward reshapes dy back to the input's shape.
func (r *Reshape) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	if !needInputGrad {
		return nil
	}
	in := append(r.bbuf[:0], r.xshape...)
	if len(in) == 4 {
		in[1], in[2], in[3] = in[3], in[1], in[2]
	}
	r.bbuf = in
	return r.bwd.to(dy, in, false)
}
