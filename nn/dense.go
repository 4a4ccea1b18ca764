package nn

import (
	"fmt"

	"github.com/graftml/graft/tensor"
)

// Dense is a fully connected layer, y = x·Wᵀ + b, over x [N, In]; the
// weight is [Out, In] as in PyTorch's Linear.
type Dense struct {
	Leaf
	In, Out int
	Weight  *Param
	Bias    *Param // nil without bias

	params []Named[*Param]
	x      *tensor.Tensor
	y, dx  *tensor.Tensor
	wt     transposeCache // the weight transposed, for inference on the CPU
}

// NewDense returns a dense layer with Kaiming-uniform weights (PyTorch
// Linear's default initialisation) drawn from seed.
func NewDense(in, out int, bias bool, seed uint64) *Dense {
	d := &Dense{In: in, Out: out, Weight: NewParam(tensor.Zeros(out, in))}
	d.params = []Named[*Param]{{"weight", d.Weight}}
	if bias {
		d.Bias = NewParam(tensor.Zeros(out))
		d.params = append(d.params, Named[*Param]{"bias", d.Bias})
	}
	TorchDefaultInit(d.Weight.Value, biasValue(d.Bias), in, seed)
	return d
}

// NewDenseWith returns a dense layer over a given weight [Out, In] and
// bias [Out] (nil for none), which it keeps as they are.
func NewDenseWith(w, b *tensor.Tensor) (*Dense, error) {
	if w.Rank() != 2 {
		return nil, fmt.Errorf("nn.Dense: weight %v, want [Out, In]", w.Shape())
	}
	if b != nil && (b.Rank() != 1 || b.Dim(0) != w.Dim(0)) {
		return nil, fmt.Errorf("nn.Dense: bias %v for weight %v", b.Shape(), w.Shape())
	}
	d := &Dense{In: w.Dim(1), Out: w.Dim(0), Weight: NewParam(w)}
	d.params = []Named[*Param]{{"weight", d.Weight}}
	if b != nil {
		d.SetBias(b)
	}
	return d, nil
}

// SetBias gives the layer a bias [Out] (replacing any), which it keeps.
func (d *Dense) SetBias(b *tensor.Tensor) {
	d.Bias = NewParam(b)
	d.params = []Named[*Param]{{"weight", d.Weight}, {"bias", d.Bias}}
}

func biasValue(p *Param) *tensor.Tensor {
	if p == nil {
		return nil
	}
	return p.Value
}

// Params returns weight and bias.
func (d *Dense) Params() []Named[*Param] { return d.params }

func (d *Dense) check(x *tensor.Tensor) {
	if x.Rank() != 2 || x.Dim(1) != d.In {
		panic(fmt.Sprintf("nn.Dense: input %v, want [N, %d]", x.Shape(), d.In))
	}
}

func (d *Dense) compute(y, x *tensor.Tensor) {
	be := y.Backend()
	if d.Bias != nil {
		be.BroadcastRows(y, d.Bias.Value)
		be.MatMul(y, x, d.Weight.Value, false, true, 1, 1)
		return
	}
	be.MatMul(y, x, d.Weight.Value, false, true, 1, 0)
}

// Forward computes x·Wᵀ + b.
func (d *Dense) Forward(x *tensor.Tensor) *tensor.Tensor {
	d.check(x)
	y := ensure(x, &d.y, x.Dim(0), d.Out)
	d.compute(y, x)
	d.x = x
	return y
}

// Infer is Forward into a fresh tensor.
// On the CPU it reads the weight transposed, kept from call to call, so
// that the GEMM does not transpose it at every call (the same result, bit
// for bit).
func (d *Dense) Infer(x *tensor.Tensor) *tensor.Tensor {
	d.check(x)
	y := tensor.ZerosLike(x, x.Dim(0), d.Out)
	cpu, ok := x.Backend().(tensor.CPU)
	if !ok {
		d.compute(y, x)
		return y
	}
	wt := d.wt.get(d.Weight.Value, d.Out, d.In)
	beta := float32(0)
	if d.Bias != nil {
		cpu.BroadcastRows(y, d.Bias.Value)
		beta = 1
	}
	cpu.MatMul(y, x, wt, false, false, 1, beta)
	return y
}

// Backward computes dW = dyᵀ·x, db = Σ dy and dx = dy·W.
func (d *Dense) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, d.y) // the gradient may follow the default: run where the forward did
	be := like.Backend()
	if d.Weight.Trainable {
		be.MatMul(d.Weight.Grad, dy, d.x, true, false, 1, 0)
	}
	if d.Bias != nil && d.Bias.Trainable {
		be.Sum(d.Bias.Grad, dy, 0)
	}
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &d.dx, d.x.Shape()...)
	be.MatMul(dx, dy, d.Weight.Value, false, false, 1, 0)
	return dx
}
