package nn

import (
	"github.com/graftml/graft/tensor"
)

// Act applies an elementwise activation.
type Act struct {
	Leaf
	Kind tensor.Activation
	// Alpha is LeakyReLU's negative slope.
	Alpha float32

	x, y, dx *tensor.Tensor
}

// ReLU returns max(x, 0).
func ReLU() *Act { return &Act{Kind: tensor.ActReLU} }

// ReLU6 returns min(max(x, 0), 6).
func ReLU6() *Act { return &Act{Kind: tensor.ActReLU6} }

// LeakyReLU returns x for x > 0 and alpha·x otherwise.
func LeakyReLU(alpha float32) *Act { return &Act{Kind: tensor.ActLeakyReLU, Alpha: alpha} }

// GELU returns x·Φ(x) (the exact form).
func GELU() *Act { return &Act{Kind: tensor.ActGELU} }

// Sigmoid returns 1/(1+e^−x).
func Sigmoid() *Act { return &Act{Kind: tensor.ActSigmoid} }

// Tanh returns tanh(x).
func Tanh() *Act { return &Act{Kind: tensor.ActTanh} }

func (a *Act) compute(y, x *tensor.Tensor) {
	if a.Kind == tensor.ActReLU {
		y.Backend().ReLU(y, x)
		return
	}
	y.Backend().Activate(y, x, a.Kind, a.Alpha)
}

// Forward applies the activation.
func (a *Act) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := ensure(x, &a.y, x.Shape()...)
	a.compute(y, x)
	a.x = x
	return y
}

// Infer applies the activation into a fresh tensor.
func (a *Act) Infer(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.ZerosLike(x, x.Shape()...)
	a.compute(y, x)
	return y
}

// inferInPlace applies the activation over x (which the caller owns).
func (a *Act) inferInPlace(x *tensor.Tensor) *tensor.Tensor {
	a.compute(x, x)
	return x
}

// Backward returns dy times the activation's derivative.
func (a *Act) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, a.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &a.dx, dy.Shape()...)
	if a.Kind == tensor.ActReLU {
		like.Backend().ReLUGrad(dx, a.x, dy)
		return dx
	}
	like.Backend().ActivateGrad(dx, a.x, a.y, dy, a.Kind, a.Alpha)
	return dx
}
