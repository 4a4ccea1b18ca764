package nn

import (
	"fmt"

	"github.com/graftml/graft/tensor"
)

// MaxPool2D takes the maximum over windows of NHWC activations.
type MaxPool2D struct {
	Leaf
	P tensor.PoolParams

	x, y, dx *tensor.Tensor
}

// NewMaxPool2D returns a k×k max pooling with the stride and symmetric
// padding (stride 0 means k, PyTorch's default).
func NewMaxPool2D(k, stride, pad int) *MaxPool2D {
	return &MaxPool2D{P: poolParams(k, stride, pad)}
}

func poolParams(k, stride, pad int) tensor.PoolParams {
	if stride == 0 {
		stride = k
	}
	return tensor.PoolParams{KH: k, KW: k, ConvParams: tensor.ConvParams{
		StrideH: stride, StrideW: stride, PadTop: pad, PadLeft: pad, PadBottom: pad, PadRight: pad}}
}

func poolOut(name string, p tensor.PoolParams, x *tensor.Tensor) [4]int {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("nn.%s: input %v, want [N, H, W, C]", name, x.Shape()))
	}
	oh, ow := p.OutSize(x.Dim(1), x.Dim(2))
	return [4]int{x.Dim(0), oh, ow, x.Dim(3)}
}

// Forward pools x.
func (m *MaxPool2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &m.y, shape4(poolOut("MaxPool2D", m.P, x))...)
	x.Backend().MaxPool2D(y, x, m.P)
	m.x = x
	return y
}

// Infer pools x into a fresh tensor.
func (m *MaxPool2D) Infer(x *tensor.Tensor) *tensor.Tensor { return m.inferAlloc(x, zerosLike(x)) }

// inferAlloc is Infer into a tensor from alloc, whose values it overwrites.
func (m *MaxPool2D) inferAlloc(x *tensor.Tensor, alloc func(...int) *tensor.Tensor) *tensor.Tensor {
	y := alloc(shape4(poolOut("MaxPool2D", m.P, x))...)
	x.Backend().MaxPool2D(y, x, m.P)
	return y
}

// Backward routes dy to the maxima.
func (m *MaxPool2D) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, m.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &m.dx, m.x.Shape()...)
	like.Backend().MaxPool2DBackward(dx, m.x, dy, m.P)
	return dx
}

// AvgPool2D averages windows of NHWC activations.
type AvgPool2D struct {
	Leaf
	P tensor.PoolParams

	xshape []int
	y, dx  *tensor.Tensor
}

// NewAvgPool2D returns a k×k average pooling (stride 0 means k); padded
// positions are counted as PyTorch's default count_include_pad does.
func NewAvgPool2D(k, stride, pad int) *AvgPool2D {
	p := poolParams(k, stride, pad)
	p.CountIncludePad = true
	return &AvgPool2D{P: p}
}

// Forward pools x.
func (m *AvgPool2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &m.y, shape4(poolOut("AvgPool2D", m.P, x))...)
	x.Backend().AvgPool2D(y, x, m.P)
	m.xshape = x.Shape()
	return y
}

// Infer pools x into a fresh tensor.
func (m *AvgPool2D) Infer(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.ZerosLike(x, shape4(poolOut("AvgPool2D", m.P, x))...)
	x.Backend().AvgPool2D(y, x, m.P)
	return y
}

// Backward spreads dy over the windows.
func (m *AvgPool2D) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, m.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &m.dx, m.xshape...)
	like.Backend().AvgPool2DBackward(dx, dy, m.P)
	return dx
}

// GlobalAvgPool averages [N, H, W, C] over H and W into [N, C]
// (torchvision's avgpool followed by flatten), or into [N, 1, 1, C] with
// KeepDims (ONNX's GlobalAveragePool).
type GlobalAvgPool struct {
	Leaf
	KeepDims bool
	xshape   []int
	y, dx    *tensor.Tensor
}

func (m *GlobalAvgPool) out(x *tensor.Tensor) []int {
	if m.KeepDims {
		return []int{x.Dim(0), 1, 1, x.Dim(3)}
	}
	return []int{x.Dim(0), x.Dim(3)}
}

// NewGlobalAvgPool returns a global average pooling.
func NewGlobalAvgPool() *GlobalAvgPool { return &GlobalAvgPool{} }

// Forward averages x.
func (m *GlobalAvgPool) Forward(x *tensor.Tensor) *tensor.Tensor {
	mustRank("GlobalAvgPool", x, 4)
	var y *tensor.Tensor
	if m.KeepDims {
		y = ensure(x, &m.y, x.Dim(0), 1, 1, x.Dim(3))
	} else {
		y = ensure(x, &m.y, x.Dim(0), x.Dim(3))
	}
	x.Backend().GlobalAvgPool(y, x)
	m.xshape = x.Shape()
	return y
}

// Infer averages x into a fresh tensor.
func (m *GlobalAvgPool) Infer(x *tensor.Tensor) *tensor.Tensor {
	mustRank("GlobalAvgPool", x, 4)
	y := tensor.ZerosLike(x, m.out(x)...)
	x.Backend().GlobalAvgPool(y, x)
	return y
}

// Backward spreads dy evenly over each image.
func (m *GlobalAvgPool) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, m.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &m.dx, m.xshape...)
	like.Backend().GlobalAvgPoolBackward(dx, dy)
	return dx
}

func shape4(s [4]int) []int { return s[:] }
