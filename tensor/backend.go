package tensor

import (
	"fmt"
	"slices"
	"sync"

	"github.com/graftml/graft/kernels"
)

// Backend is the set of operations every device implements. Destinations
// come first; a destination may be one of the sources (in place) for the
// elementwise operations. Shape mismatches panic, naming the shapes.
type Backend interface {
	// Name says which device and kernels run the operations.
	Name() string
	// MatMul computes c = alpha·op(a)·op(b) + beta·c for 2-D tensors,
	// op(x) = xᵀ when its flag is set; beta == 0 leaves c unread.
	MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32)
	// Add computes z = x + y.
	Add(z, x, y *Tensor)
	// Mul computes z = x·y elementwise.
	Mul(z, x, y *Tensor)
	// Scale computes y = alpha·x.
	Scale(y *Tensor, alpha float32, x *Tensor)
	// Axpy computes y += alpha·x.
	Axpy(y *Tensor, alpha float32, x *Tensor)
	// ReLU computes y = max(x, 0); NaN passes through.
	ReLU(y, x *Tensor)
	// ReLUGrad computes dx = dy where x > 0, else 0.
	ReLUGrad(dx, x, dy *Tensor)
	// Sum reduces src along axis into dst, whose shape is src's without
	// that axis (or with it as 1).
	Sum(dst, src *Tensor, axis int)
	// Max is Sum with the maximum; NaN propagates.
	Max(dst, src *Tensor, axis int)

	// Conv2D computes y = conv(x, w) + bias for x, y NHWC and w OIHW;
	// bias may be nil.
	Conv2D(y, x, w, bias *Tensor, p ConvParams)
	// Conv2DBackwardData computes the input gradient dx from dy and w.
	Conv2DBackwardData(dx, dy, w *Tensor, p ConvParams)
	// Conv2DBackwardWeights computes dw and, unless db is nil, the bias
	// gradient, from x and dy.
	Conv2DBackwardWeights(dw, db, x, dy *Tensor, p ConvParams)

	// MaxPool2D, AvgPool2D and their backward passes pool NHWC windows.
	MaxPool2D(y, x *Tensor, p PoolParams)
	MaxPool2DBackward(dx, x, dy *Tensor, p PoolParams)
	AvgPool2D(y, x *Tensor, p PoolParams)
	AvgPool2DBackward(dx, dy *Tensor, p PoolParams)
	// GlobalAvgPool averages x [N,H,W,C] into y [N,C] (or [N,1,1,C]).
	GlobalAvgPool(y, x *Tensor)
	GlobalAvgPoolBackward(dx, dy *Tensor)

	// BatchNormTrain, BatchNormInference and BatchNormBackward normalise
	// per channel (the last dimension).
	BatchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams)
	BatchNormInference(y, x, gamma, beta, mean, variance *Tensor, p BatchNormParams)
	BatchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd *Tensor)

	// Activate and ActivateGrad apply an activation and its derivative.
	Activate(y, x *Tensor, a Activation, alpha float32)
	ActivateGrad(dx, x, y, dy *Tensor, a Activation, alpha float32)
	// Softmax (or LogSoftmax with log) along axis, and its backward pass.
	Softmax(y, x *Tensor, axis int, log bool)
	SoftmaxGrad(dx, y, dy *Tensor, axis int, log bool)
	// SoftmaxCrossEntropy returns the mean loss over the batch and writes
	// the logits' gradient into grad unless it is nil.
	SoftmaxCrossEntropy(grad, logits *Tensor, labels []int, smoothing float32) float32
	// Dropout zeroes elements with probability p and writes the mask.
	Dropout(y, mask, x *Tensor, p float32, seed uint64)
	// Concat joins srcs along axis; Split is its backward.
	Concat(dst *Tensor, axis int, srcs ...*Tensor)
	Split(src *Tensor, axis int, dsts ...*Tensor)
	// Pad adds a border to every dimension.
	Pad(dst, src *Tensor, pads [][2]int, mode PadMode, value float32)

	// SGDStep applies one step of SGD to w in place, as SGDUpdate; buf
	// (the momentum) is unused, and may be nil, when momentum is 0.
	SGDStep(w, grad, buf *Tensor, lr, momentum, weightDecay float32, nesterov, first bool)
	// AdamStep applies one step of Adam or AdamW to w, m and v in place,
	// as AdamUpdate.
	AdamStep(w, grad, m, v *Tensor, p AdamParams)
	// BroadcastRows sets every row of y [rows, cols] to b [cols].
	BroadcastRows(y, b *Tensor)
	// NHWCToNCHW and NCHWToNHWC transpose between the image layouts.
	NHWCToNCHW(dst, src *Tensor)
	NCHWToNHWC(dst, src *Tensor)
}

// Default returns the backend chosen on first use, once per process: the
// GPU when DeviceReport finds one (see GRAFT_DEVICE), else the CPU.
func Default() Backend { return defaultBackend() }

var defaultBackend = sync.OnceValue(func() Backend { return deviceChoice().backend })

// Device describes the device and kernel tier operations run on, and why.
func Device() string {
	d := deviceChoice()
	if d.Device == "cpu" {
		return fmt.Sprintf("%s (%s)", d.backend.Name(), kernels.Reason())
	}
	return fmt.Sprintf("%s (%s)", d.backend.Name(), d.Reason)
}

// MatMul computes c = alpha·op(a)·op(b) + beta·c on its output's backend (Tensor.Backend).
func MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	c.Backend().MatMul(c, a, b, transA, transB, alpha, beta)
}

// Add computes z = x + y on its output's backend (Tensor.Backend).
func Add(z, x, y *Tensor) { z.Backend().Add(z, x, y) }

// Mul computes z = x·y elementwise on its output's backend (Tensor.Backend).
func Mul(z, x, y *Tensor) { z.Backend().Mul(z, x, y) }

// Scale computes y = alpha·x on its output's backend (Tensor.Backend).
func Scale(y *Tensor, alpha float32, x *Tensor) { y.Backend().Scale(y, alpha, x) }

// Axpy computes y += alpha·x on its output's backend (Tensor.Backend).
func Axpy(y *Tensor, alpha float32, x *Tensor) { y.Backend().Axpy(y, alpha, x) }

// ReLU computes y = max(x, 0) on its output's backend (Tensor.Backend).
func ReLU(y, x *Tensor) { y.Backend().ReLU(y, x) }

// ReLUGrad computes dx = dy where x > 0, else 0, on its output's backend (Tensor.Backend).
func ReLUGrad(dx, x, dy *Tensor) { dx.Backend().ReLUGrad(dx, x, dy) }

// Sum reduces src along axis into dst on its output's backend (Tensor.Backend).
func Sum(dst, src *Tensor, axis int) { dst.Backend().Sum(dst, src, axis) }

// Max reduces src along axis into dst by the maximum on its output's backend (Tensor.Backend).
func Max(dst, src *Tensor, axis int) { dst.Backend().Max(dst, src, axis) }

// Conv2D computes y = conv(x, w) + bias on its output's backend (Tensor.Backend).
func Conv2D(y, x, w, bias *Tensor, p ConvParams) { y.Backend().Conv2D(y, x, w, bias, p) }

// Conv2DBackwardData computes a convolution's input gradient on its output's backend (Tensor.Backend).
func Conv2DBackwardData(dx, dy, w *Tensor, p ConvParams) {
	dx.Backend().Conv2DBackwardData(dx, dy, w, p)
}

// Conv2DBackwardWeights computes a convolution's weight and bias gradients
// on its output's backend (Tensor.Backend).
func Conv2DBackwardWeights(dw, db, x, dy *Tensor, p ConvParams) {
	dw.Backend().Conv2DBackwardWeights(dw, db, x, dy, p)
}

// matMulDims checks MatMul's shapes and returns m, n, k.
func matMulDims(c, a, b *Tensor, transA, transB bool) (m, n, k int) {
	if a.Rank() != 2 || b.Rank() != 2 || c.Rank() != 2 {
		panic(fmt.Sprintf("tensor.MatMul: want 2-D tensors, have a %v, b %v, c %v", a.shape, b.shape, c.shape))
	}
	m, k = a.shape[0], a.shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.shape[0], b.shape[1]
	if transB {
		kb, n = n, kb
	}
	if kb != k || c.shape[0] != m || c.shape[1] != n {
		panic(fmt.Sprintf("tensor.MatMul: op(a) %dx%d · op(b) %dx%d does not give c %v (a %v transA=%v, b %v transB=%v)",
			m, k, kb, n, c.shape, a.shape, transA, b.shape, transB))
	}
	return m, n, k
}

// reduceDims checks a reduction's shapes and returns the sizes before,
// along and after the axis.
func reduceDims(op string, dst, src *Tensor, axis int) (outer, r, inner int) {
	if axis < 0 {
		axis += src.Rank()
	}
	if axis < 0 || axis >= src.Rank() {
		panic(fmt.Sprintf("tensor.%s: no axis %d in shape %v", op, axis, src.shape))
	}
	// dst is src's shape without axis (dropped) or with it as 1 (kept)
	ds, ss := dst.shape, src.shape
	dropped := len(ds) == len(ss)-1
	kept := len(ds) == len(ss) && ds[axis] == 1
	for i := 0; i < len(ss) && (dropped || kept); i++ {
		switch {
		case i < axis:
			dropped = dropped && ds[i] == ss[i]
			kept = kept && ds[i] == ss[i]
		case i > axis:
			dropped = dropped && ds[i-1] == ss[i]
			kept = kept && ds[i] == ss[i]
		}
	}
	if !dropped && !kept {
		want := slices.Delete(slices.Clone(ss), axis, axis+1)
		keep := slices.Clone(ss)
		keep[axis] = 1
		panic(fmt.Sprintf("tensor.%s: reducing %v along axis %d gives %v (or %v), dst is %v", op, ss, axis, want, keep, ds))
	}
	return axisDims(op, src.shape, axis)
}

// axisDims returns the sizes before, along and after axis of shape (a
// negative axis counts from the end), panicking on a bad axis.
func axisDims(op string, shape []int, axis int) (outer, r, inner int) {
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		panic(fmt.Sprintf("tensor.%s: no axis %d in shape %v", op, axis, shape))
	}
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}
