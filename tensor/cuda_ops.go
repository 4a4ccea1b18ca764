package tensor

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/graftml/graft/kernels/cuda"
)

// hostFallback returns the CPU backend the GPU backend runs its host paths
// on (onCPU): the process's tier, taking the GPU's tensors, their values
// copied down.
func hostFallback() CPU {
	k := cpuKernel()
	if t, ok := fallbackTwins.Load(k); ok {
		return CPU{k: t.(*gemmKernel)}
	}
	c := *k
	c.fallback = true
	t, _ := fallbackTwins.LoadOrStore(k, &c)
	return CPU{k: t.(*gemmKernel)}
}

// fallbackTwins maps a kernel set to its fallback twin.
var fallbackTwins sync.Map

// MatMul computes c = alpha·op(a)·op(b) + beta·c on the GPU.
func (cu CUDA) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	m, n, k := matMulDims(c, a, b, transA, transB)
	g := cu.g
	g.begin()
	defer g.end()
	pa, pb := g.in("MatMul", a), g.in("MatMul", b)
	var pc cuda.DevicePtr
	if beta == 0 {
		pc = g.out("MatMul", c)
	} else {
		pc = g.inout("MatMul", c)
	}
	g.check("MatMul", g.k.Sgemm(g.stream, transA, transB, m, n, k, alpha,
		pa, max(a.shape[1], 1), pb, max(b.shape[1], 1), beta, pc, max(n, 1)))
}

// Add computes z = x + y on the GPU.
func (cu CUDA) Add(z, x, y *Tensor) { cu.binary("Add", (*cuda.Kernels).Add, z, x, y) }

// Mul computes z = x·y on the GPU.
func (cu CUDA) Mul(z, x, y *Tensor) { cu.binary("Mul", (*cuda.Kernels).Mul, z, x, y) }

// binary runs kernel f, z = f(x, y) elementwise.
func (cu CUDA) binary(op string, f func(*cuda.Kernels, cuda.Stream, int, cuda.DevicePtr, cuda.DevicePtr, cuda.DevicePtr) error, z, x, y *Tensor) {
	mustSameShape(op, z, x, y)
	g := cu.g
	g.begin()
	defer g.end()
	px, py := g.in(op, x), g.in(op, y)
	g.check(op, f(g.k, g.stream, len(z.data), g.out(op, z), px, py))
}

// Scale computes y = alpha·x on the GPU.
func (cu CUDA) Scale(y *Tensor, alpha float32, x *Tensor) {
	mustSameShape("Scale", y, x)
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("Scale", x)
	g.check("Scale", g.k.Scale(g.stream, len(y.data), alpha, g.out("Scale", y), px))
}

// Axpy computes y += alpha·x on the GPU (one fused multiply-add each).
func (cu CUDA) Axpy(y *Tensor, alpha float32, x *Tensor) {
	mustSameShape("Axpy", y, x)
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("Axpy", x)
	g.check("Axpy", g.k.Axpy(g.stream, len(y.data), alpha, g.inout("Axpy", y), px))
}

// ReLU computes y = max(x, 0) on the GPU.
func (cu CUDA) ReLU(y, x *Tensor) { cu.Activate(y, x, ActReLU, 0) }

// ReLUGrad computes dx = dy where x > 0, else 0, on the GPU.
func (cu CUDA) ReLUGrad(dx, x, dy *Tensor) { cu.ActivateGrad(dx, x, x, dy, ActReLU, 0) }

// Activate computes y = f(x) on the GPU.
func (cu CUDA) Activate(y, x *Tensor, a Activation, alpha float32) {
	mustSameShape("Activate", y, x)
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("Activate", x)
	g.check("Activate", g.k.Activate(g.stream, cuda.Activation(a), alpha, len(y.data), g.out("Activate", y), px))
}

// ActivateGrad computes dx = f'(x)·dy on the GPU.
func (cu CUDA) ActivateGrad(dx, x, y, dy *Tensor, a Activation, alpha float32) {
	mustSameShape("ActivateGrad", dx, x, y, dy)
	g := cu.g
	g.begin()
	defer g.end()
	px, py, pdy := g.in("ActivateGrad", x), g.in("ActivateGrad", y), g.in("ActivateGrad", dy)
	g.check("ActivateGrad", g.k.ActivateGrad(g.stream, cuda.Activation(a), alpha, len(dx.data), g.out("ActivateGrad", dx), px, py, pdy))
}

// Sum reduces src along axis on the GPU (in double precision).
func (cu CUDA) Sum(dst, src *Tensor, axis int) { cu.reduce("Sum", (*cuda.Kernels).Sum, dst, src, axis) }

// Max reduces src along axis by the maximum on the GPU; NaN propagates.
func (cu CUDA) Max(dst, src *Tensor, axis int) {
	cu.reduce("Max", (*cuda.Kernels).MaxAxis, dst, src, axis)
}

// reduce runs kernel f, a reduction of src [outer, r, inner] along r.
func (cu CUDA) reduce(op string, f func(*cuda.Kernels, cuda.Stream, int, int, int, cuda.DevicePtr, cuda.DevicePtr) error, dst, src *Tensor, axis int) {
	outer, r, inner := reduceDims(op, dst, src, axis)
	g := cu.g
	g.begin()
	defer g.end()
	ps := g.in(op, src)
	g.check(op, f(g.k, g.stream, outer, r, inner, g.out(op, dst), ps))
}

// convShape is g as the kernels take it.
func convShape(g convGeom) cuda.ConvShape {
	p := g.p
	return cuda.ConvShape{N: g.n, H: g.h, W: g.w, C: g.c, O: g.o, KH: g.kh, KW: g.kw,
		StrideH: p.StrideH, StrideW: p.StrideW, DilationH: p.DilationH, DilationW: p.DilationW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight, Groups: p.Groups}
}

// Conv2D computes y = conv(x, w) + bias on the GPU.
func (cu CUDA) Conv2D(y, x, w, bias *Tensor, p ConvParams) {
	cg := convDims("Conv2D", x, w, y, bias, p)
	g := cu.g
	g.begin()
	defer g.end()
	px, pw, pb := g.in("Conv2D", x), g.in("Conv2D", w), g.in("Conv2D", bias)
	g.check("Conv2D", g.k.Conv2DForward(g.stream, convShape(cg), g.out("Conv2D", y), px, pw, pb))
}

// Conv2DBackwardData computes a convolution's input gradient on the GPU.
func (cu CUDA) Conv2DBackwardData(dx, dy, w *Tensor, p ConvParams) {
	cg := convDims("Conv2DBackwardData", dx, w, dy, nil, p)
	g := cu.g
	g.begin()
	defer g.end()
	pdy, pw := g.in("Conv2DBackwardData", dy), g.in("Conv2DBackwardData", w)
	g.check("Conv2DBackwardData", g.k.Conv2DBackwardData(g.stream, convShape(cg), g.out("Conv2DBackwardData", dx), pdy, pw))
}

// Conv2DBackwardWeights computes a convolution's weight and bias gradients
// on the GPU.
func (cu CUDA) Conv2DBackwardWeights(dw, db, x, dy *Tensor, p ConvParams) {
	cg := convDims("Conv2DBackwardWeights", x, dw, dy, db, p)
	g := cu.g
	g.begin()
	defer g.end()
	px, pdy := g.in("Conv2DBackwardWeights", x), g.in("Conv2DBackwardWeights", dy)
	pdw, pdb := g.out("Conv2DBackwardWeights", dw), g.out("Conv2DBackwardWeights", db)
	g.check("Conv2DBackwardWeights", g.k.Conv2DBackwardWeights(g.stream, convShape(cg), pdw, pdb, px, pdy))
}

// poolShape is pg as the kernels take it.
func poolShape(pg poolGeom) cuda.PoolShape {
	p := pg.p
	return cuda.PoolShape{N: pg.n, H: pg.h, W: pg.w, C: pg.c, KH: p.KH, KW: p.KW,
		StrideH: pg.sh, StrideW: pg.sw, DilationH: pg.dh, DilationW: pg.dw,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight,
		CeilMode: p.CeilMode, CountIncludePad: p.CountIncludePad}
}

// MaxPool2D pools windows by their maximum on the GPU.
func (cu CUDA) MaxPool2D(y, x *Tensor, p PoolParams) {
	pg := poolDims(nil, "MaxPool2D", x, y, p)
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("MaxPool2D", x)
	g.check("MaxPool2D", g.k.MaxPool2DForward(g.stream, poolShape(pg), g.out("MaxPool2D", y), px))
}

// MaxPool2DBackward routes dy to each window's maximum on the GPU.
func (cu CUDA) MaxPool2DBackward(dx, x, dy *Tensor, p PoolParams) {
	pg := poolDims(nil, "MaxPool2DBackward", x, dy, p)
	mustSameShape("MaxPool2DBackward", dx, x)
	g := cu.g
	g.begin()
	defer g.end()
	px, pdy := g.in("MaxPool2DBackward", x), g.in("MaxPool2DBackward", dy)
	g.check("MaxPool2DBackward", g.k.MaxPool2DBackward(g.stream, poolShape(pg), g.out("MaxPool2DBackward", dx), px, pdy))
}

// AvgPool2D averages windows on the GPU.
func (cu CUDA) AvgPool2D(y, x *Tensor, p PoolParams) {
	pg := poolDims(nil, "AvgPool2D", x, y, p)
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("AvgPool2D", x)
	g.check("AvgPool2D", g.k.AvgPool2DForward(g.stream, poolShape(pg), g.out("AvgPool2D", y), px))
}

// AvgPool2DBackward spreads dy over each window on the GPU.
func (cu CUDA) AvgPool2DBackward(dx, dy *Tensor, p PoolParams) {
	pg := poolDims(nil, "AvgPool2DBackward", dx, dy, p)
	g := cu.g
	g.begin()
	defer g.end()
	pdy := g.in("AvgPool2DBackward", dy)
	g.check("AvgPool2DBackward", g.k.AvgPool2DBackward(g.stream, poolShape(pg), g.out("AvgPool2DBackward", dx), pdy))
}

// GlobalAvgPool averages each channel over the pixels on the GPU.
func (cu CUDA) GlobalAvgPool(y, x *Tensor) {
	n, hw, c := globalDims("GlobalAvgPool", x, y)
	if hw == 0 {
		onCPU([]*Tensor{x}, []*Tensor{y}, func() { hostFallback().GlobalAvgPool(y, x) })
		return
	}
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("GlobalAvgPool", x)
	g.check("GlobalAvgPool", g.k.GlobalAvgPool(g.stream, n, hw, c, g.out("GlobalAvgPool", y), px))
}

// GlobalAvgPoolBackward spreads dy over the pixels on the GPU.
func (cu CUDA) GlobalAvgPoolBackward(dx, dy *Tensor) {
	n, hw, c := globalDims("GlobalAvgPoolBackward", dx, dy)
	if hw == 0 {
		return // dx is empty
	}
	g := cu.g
	g.begin()
	defer g.end()
	pdy := g.in("GlobalAvgPoolBackward", dy)
	g.check("GlobalAvgPoolBackward", g.k.GlobalAvgPoolBackward(g.stream, n, hw, c, g.out("GlobalAvgPoolBackward", dx), pdy))
}

// bnParams is p as the kernels take it.
func bnParams(p BatchNormParams) cuda.BatchNormParams {
	return cuda.BatchNormParams(p) // the same fields: a conversion, checked by the compiler
}

// BatchNormTrain normalises with the batch statistics on the GPU.
func (cu CUDA) BatchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams) {
	mustSameShape("BatchNormTrain", y, x)
	rows, c := bnDims("BatchNormTrain", x, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	if rows == 0 { // no statistics to take: everything stays as it is, as on the CPU
		return
	}
	g := cu.g
	g.begin()
	defer g.end()
	const op = "BatchNormTrain"
	px, pg, pb := g.in(op, x), g.in(op, gamma), g.in(op, beta)
	prm, prv := g.inout(op, runMean), g.inout(op, runVar)
	g.check(op, g.k.BatchNormTrain(g.stream, rows, c, bnParams(p), g.out(op, y), px, pg, pb, prm, prv, g.out(op, saveMean), g.out(op, saveInvStd)))
}

// BatchNormInference normalises with given statistics on the GPU.
func (cu CUDA) BatchNormInference(y, x, gamma, beta, mean, variance *Tensor, p BatchNormParams) {
	mustSameShape("BatchNormInference", y, x)
	rows, c := bnDims("BatchNormInference", x, gamma, beta, mean, variance)
	g := cu.g
	g.begin()
	defer g.end()
	const op = "BatchNormInference"
	px, pg, pb, pm, pv := g.in(op, x), g.in(op, gamma), g.in(op, beta), g.in(op, mean), g.in(op, variance)
	g.check(op, g.k.BatchNormInference(g.stream, rows, c, bnParams(p), g.out(op, y), px, pg, pb, pm, pv))
}

// BatchNormBackward computes BatchNorm's gradients on the GPU.
func (cu CUDA) BatchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd *Tensor) {
	if dx != nil {
		mustSameShape("BatchNormBackward", dx, x, dy)
	} else {
		mustSameShape("BatchNormBackward", x, dy)
	}
	rows, c := bnDims("BatchNormBackward", x, dgamma, dbeta, gamma, saveMean, saveInvStd)
	g := cu.g
	g.begin()
	defer g.end()
	const op = "BatchNormBackward"
	px, pdy, pg, pm, pi := g.in(op, x), g.in(op, dy), g.in(op, gamma), g.in(op, saveMean), g.in(op, saveInvStd)
	g.check(op, g.k.BatchNormBackward(g.stream, rows, c, g.out(op, dx), g.out(op, dgamma), g.out(op, dbeta), px, pdy, pg, pm, pi))
}

// Softmax runs on the GPU along the last axis, else on the CPU.
func (cu CUDA) Softmax(y, x *Tensor, axis int, log bool) {
	outer, r, inner := softmaxDims("Softmax", y, x, axis)
	if inner != 1 {
		onCPU([]*Tensor{x}, []*Tensor{y}, func() { hostFallback().Softmax(y, x, axis, log) })
		return
	}
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("Softmax", x)
	g.check("Softmax", g.k.Softmax(g.stream, outer, r, log, g.out("Softmax", y), px))
}

// SoftmaxGrad runs on the GPU along the last axis, else on the CPU.
func (cu CUDA) SoftmaxGrad(dx, y, dy *Tensor, axis int, log bool) {
	outer, r, inner := softmaxDims("SoftmaxGrad", dx, y, axis)
	mustSameShape("SoftmaxGrad", dx, y, dy)
	if inner != 1 {
		onCPU([]*Tensor{y, dy}, []*Tensor{dx}, func() { hostFallback().SoftmaxGrad(dx, y, dy, axis, log) })
		return
	}
	g := cu.g
	g.begin()
	defer g.end()
	py, pdy := g.in("SoftmaxGrad", y), g.in("SoftmaxGrad", dy)
	g.check("SoftmaxGrad", g.k.SoftmaxGrad(g.stream, outer, r, log, g.out("SoftmaxGrad", dx), py, pdy))
}

// SoftmaxCrossEntropy computes the loss and its gradient on the GPU: the
// labels go up and the loss comes down (one float).
func (cu CUDA) SoftmaxCrossEntropy(grad, logits *Tensor, labels []int, smoothing float32) float32 {
	if logits.Rank() != 2 || len(labels) != logits.shape[0] || (grad != nil && !grad.SameShape(logits)) {
		softmaxCrossEntropy(grad, logits, labels, smoothing) // panics, naming the shapes
	}
	n, k := logits.shape[0], logits.shape[1]
	g := cu.g
	g.begin()
	defer g.end()
	const op = "SoftmaxCrossEntropy"
	checkLabels(labels, k)
	g.labels = g.labels[:0]
	for _, l := range labels {
		g.labels = append(g.labels, int32(l))
	}
	need := 4*n + 512 // the labels, then the loss at a 512-byte boundary
	if g.scratch.Size < need {
		g.alloc.Free(g.scratch)
		g.scratch = cuda.Block{}
		b, err := g.alloc.Alloc(need)
		g.fail(op, err)
		g.scratch = b
	}
	lossOff := uintptr(need - 512)
	if n > 0 {
		g.upload(op, g.scratch.Ptr, unsafe.Pointer(&g.labels[0]), 4*n)
	}
	pl := g.in(op, logits)
	g.check(op, g.k.SoftmaxCrossEntropy(g.stream, n, k, smoothing, g.scratch.Ptr+cuda.DevicePtr(lossOff), g.out(op, grad), pl, g.scratch.Ptr))
	g.download(op, unsafe.Pointer(&g.loss[0]), g.scratch.Ptr+cuda.DevicePtr(lossOff), 4)
	return g.loss[0]
}

// Dropout zeroes elements on the GPU, with the same mask as the CPU's.
func (cu CUDA) Dropout(y, mask, x *Tensor, p float32, seed uint64) {
	mustSameShape("Dropout", y, mask, x)
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("tensor.Dropout: probability %v outside [0, 1)", p))
	}
	g := cu.g
	g.begin()
	defer g.end()
	px := g.in("Dropout", x)
	g.check("Dropout", g.k.Dropout(g.stream, len(x.data), p, 1/(1-p), seed, g.out("Dropout", y), g.out("Dropout", mask), px))
}

// Concat joins srcs along axis on the GPU, one strided copy per part.
func (cu CUDA) Concat(dst *Tensor, axis int, srcs ...*Tensor) {
	cu.concat("Concat", dst, axis, srcs, false)
}

// Split is Concat's inverse on the GPU.
func (cu CUDA) Split(src *Tensor, axis int, dsts ...*Tensor) {
	cu.concat("Split", src, axis, dsts, true)
}

func (cu CUDA) concat(op string, whole *Tensor, axis int, parts []*Tensor, split bool) {
	outer, inner, axis := concatDims(op, whole, axis, parts)
	g := cu.g
	g.begin()
	defer g.end()
	var pw cuda.DevicePtr
	if split {
		pw = g.in(op, whole)
	} else {
		pw = g.out(op, whole)
	}
	row, off := whole.shape[axis]*inner, 0
	for _, p := range parts {
		run := p.shape[axis] * inner
		var err error
		if split {
			err = g.k.CopyStrided(g.stream, outer, run, run, row, g.out(op, p), pw+cuda.DevicePtr(4*off))
		} else {
			err = g.k.CopyStrided(g.stream, outer, run, row, run, pw+cuda.DevicePtr(4*off), g.in(op, p))
		}
		g.fail(op, err)
		off += run
	}
	g.check(op, nil)
}

// Pad adds a border on the GPU (tensors of up to 8 dimensions; more run on
// the CPU).
func (cu CUDA) Pad(dst, src *Tensor, pads [][2]int, mode PadMode, value float32) {
	padDims(dst, src, pads, mode)
	empty := false
	for _, d := range src.shape {
		empty = empty || d == 0
	}
	if src.Rank() == 0 || src.Rank() > cuda.MaxPadRank || (empty && len(dst.data) > 0 && mode != PadConstant) {
		onCPU([]*Tensor{src}, []*Tensor{dst}, func() { hostFallback().Pad(dst, src, pads, mode, value) })
		return
	}
	var before [cuda.MaxPadRank]int
	for d, p := range pads {
		before[d] = p[0]
	}
	g := cu.g
	g.begin()
	defer g.end()
	ps := g.in("Pad", src)
	g.check("Pad", g.k.Pad(g.stream, dst.shape, src.shape, before[:len(pads)], cuda.PadMode(mode), value, g.out("Pad", dst), ps))
}

// SGDStep applies one SGD step on the GPU, the same bits as SGDUpdate.
func (cu CUDA) SGDStep(w, grad, buf *Tensor, lr, momentum, weightDecay float32, nesterov, first bool) {
	sgdDims(w, grad, buf, momentum)
	g := cu.g
	g.begin()
	defer g.end()
	const op = "SGDStep"
	pg := g.in(op, grad)
	var pb cuda.DevicePtr
	if momentum != 0 {
		if first {
			pb = g.out(op, buf)
		} else {
			pb = g.inout(op, buf)
		}
	}
	g.check(op, g.k.SGD(g.stream, len(w.data), lr, momentum, weightDecay, nesterov, first, g.inout(op, w), pg, pb))
}

// AdamStep applies one Adam or AdamW step on the GPU, the same bits as
// AdamUpdate.
func (cu CUDA) AdamStep(w, grad, m, v *Tensor, p AdamParams) {
	mustSameShape("AdamStep", w, grad, m, v)
	g := cu.g
	g.begin()
	defer g.end()
	const op = "AdamStep"
	pg := g.in(op, grad)
	s := cuda.AdamStep(p) // the same fields: a conversion, checked by the compiler
	g.check(op, g.k.Adam(g.stream, len(w.data), s, g.inout(op, w), pg, g.inout(op, m), g.inout(op, v)))
}

// BroadcastRows sets every row of y to b on the GPU.
func (cu CUDA) BroadcastRows(y, b *Tensor) {
	rows, cols := broadcastDims(y, b)
	g := cu.g
	g.begin()
	defer g.end()
	pb := g.in("BroadcastRows", b)
	g.check("BroadcastRows", g.k.BroadcastRows(g.stream, rows, cols, g.out("BroadcastRows", y), pb))
}

// NHWCToNCHW transposes on the GPU.
func (cu CUDA) NHWCToNCHW(dst, src *Tensor) {
	layoutDims("NHWCToNCHW", dst, src, false)
	n, hw, c := src.shape[0], src.shape[1]*src.shape[2], src.shape[3]
	cu.transpose("NHWCToNCHW", dst, src, n, hw, c)
}

// NCHWToNHWC transposes on the GPU.
func (cu CUDA) NCHWToNHWC(dst, src *Tensor) {
	layoutDims("NCHWToNHWC", dst, src, true)
	n, c, hw := src.shape[0], src.shape[1], src.shape[2]*src.shape[3]
	cu.transpose("NCHWToNHWC", dst, src, n, c, hw)
}

func (cu CUDA) transpose(op string, dst, src *Tensor, batch, rows, cols int) {
	if dst.Shares(src) {
		panic(fmt.Sprintf("tensor.%s: dst and src share storage", op))
	}
	g := cu.g
	g.begin()
	defer g.end()
	ps := g.in(op, src)
	g.check(op, g.k.Transpose(g.stream, batch, rows, cols, g.out(op, dst), ps))
}
