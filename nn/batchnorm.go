package nn

import (
	"fmt"

	"github.com/graftml/graft/tensor"
)

// BatchNorm normalises each channel (the last dimension) of its input:
// BatchNorm2D over NHWC activations, BatchNorm1D over [N, C] features.
// Its parameters and buffers carry PyTorch's names: weight, bias,
// running_mean, running_var and num_batches_tracked.
//
// In training mode it normalises with the batch statistics and updates
// the running ones; in inference mode, or while FreezeStats is set, it
// normalises with the running statistics and leaves them alone (Keras's
// behaviour for a frozen BatchNorm, the usual choice when fine-tuning on
// small data). FreezeStats is one of the three freeze switches and no
// change of mode undoes it.
type BatchNorm struct {
	Leaf
	C        int
	Momentum float32
	Eps      float32
	// FreezeStats makes training use and keep the running statistics.
	FreezeStats bool
	// ReLU fuses a following ReLU into the layer.
	ReLU bool

	Weight, Bias            *Param
	RunningMean, RunningVar *Buffer
	NumBatchesTracked       *Buffer

	params               []Named[*Param]
	buffers              []Named[*Buffer]
	x, y, dx, dyr        *tensor.Tensor
	saveMean, saveInvStd *tensor.Tensor
	// frozenBackward's constants (ones, zeros per channel) and views
	ones, zeros, onesRow, invRow *tensor.Tensor
	// gradients of frozen parameters computed along the way land here
	scratchGrad, scratchGrad2 *tensor.Tensor
	usedBatch                 bool
}

// NewBatchNorm returns a BatchNorm over c channels with PyTorch's
// defaults: weight 1, bias 0, running mean 0 and variance 1, momentum
// 0.1, eps 1e-5.
func NewBatchNorm(c int) *BatchNorm {
	b := &BatchNorm{C: c, Momentum: 0.1, Eps: 1e-5,
		Weight: NewParam(tensor.Full(1, c)), Bias: NewParam(tensor.Zeros(c)),
		RunningMean: &Buffer{Value: tensor.Zeros(c)}, RunningVar: &Buffer{Value: tensor.Full(1, c)},
		NumBatchesTracked: &Buffer{Value: tensor.Zeros(), Int: true},
		saveMean:          tensor.Zeros(c), saveInvStd: tensor.Zeros(c),
		scratchGrad: tensor.Zeros(c), scratchGrad2: tensor.Zeros(c),
	}
	b.params = []Named[*Param]{{"weight", b.Weight}, {"bias", b.Bias}}
	b.buffers = []Named[*Buffer]{{"running_mean", b.RunningMean}, {"running_var", b.RunningVar},
		{"num_batches_tracked", b.NumBatchesTracked}}
	return b
}

// Params returns weight and bias.
func (b *BatchNorm) Params() []Named[*Param] { return b.params }

// Buffers returns the running statistics and the batch counter.
func (b *BatchNorm) Buffers() []Named[*Buffer] { return b.buffers }

func (b *BatchNorm) check(x *tensor.Tensor) {
	if x.Rank() < 2 || x.Dim(-1) != b.C {
		panic(fmt.Sprintf("nn.BatchNorm: input %v, want %d channels last", x.Shape(), b.C))
	}
}

func (b *BatchNorm) params2() tensor.BatchNormParams {
	return tensor.BatchNormParams{Momentum: b.Momentum, Eps: b.Eps, UnbiasedVar: true, ReLU: b.ReLU}
}

// Forward normalises x.
func (b *BatchNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	b.check(x)
	y := ensure(x, &b.y, x.Shape()...)
	be := x.Backend()
	b.x = x
	b.usedBatch = b.training && !b.FreezeStats
	if b.usedBatch {
		be.BatchNormTrain(y, x, b.Weight.Value, b.Bias.Value, b.RunningMean.Value, b.RunningVar.Value,
			b.saveMean, b.saveInvStd, b.params2())
		b.NumBatchesTracked.Value.Data()[0]++
		return y
	}
	be.BatchNormInference(y, x, b.Weight.Value, b.Bias.Value, b.RunningMean.Value, b.RunningVar.Value, b.params2())
	return y
}

// Infer normalises with the running statistics into a fresh tensor.
func (b *BatchNorm) Infer(x *tensor.Tensor) *tensor.Tensor {
	b.check(x)
	y := tensor.ZerosLike(x, x.Shape()...)
	x.Backend().BatchNormInference(y, x, b.Weight.Value, b.Bias.Value, b.RunningMean.Value, b.RunningVar.Value, b.params2())
	return y
}

// Backward computes the gradients of the trainable parameters and, when
// asked, the input's.
func (b *BatchNorm) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, b.y) // the gradient may follow the default: run where the forward did
	train := b.Weight.Trainable || b.Bias.Trainable
	if !train && !needInputGrad {
		return nil
	}
	be := like.Backend()
	if b.ReLU {
		d := ensure(like, &b.dyr, dy.Shape()...)
		be.ReLUGrad(d, b.y, dy)
		dy = d
	}
	var dx *tensor.Tensor
	if needInputGrad {
		dx = ensure(like, &b.dx, b.x.Shape()...)
	}
	if b.usedBatch {
		// a frozen parameter's gradient goes to scratch: it must stay untouched
		dg, db := b.Weight.Grad, b.Bias.Grad
		if !b.Weight.Trainable {
			dg = b.scratchGrad
		}
		if !b.Bias.Trainable {
			db = b.scratchGrad2
		}
		be.BatchNormBackward(dx, dg, db, b.x, dy, b.Weight.Value, b.saveMean, b.saveInvStd)
		return dx
	}
	b.frozenBackward(dx, dy, train)
	return dx
}

// frozenBackward is the backward pass of normalisation by the running
// statistics, a per-channel affine map y = x·s + t with s = γ/√(var+eps):
// dx = dy·s, dγ = Σ dy·(x − mean)/√(var+eps), dβ = Σ dy. It runs on the
// backend's batch-norm operations, so on a GPU nothing leaves the device:
// 1/√(var+eps) is BatchNormInference of ones, dx is BatchNormInference of
// dy (mean 0, shift 0), and the parameter gradients are BatchNormBackward's
// with the running mean and that 1/√(var+eps) as the saved statistics.
func (b *BatchNorm) frozenBackward(dx, dy *tensor.Tensor, train bool) {
	like := likeOf(dy, b.y) // the gradient may follow the default: run where the forward did
	be, c := like.Backend(), b.C
	if b.ones == nil || b.ones.Backend() != be {
		// on like's backend, before the views are taken: a device backend
		// attaches its storage to a tensor, and a view made before that
		// would not share it
		b.ones, b.zeros = tensor.Full(1, c), tensor.ZerosLike(like, c)
		if like.Placed() {
			b.ones.MoveTo(be)
			b.saveInvStd.MoveTo(be)
		}
		b.onesRow, b.invRow = b.ones.Reshape(1, c), b.saveInvStd.Reshape(1, c)
	}
	p := tensor.BatchNormParams{Eps: b.Eps}
	rv := b.RunningVar.Value
	if dx != nil {
		be.BatchNormInference(dx, dy, b.Weight.Value, b.zeros, b.zeros, rv, p)
	}
	if !train {
		return
	}
	be.BatchNormInference(b.invRow, b.onesRow, b.ones, b.zeros, b.zeros, rv, p)
	dg, db := b.Weight.Grad, b.Bias.Grad
	if !b.Weight.Trainable {
		dg = b.scratchGrad
	}
	if !b.Bias.Trainable {
		db = b.scratchGrad2
	}
	be.BatchNormBackward(nil, dg, db, b.x, dy, b.Weight.Value, b.RunningMean.Value, b.saveInvStd)
}
