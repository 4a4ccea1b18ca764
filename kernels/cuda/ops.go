package cuda

import "math"

// elementwise checks a length and the pointers of an elementwise op (all
// needed when n > 0) and launches it; args follow n.
func (k *Kernels) elementwise(op string, id kernelID, s Stream, n int, names string, ptrs []DevicePtr, args ...any) error {
	v := argCheck{op: op}
	v.sizes("n", n)
	v.ptrs(n > 0, names, ptrs...)
	if v.err != nil || n == 0 {
		return v.err
	}
	var all [8]any // n, then args: on the stack
	all[0] = int64(n)
	for i, a := range args { // not copy: it would make args' values escape
		all[i+1] = a
	}
	return k.launch1D(op, id, n, s, all[:len(args)+1]...)
}

// Fill queues y[i] = value for i < n.
func (k *Kernels) Fill(s Stream, n int, value float32, y DevicePtr) error {
	return k.elementwise("Fill", kFill, s, n, "y", []DevicePtr{y}, value, y)
}

// Add queues z = x + y over n elements (z may be x or y).
func (k *Kernels) Add(s Stream, n int, z, x, y DevicePtr) error {
	return k.elementwise("Add", kAdd, s, n, "z,x,y", []DevicePtr{z, x, y}, z, x, y)
}

// Mul queues z = x·y over n elements (z may be x or y).
func (k *Kernels) Mul(s Stream, n int, z, x, y DevicePtr) error {
	return k.elementwise("Mul", kMul, s, n, "z,x,y", []DevicePtr{z, x, y}, z, x, y)
}

// Scale queues y = alpha·x over n elements (y may be x).
func (k *Kernels) Scale(s Stream, n int, alpha float32, y, x DevicePtr) error {
	return k.elementwise("Scale", kScale, s, n, "y,x", []DevicePtr{y, x}, alpha, y, x)
}

// Axpy queues y = y + alpha·x over n elements, one fused multiply-add
// each.
func (k *Kernels) Axpy(s Stream, n int, alpha float32, y, x DevicePtr) error {
	return k.elementwise("Axpy", kAxpy, s, n, "y,x", []DevicePtr{y, x}, alpha, y, x)
}

// Activation is an elementwise nonlinearity by graft's tensor.Activation
// number: 0 ReLU, 1 ReLU6, 2 LeakyReLU (alpha is its negative slope),
// 3 Sigmoid, 4 Tanh, 5 GELU (the exact x·Φ(x)). A tensor.Activation
// converts to it as it is.
type Activation int32

// NumActivations is how many activations the kernels know.
const NumActivations = 6

// Activate queues y = f(x) over n elements (y may be x).
func (k *Kernels) Activate(s Stream, a Activation, alpha float32, n int, y, x DevicePtr) error {
	if a < 0 || a >= NumActivations {
		return &ArgError{Op: "Activate", Msg: "unknown activation"}
	}
	return k.elementwise("Activate", kActFwd, s, n, "y,x", []DevicePtr{y, x}, int32(a), alpha, y, x)
}

// ActivateGrad queues dx = f'(x)·dy over n elements, given x and
// y = f(x) (Sigmoid and Tanh read y, the others x).
func (k *Kernels) ActivateGrad(s Stream, a Activation, alpha float32, n int, dx, x, y, dy DevicePtr) error {
	if a < 0 || a >= NumActivations {
		return &ArgError{Op: "ActivateGrad", Msg: "unknown activation"}
	}
	return k.elementwise("ActivateGrad", kActBwd, s, n, "dx,x,y,dy", []DevicePtr{dx, x, y, dy}, int32(a), alpha, dx, x, y, dy)
}

// BatchNormParams are BatchNorm's settings, as graft's
// tensor.BatchNormParams: running = (1 − Momentum)·running +
// Momentum·batch; UnbiasedVar makes the running variance use the unbiased
// batch variance; ReLU applies max(·, 0) to the output.
type BatchNormParams struct {
	Momentum, Eps float32
	UnbiasedVar   bool
	ReLU          bool
}

// bnCheck checks a batch norm's rows×c data and its pointers.
func bnCheck(op string, rows, c int, needNames string, need []DevicePtr, optNames string, optional []DevicePtr) argCheck {
	v := argCheck{op: op}
	v.sizes("rows,c", rows, c)
	v.product("rows·c", false, rows, c)
	v.ptrs(rows > 0 && c > 0, needNames, need...)
	v.ptrs(false, optNames, optional...)
	return v
}

// bnGrid is the per-channel sums' grid: blocks of 32 channels × 16 rows.
func bnGrid(c int) (grid, block dim3) {
	return dim3{uint32(ceilDiv(c, 32)), 1, 1}, dim3{32, 16, 1}
}

// BatchNormTrain normalises x (rows×c, channels last) with its batch
// statistics per channel: the mean and biased variance over the rows,
// saved as saveMean and saveInvStd = 1/√(var + Eps); y = gamma·x̂ + beta.
// Unless runMean is 0 it updates runMean and runVar. With rows = 0 it
// does nothing.
func (k *Kernels) BatchNormTrain(s Stream, rows, c int, p BatchNormParams, y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd DevicePtr) error {
	v := bnCheck("BatchNormTrain", rows, c, "y,x,gamma,beta,saveMean,saveInvStd", []DevicePtr{y, x, gamma, beta, saveMean, saveInvStd},
		"runMean,runVar", []DevicePtr{runMean, runVar})
	if (runMean == 0) != (runVar == 0) {
		v.failf("runMean and runVar must both be set or both be 0")
	}
	if v.err != nil || rows == 0 || c == 0 {
		return v.err
	}
	grid, block := bnGrid(c)
	err := k.launch(v.op, kBNTrainStats, grid, block, s, int32(rows), int32(c), p.Momentum, p.Eps, flag(p.UnbiasedVar),
		x, runMean, runVar, saveMean, saveInvStd)
	if err != nil {
		return err
	}
	return k.launch1D(v.op, kBNTrainApply, rows*c, s, int64(rows*c), int32(c), flag(p.ReLU), y, x, gamma, beta, saveMean, saveInvStd)
}

// BatchNormInference queues y = gamma·(x − mean)/√(variance + Eps) + beta
// per channel (then max(y, 0) with ReLU); Momentum and UnbiasedVar are
// unused.
func (k *Kernels) BatchNormInference(s Stream, rows, c int, p BatchNormParams, y, x, gamma, beta, mean, variance DevicePtr) error {
	v := bnCheck("BatchNormInference", rows, c, "y,x,gamma,beta,mean,variance", []DevicePtr{y, x, gamma, beta, mean, variance}, "", nil)
	if v.err != nil || rows == 0 || c == 0 {
		return v.err
	}
	return k.launch1D(v.op, kBNInference, rows*c, s, int64(rows*c), int32(c), p.Eps, flag(p.ReLU), y, x, gamma, beta, mean, variance)
}

// BatchNormBackward queues, from the statistics BatchNormTrain saved,
// dgamma = Σ dy·x̂, dbeta = Σ dy (over the rows) and, unless dx is 0,
// dx = gamma·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
func (k *Kernels) BatchNormBackward(s Stream, rows, c int, dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd DevicePtr) error {
	v := bnCheck("BatchNormBackward", rows, c, "dgamma,dbeta,x,dy,gamma,saveMean,saveInvStd", []DevicePtr{dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd},
		"dx", []DevicePtr{dx})
	if v.err != nil || c == 0 {
		return v.err
	}
	grid, block := bnGrid(c)
	err := k.launch(v.op, kBNBwdReduce, grid, block, s, int32(rows), int32(c), dgamma, dbeta, x, dy, saveMean, saveInvStd)
	if err != nil || dx == 0 || rows == 0 {
		return err
	}
	return k.launch1D(v.op, kBNBwdData, rows*c, s, int64(rows*c), int32(c), dx, x, dy, gamma, saveMean, saveInvStd, dgamma, dbeta)
}

// rowsCheck checks a rows×cols matrix op with rows < 2³¹ and its
// pointers.
func rowsCheck(op string, rows, cols int, names string, ptrs ...DevicePtr) argCheck {
	v := argCheck{op: op}
	v.sizes("rows,cols", rows, cols)
	v.product("rows·cols", false, rows, cols)
	v.ptrs(rows > 0 && cols > 0, names, ptrs...)
	return v
}

// rowGrid is the grid of the warp-per-row kernels: 8 rows per block.
func rowGrid(rows int) dim3 { return dim3{uint32(ceilDiv(rows, 8)), 1, 1} }

// Softmax queues y = exp(x − max)/Σ exp(x − max) along each row of a
// rows×cols matrix, or with log set the log-softmax
// y = x − max − log Σ exp(x − max) (sums in double precision).
func (k *Kernels) Softmax(s Stream, rows, cols int, log bool, y, x DevicePtr) error {
	v := rowsCheck("Softmax", rows, cols, "y,x", y, x)
	if v.err != nil || rows == 0 || cols == 0 {
		return v.err
	}
	return k.launch(v.op, kSoftmax, rowGrid(rows), dim3{256, 1, 1}, s, int32(rows), int32(cols), flag(log), y, x)
}

// SoftmaxGrad queues dx from y = Softmax(x) (or the log-softmax with log)
// and dy: dx = y·(dy − Σ dy·y), or dx = dy − exp(y)·Σ dy, along each row.
func (k *Kernels) SoftmaxGrad(s Stream, rows, cols int, log bool, dx, y, dy DevicePtr) error {
	v := rowsCheck("SoftmaxGrad", rows, cols, "dx,y,dy", dx, y, dy)
	if v.err != nil || rows == 0 || cols == 0 {
		return v.err
	}
	return k.launch(v.op, kSoftmaxGrad, rowGrid(rows), dim3{256, 1, 1}, s, int32(rows), int32(cols), flag(log), dx, y, dy)
}

// SoftmaxCrossEntropy queues the mean over the n rows of logits [n, k] of
// the cross-entropy between softmax(logits[i]) and the target
// (1−smoothing)·onehot(labels[i]) + smoothing/k, written as one float to
// loss, and unless grad is 0 its gradient (softmax − target)/n into grad
// [n, k]. labels holds n int32 on the device; a label outside [0, k)
// makes the loss NaN (and its row of grad). n = 0 gives loss 0. One block
// computes it all, in a fixed order.
func (k *Kernels) SoftmaxCrossEntropy(s Stream, n, classes int, smoothing float32, loss, grad, logits, labels DevicePtr) error {
	v := rowsCheck("SoftmaxCrossEntropy", n, classes, "logits,labels", logits, labels)
	v.ptrs(true, "loss", loss)
	v.ptrs(false, "grad", grad)
	if n > 0 && classes == 0 {
		v.failf("no classes for %d rows", n)
	}
	if !(smoothing >= 0 && smoothing <= 1) {
		v.failf("smoothing %v outside [0, 1]", smoothing)
	}
	if v.err != nil {
		return v.err
	}
	return k.launch(v.op, kSoftmaxXent, dim3{1, 1, 1}, dim3{1024, 1, 1}, s, int32(n), int32(classes), smoothing, loss, grad, logits, labels)
}

// Sum queues dst[o, j] = Σ_a src[o, a, j] for src [outer, r, inner] and
// dst [outer, inner], in double precision and a fixed order.
func (k *Kernels) Sum(s Stream, outer, r, inner int, dst, src DevicePtr) error {
	return k.sum("Sum", s, outer, r, inner, dst, src)
}

// SumAll queues dst[0] = Σ src[i] for i < n (one block: for moderate n).
func (k *Kernels) SumAll(s Stream, n int, dst, src DevicePtr) error {
	return k.sum("SumAll", s, 1, n, 1, dst, src)
}

// reduceCheck checks a reduction of src [outer, r, inner] along r into
// dst [outer, inner] and returns the output's length.
func reduceCheck(op string, outer, r, inner int, dst, src DevicePtr) (int, error) {
	v := argCheck{op: op}
	v.sizes("outer,r,inner", outer, r, inner)
	out := v.product("outer·inner", false, outer, inner)
	v.product("outer·r·inner", false, outer, r, inner)
	v.ptrs(out > 0, "dst", dst)
	v.ptrs(out > 0 && r > 0, "src", src)
	return out, v.err
}

func (k *Kernels) sum(op string, s Stream, outer, r, inner int, dst, src DevicePtr) error {
	out, err := reduceCheck(op, outer, r, inner, dst, src)
	if err != nil || out == 0 {
		return err
	}
	if inner == 1 {
		threads := 32 // a power of two ≥ 32 covering r, at most 1024
		for threads < min(r, 1024) {
			threads *= 2
		}
		return k.launch(op, kSumRows, dim3{uint32(min(outer, math.MaxInt32)), 1, 1}, dim3{uint32(threads), 1, 1}, s, int32(outer), int32(r), dst, src)
	}
	grid := dim3{uint32(ceilDiv(inner, 32)), uint32(min(outer, maxGridYZ)), 1}
	return k.launch(op, kSumCols, grid, dim3{32, 32, 1}, s, int32(outer), int32(r), int32(inner), dst, src)
}

// SGD queues one step of PyTorch's SGD (dampening 0) on n parameters w
// with gradient g, the same float32 operations in the same order as
// graft's tensor.SGDUpdate (so the same bits):
//
//	d = g + weightDecay·w
//	buf = d (first) or momentum·buf + d;  d = nesterov ? d + momentum·buf : buf
//	w = w − lr·d
//
// buf is used only when momentum ≠ 0 (then it must be set).
func (k *Kernels) SGD(s Stream, n int, lr, momentum, weightDecay float32, nesterov, first bool, w, g, buf DevicePtr) error {
	v := argCheck{op: "SGD"}
	v.sizes("n", n)
	v.ptrs(n > 0, "w,g", w, g)
	v.ptrs(n > 0 && momentum != 0, "buf", buf)
	if v.err != nil {
		return v.err
	}
	if momentum == 0 {
		buf = 0
	}
	return k.launch1D(v.op, kSGD, n, s, int64(n), lr, momentum, weightDecay, flag(nesterov), flag(first), w, g, buf)
}

// AdamStep is one step of Adam or AdamW, as graft's tensor.AdamUpdate
// takes it: StepSize = LR/(1 − Beta1ᵗ) and SqrtBC2 = √(1 − Beta2ᵗ) for
// step t; Decoupled selects AdamW's decoupled weight decay.
type AdamStep struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	StepSize, SqrtBC2                  float32
	Decoupled                          bool
}

// adamArgs mirrors the kernels' struct AdamArgs (optim.cu).
type adamArgs struct {
	Beta1, C1, Beta2, C2 float32
	Eps, WD              float32
	StepSize, SqrtBC2    float32
	Decay                float32
	Decoupled            int32
}

// Adam queues one Adam (or AdamW) step on n parameters w with gradient g
// and moments m, v, the same float32 operations in the same order as
// graft's tensor.AdamUpdate (so the same bits):
//
//	d = g;  w = w·(1 − LR·WeightDecay) (AdamW)  or  d = d + WeightDecay·w (Adam)
//	m = Beta1·m + (1−Beta1)·d;  v = Beta2·v + ((1−Beta2)·d)·d
//	w = w − (StepSize·m)/(√v/SqrtBC2 + Eps)
func (k *Kernels) Adam(s Stream, n int, p AdamStep, w, g, m, vv DevicePtr) error {
	v := argCheck{op: "Adam"}
	v.sizes("n", n)
	v.ptrs(n > 0, "w,g,m,v", w, g, m, vv)
	if v.err != nil {
		return v.err
	}
	a := &adamArgs{
		Beta1: p.Beta1, C1: 1 - p.Beta1, Beta2: p.Beta2, C2: 1 - p.Beta2, Eps: p.Eps, WD: p.WeightDecay,
		StepSize: p.StepSize, SqrtBC2: p.SqrtBC2, Decay: float32(1 - float64(p.LR)*float64(p.WeightDecay)),
		Decoupled: flag(p.Decoupled),
	}
	return k.launch1D(v.op, kAdam, n, s, int64(n), a, w, g, m, vv)
}
