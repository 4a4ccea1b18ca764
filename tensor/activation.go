package tensor

import (
	"fmt"
	"math"
)

// Activation names an elementwise nonlinearity.
type Activation int

// The activations. Alpha is LeakyReLU's negative slope.
const (
	ActReLU Activation = iota
	ActReLU6
	ActLeakyReLU
	ActSigmoid
	ActTanh
	ActGELU // exact: x·Φ(x), Φ the standard normal CDF
)

// String returns the activation's name.
func (a Activation) String() string {
	switch a {
	case ActReLU:
		return "relu"
	case ActReLU6:
		return "relu6"
	case ActLeakyReLU:
		return "leaky_relu"
	case ActSigmoid:
		return "sigmoid"
	case ActTanh:
		return "tanh"
	case ActGELU:
		return "gelu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// activate is the scalar definition of each activation.
func activate(a Activation, alpha, x float32) float32 {
	switch a {
	case ActReLU:
		if x < 0 {
			return 0
		}
		return x
	case ActReLU6:
		if x < 0 {
			return 0
		}
		if x > 6 {
			return 6
		}
		return x
	case ActLeakyReLU:
		if x < 0 {
			return alpha * x
		}
		return x
	case ActSigmoid:
		return sigmoid(x)
	case ActTanh:
		return float32(math.Tanh(float64(x)))
	case ActGELU:
		return float32(float64(x) * 0.5 * math.Erfc(-float64(x)/math.Sqrt2))
	}
	panic(fmt.Sprintf("tensor: unknown activation %d", int(a)))
}

// sigmoid is 1/(1+e^−x), computed without overflow for large |x|.
func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// activateGrad is the derivative's product with dy, from x and y = f(x).
func activateGrad(a Activation, alpha, x, y, dy float32) float32 {
	switch a {
	case ActReLU:
		if x > 0 {
			return dy
		}
		return 0
	case ActReLU6:
		if x > 0 && x < 6 {
			return dy
		}
		return 0
	case ActLeakyReLU:
		if x > 0 {
			return dy
		}
		return alpha * dy
	case ActSigmoid:
		return dy * y * (1 - y)
	case ActTanh:
		return dy * (1 - y*y)
	case ActGELU:
		xf := float64(x)
		cdf := 0.5 * math.Erfc(-xf/math.Sqrt2)
		pdf := math.Exp(-xf*xf/2) / math.Sqrt(2*math.Pi)
		return dy * float32(cdf+xf*pdf)
	}
	panic(fmt.Sprintf("tensor: unknown activation %d", int(a)))
}

// Activate computes y = f(x) elementwise (alpha: LeakyReLU's slope).
func (Reference) Activate(y, x *Tensor, a Activation, alpha float32) {
	hostOnly(y, x)
	mustSameShape("Activate", y, x)
	for i, v := range x.data {
		y.data[i] = activate(a, alpha, v)
	}
}

// Activate computes y = f(x); ReLU runs the vector kernel, ReLU6 a
// branch-free loop (relu6F32).
func (cpu CPU) Activate(y, x *Tensor, a Activation, alpha float32) {
	sameBackend("Activate", cpu, y, x)
	switch a {
	case ActReLU:
		cpu.ReLU(y, x)
	case ActReLU6:
		mustSameShape("Activate", y, x)
		c := relu6Calls.Get()
		c.kn, c.y, c.x = cpu.kern(), y.data, x.data
		parallel(min(goMaxProcs(), len(y.data)/relu6Grain), c)
		c.kn, c.y, c.x = nil, nil, nil
		relu6Calls.Put(c)
	default:
		Reference{}.Activate(y, x, a, alpha)
	}
}

// relu6Grain is the fewest elements worth a thread of their own.
const relu6Grain = 1 << 15

// relu6Call is ReLU6 over a slice cut into parts of whole cache lines.
type relu6Call struct {
	kn   *gemmKernel
	y, x []float32
}

var relu6Calls = freeList[relu6Call]{}

func (c *relu6Call) run(part, parts int) {
	lo, hi := lineParts(len(c.y), part, parts)
	relu6F32(c.kn, c.y[lo:hi], c.x[lo:hi])
}

// lineParts returns part's share [lo, hi) of n floats cut into parts
// that start on 64-byte boundaries (of a slice that does), the last
// taking the rest.
func lineParts(n, part, parts int) (lo, hi int) {
	lo = n * part / parts &^ 15
	hi = n * (part + 1) / parts &^ 15
	if part == parts-1 {
		hi = n
	}
	return lo, hi
}

// relu6F32 computes y = activate(ActReLU6, x) bit for bit: min(max(x, 0),
// 6), except that −0 and NaN (payload and sign kept) pass through. It is
// ReLU (+0 below zero; −0 and NaN kept) followed by Clamp to [−∞, 6]
// (which keeps −0, and NaN), both vector kernels, over chunks small
// enough that the second pass finds its data in L1.
func relu6F32(kn *gemmKernel, y, x []float32) {
	x = x[:len(y)]
	const chunk = 2048
	inf := float32(math.Inf(-1))
	for i := 0; i < len(y); i += chunk {
		j := min(i+chunk, len(y))
		reluF32(kn, y[i:j], x[i:j])
		clampF32(kn, y[i:j], y[i:j], inf, 6)
	}
}

// ActivateGrad computes dx = f'(x)·dy, given x and y = f(x).
func (Reference) ActivateGrad(dx, x, y, dy *Tensor, a Activation, alpha float32) {
	hostOnly(dx, x, y, dy)
	mustSameShape("ActivateGrad", dx, x, y, dy)
	for i := range dx.data {
		dx.data[i] = activateGrad(a, alpha, x.data[i], y.data[i], dy.data[i])
	}
}

// ActivateGrad computes dx = f'(x)·dy; ReLU and ReLU6 run vector kernels.
func (cpu CPU) ActivateGrad(dx, x, y, dy *Tensor, a Activation, alpha float32) {
	sameBackend("ActivateGrad", cpu, dx, x, y, dy)
	switch a {
	case ActReLU:
		cpu.ReLUGrad(dx, x, dy)
	case ActReLU6:
		mustSameShape("ActivateGrad", dx, x, y, dy)
		c := relu6GradCalls.Get()
		c.kn, c.dx, c.x, c.dy = cpu.kern(), dx.data, x.data, dy.data
		parallel(min(goMaxProcs(), len(dx.data)/relu6Grain), c)
		c.kn, c.dx, c.x, c.dy = nil, nil, nil, nil
		relu6GradCalls.Put(c)
	default:
		Reference{}.ActivateGrad(dx, x, y, dy, a, alpha)
	}
}

// relu6GradCall is relu6GradF32 over slices cut into parts of whole
// cache lines.
type relu6GradCall struct {
	kn        *gemmKernel
	dx, x, dy []float32
}

var relu6GradCalls = freeList[relu6GradCall]{}

func (c *relu6GradCall) run(part, parts int) {
	lo, hi := lineParts(len(c.dx), part, parts)
	relu6GradF32(c.kn, c.dx[lo:hi], c.x[lo:hi], c.dy[lo:hi])
}

// sixes is a chunk of 6s, relu6GradF32's minuend.
var sixes = func() (s [2048]float32) {
	for i := range s {
		s[i] = 6
	}
	return s
}()

// relu6GradF32 computes dx = activateGrad(ActReLU6, x, dy) bit for bit: dy
// where 0 < x < 6, else +0 (NaN included). It is ReLU's gradient twice,
// by x and by 6 − x (positive exactly where x < 6, NaN where x is), vector
// kernels over chunks that stay in L1. dx may be dy.
func relu6GradF32(kn *gemmKernel, dx, x, dy []float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	var t [len(sixes)]float32
	for i := 0; i < len(dx); i += len(sixes) {
		j := min(i+len(sixes), len(dx))
		d, m := dx[i:j], t[:j-i]
		subF32(kn, m, sixes[:j-i], x[i:j])
		reluGradF32(kn, d, x[i:j], dy[i:j])
		reluGradF32(kn, d, m, d)
	}
}

// softmaxDims checks a softmax over axis and returns outer, axis, inner sizes.
func softmaxDims(op string, y, x *Tensor, axis int) (outer, r, inner int) {
	mustSameShape(op, y, x)
	return axisDims(op, x.shape, axis)
}

// Softmax computes y = exp(x − max) / Σ exp(x − max) along axis, or with
// log set LogSoftmax: y = x − max − log Σ exp(x − max).
func (Reference) Softmax(y, x *Tensor, axis int, log bool) {
	hostOnly(y, x)
	softmax(y, x, axis, log)
}

// Softmax is Reference.Softmax.
func (cpu CPU) Softmax(y, x *Tensor, axis int, log bool) {
	sameBackend("Softmax", cpu, y, x)
	softmax(y, x, axis, log)
}

func softmax(y, x *Tensor, axis int, log bool) {
	outer, r, inner := softmaxDims("Softmax", y, x, axis)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			at := func(a int) int { return (o*r+a)*inner + j }
			m := math.Inf(-1)
			for a := 0; a < r; a++ {
				m = math.Max(m, float64(x.data[at(a)]))
			}
			var s float64
			for a := 0; a < r; a++ {
				s += math.Exp(float64(x.data[at(a)]) - m)
			}
			ls := math.Log(s)
			for a := 0; a < r; a++ {
				v := float64(x.data[at(a)]) - m
				if log {
					y.data[at(a)] = float32(v - ls)
				} else {
					y.data[at(a)] = float32(math.Exp(v - ls))
				}
			}
		}
	}
}

// SoftmaxGrad computes dx from y = Softmax(x) (or LogSoftmax with log) and
// dy: dx = y·(dy − Σ dy·y), or for LogSoftmax dx = dy − exp(y)·Σ dy.
func (Reference) SoftmaxGrad(dx, y, dy *Tensor, axis int, log bool) {
	hostOnly(dx, y, dy)
	softmaxGrad(dx, y, dy, axis, log)
}

// SoftmaxGrad is Reference.SoftmaxGrad.
func (cpu CPU) SoftmaxGrad(dx, y, dy *Tensor, axis int, log bool) {
	sameBackend("SoftmaxGrad", cpu, dx, y, dy)
	softmaxGrad(dx, y, dy, axis, log)
}

func softmaxGrad(dx, y, dy *Tensor, axis int, log bool) {
	mustSameShape("SoftmaxGrad", dx, y, dy)
	outer, r, inner := softmaxDims("SoftmaxGrad", y, y, axis)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			at := func(a int) int { return (o*r+a)*inner + j }
			var s float64
			for a := 0; a < r; a++ {
				if log {
					s += float64(dy.data[at(a)])
				} else {
					s += float64(dy.data[at(a)]) * float64(y.data[at(a)])
				}
			}
			for a := 0; a < r; a++ {
				i := at(a)
				if log {
					dx.data[i] = float32(float64(dy.data[i]) - math.Exp(float64(y.data[i]))*s)
				} else {
					dx.data[i] = float32(float64(y.data[i]) * (float64(dy.data[i]) - s))
				}
			}
		}
	}
}

// SoftmaxCrossEntropy returns the mean over the batch of the cross-entropy
// between softmax(logits[i]) and the target distribution (1−ε)·onehot(labels[i])
// + ε/K (label smoothing ε), and, unless grad is nil, writes its gradient
// with respect to the logits: (softmax − target)/N. logits and grad are
// [N, K]; every label must be in [0, K).
func (Reference) SoftmaxCrossEntropy(grad, logits *Tensor, labels []int, smoothing float32) float32 {
	hostOnly(grad, logits)
	return softmaxCrossEntropy(grad, logits, labels, smoothing)
}

// SoftmaxCrossEntropy is Reference.SoftmaxCrossEntropy.
func (cpu CPU) SoftmaxCrossEntropy(grad, logits *Tensor, labels []int, smoothing float32) float32 {
	sameBackend("SoftmaxCrossEntropy", cpu, grad, logits)
	return softmaxCrossEntropy(grad, logits, labels, smoothing)
}

// checkLabels panics, naming the example, on a label outside [0, k).
func checkLabels(labels []int, k int) {
	for i, l := range labels {
		if l < 0 || l >= k {
			panic(fmt.Sprintf("tensor.SoftmaxCrossEntropy: label %d of example %d outside [0, %d)", l, i, k))
		}
	}
}

func softmaxCrossEntropy(grad, logits *Tensor, labels []int, smoothing float32) float32 {
	if logits.Rank() != 2 || len(labels) != logits.shape[0] || (grad != nil && !grad.SameShape(logits)) {
		gs := "nil"
		if grad != nil {
			gs = fmt.Sprint(grad.shape)
		}
		panic(fmt.Sprintf("tensor.SoftmaxCrossEntropy: logits %v (want [N,K]), %d labels, grad %s", logits.shape, len(labels), gs))
	}
	n, k := logits.shape[0], logits.shape[1]
	checkLabels(labels, k)
	eps := float64(smoothing)
	var total float64
	for i := 0; i < n; i++ {
		row := logits.data[i*k : (i+1)*k]
		lab := labels[i]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		for j, v := range row {
			target := eps / float64(k)
			if j == lab {
				target += 1 - eps
			}
			logp := float64(v) - lse
			total -= target * logp
			if grad != nil {
				grad.data[i*k+j] = float32((math.Exp(logp) - target) / float64(n))
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float32(total / float64(n))
}

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1−p), writing the scale (0 or 1/(1−p)) of each element into mask,
// so that the backward pass is dx = dy·mask. The same seed gives the same
// mask.
func (Reference) Dropout(y, mask, x *Tensor, p float32, seed uint64) {
	hostOnly(y, mask, x)
	dropout(genericGemmKernel(), y, mask, x, p, seed)
}

// Dropout is Reference.Dropout.
func (cpu CPU) Dropout(y, mask, x *Tensor, p float32, seed uint64) {
	sameBackend("Dropout", cpu, y, mask, x)
	dropout(cpu.kern(), y, mask, x, p, seed)
}

// dropoutDraw is element i's uniform draw in [0, 1) for a dropout seed:
// splitmix64 of seed + (i+1)·0x9e3779b97f4a7c15, its top 24 bits over
// 2²⁴. Each element's draw depends on its index alone, so the CUDA kernel
// (kernels/cuda's dropout) draws the same bits in parallel.
func dropoutDraw(seed uint64, i int) float32 {
	z := seed + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float32(z>>40) / (1 << 24)
}

func dropout(kn *gemmKernel, y, mask, x *Tensor, p float32, seed uint64) {
	mustSameShape("Dropout", y, mask, x)
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("tensor.Dropout: probability %v outside [0, 1)", p))
	}
	scale := 1 / (1 - p)
	for i := range mask.data {
		if p > 0 && dropoutDraw(seed, i) < p {
			mask.data[i] = 0
		} else {
			mask.data[i] = scale
		}
	}
	mulF32(kn, y.data, x.data, mask.data)
}
