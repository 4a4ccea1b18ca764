package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/graftml/graft/tensor"
)

// Dataset is a labelled set of examples that Fit and Evaluate read in
// batches. Package data's Set implements it.
type Dataset interface {
	// Len returns the number of examples.
	Len() int
	// ExampleShape returns one example's shape, e.g. [28 28 1] (H, W, C).
	ExampleShape() []int
	// NumClasses returns the number of classes.
	NumClasses() int
	// Load writes the examples idx, in that order, into x
	// (len(idx)·prod(ExampleShape) floats) and their labels into labels.
	Load(x []float32, labels []int, idx []int) error
}

// EpochStats are the metrics of one epoch.
type EpochStats struct {
	Epoch              int // from 1
	TrainLoss          float64
	TrainAcc           float64
	ValLoss, ValAcc    float64 // NaN without validation data
	Seconds            float64
	Images             int
	ImagesPerSec       float64
	LR                 float64 // the first group's rate at the epoch's end
	Steps              int     // steps so far, all epochs
	BestSoFar, Stopped bool
}

// Callback hooks into Fit.
type Callback interface {
	// EpochEnd is called after each epoch's validation; returning stop
	// ends training after this epoch, an error ends it with that error.
	EpochEnd(model Layer, s *EpochStats) (stop bool, err error)
}

// StepInfo describes one finished training step, for progress display.
type StepInfo struct {
	Epoch, Step, StepsPerEpoch int
	Loss                       float64
	Images                     int
	Elapsed                    time.Duration
}

// FitOptions configure Fit. Zero fields take the defaults noted.
type FitOptions struct {
	Epochs    int // default 1
	BatchSize int // default 64
	// Loss defaults to CrossEntropy{}.
	Loss Loss
	// Optimizer defaults to SGD with momentum 0.9, rate 0.01, over all
	// parameters.
	Optimizer Optimizer
	// Schedule defaults to Constant; it is applied before every step.
	Schedule Schedule
	// ClipNorm, when positive, clips the gradients' global norm.
	ClipNorm float64
	// Seed drives the shuffling; the same seed gives the same run.
	Seed uint64
	// DropLast skips a last partial batch in training.
	DropLast bool
	// Progress, when set, is called after every step.
	Progress func(StepInfo)
	// Callbacks run after every epoch, in order.
	Callbacks []Callback
	// StartEpoch and StartStep resume a run (the epochs and steps already
	// done); shuffling and the schedule continue from there.
	StartEpoch, StartStep int
}

// History is what Fit returns: one entry per finished epoch.
type History struct {
	Epochs []EpochStats
}

// Last returns the last epoch's metrics (zero when none ran).
func (h *History) Last() EpochStats {
	if len(h.Epochs) == 0 {
		return EpochStats{}
	}
	return h.Epochs[len(h.Epochs)-1]
}

// ErrNonFinite is wrapped by the error Fit returns for a NaN or infinite
// loss.
var ErrNonFinite = errors.New("loss is not finite")

// Batcher holds the reusable buffers of batched reading from a Dataset.
type Batcher struct {
	data   Dataset
	size   int
	be     tensor.Backend // the backend of the batches; nil: the default
	x      *tensor.Tensor
	xs     map[int]*tensor.Tensor
	labels []int
}

// NewBatcher returns a Batcher of batches of up to size examples, on the
// default backend.
func NewBatcher(d Dataset, size int) *Batcher {
	return &Batcher{data: d, size: size, xs: map[int]*tensor.Tensor{}}
}

// NewBatcherFor returns a Batcher whose batches are on model's backend
// (BackendOf), so that a model moved to a backend (MoveTo) is fed there.
func NewBatcherFor(model Layer, d Dataset, size int) *Batcher {
	b := NewBatcher(d, size)
	b.be = BackendOf(model)
	return b
}

// Batch loads the examples idx and returns them as [len(idx), shape...]
// with their labels; the results are reused by the next call.
func (b *Batcher) Batch(idx []int) (*tensor.Tensor, []int, error) {
	x, ok := b.xs[len(idx)]
	if !ok {
		x = tensor.Zeros(append([]int{len(idx)}, b.data.ExampleShape()...)...)
		if b.be != nil {
			x.MoveTo(b.be)
		}
		b.xs[len(idx)] = x
	}
	if cap(b.labels) < len(idx) {
		b.labels = make([]int, len(idx))
	}
	labels := b.labels[:len(idx)]
	if err := b.data.Load(x.Data(), labels, idx); err != nil {
		return nil, nil, err
	}
	return x, labels, nil
}

// Fit trains model on train for opts.Epochs epochs, evaluating on val
// (which may be nil) after each. It stops early when ctx is cancelled
// (returning ctx's error with the history so far), when a callback asks,
// or with an error naming the step when the loss is NaN or infinite. An
// operation that fails on the GPU (out of memory, say) ends it with an
// error wrapping the *tensor.DeviceError. On a GPU a step copies the batch
// and its labels in, and the loss and the batch's outputs (for the
// training accuracy) out.
func Fit(ctx context.Context, model Layer, train, val Dataset, opts FitOptions) (hist *History, err error) {
	defer tensor.RecoverDevice("nn.Fit", &err)
	return fit(ctx, model, train, val, opts)
}

func fit(ctx context.Context, model Layer, train, val Dataset, opts FitOptions) (*History, error) {
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 64
	}
	if opts.Loss == nil {
		opts.Loss = CrossEntropy{}
	}
	if opts.Optimizer == nil {
		opts.Optimizer = NewSGD(0.9, false, NewGroup(Parameters(model), 0.01, 0))
	}
	if opts.Schedule == nil {
		opts.Schedule = Constant{}
	}
	if train == nil || train.Len() == 0 {
		return nil, errors.New("nn.Fit: no training examples")
	}
	if opts.BatchSize < 0 || opts.Epochs < 0 {
		return nil, fmt.Errorf("nn.Fit: batch size %d and epochs %d must be positive", opts.BatchSize, opts.Epochs)
	}
	n := train.Len()
	perEpoch := n / opts.BatchSize
	if !opts.DropLast && n%opts.BatchSize != 0 {
		perEpoch++
	}
	if perEpoch == 0 {
		return nil, fmt.Errorf("nn.Fit: %d examples make no full batch of %d (DropLast)", n, opts.BatchSize)
	}
	total := (opts.Epochs) * perEpoch
	params := Parameters(model)
	batcher := NewBatcherFor(model, train, opts.BatchSize)
	hist := &History{}
	perm := make([]int, n)
	var grad, target *tensor.Tensor
	step := opts.StartStep
	for epoch := opts.StartEpoch + 1; epoch <= opts.Epochs; epoch++ {
		SetTraining(model, true)
		start := time.Now()
		shuffle(perm, opts.Seed, epoch)
		var lossSum float64
		correct, seen := 0, 0
		for b := 0; b < perEpoch; b++ {
			if err := ctx.Err(); err != nil {
				return hist, err
			}
			idx := perm[b*opts.BatchSize : min((b+1)*opts.BatchSize, n)]
			x, labels, err := batcher.Batch(idx)
			if err != nil {
				return hist, fmt.Errorf("nn.Fit: epoch %d: %w", epoch, err)
			}
			out := model.Forward(x)
			if grad == nil || !grad.SameShape(out) {
				grad = tensor.ZerosLike(out, out.Shape()...)
			}
			target = targetFor(opts.Loss, target, out, labels)
			loss := opts.Loss.Loss(grad, out, labels, target)
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return hist, fmt.Errorf("nn.Fit: epoch %d, step %d (batch %d): %w: %v", epoch, step+1, b+1, ErrNonFinite, loss)
			}
			model.Backward(grad, false)
			if opts.ClipNorm > 0 {
				ClipGradNorm(params, opts.ClipNorm)
			}
			ApplySchedule(opts.Optimizer, opts.Schedule, step, total)
			opts.Optimizer.Step()
			step++
			lossSum += float64(loss) * float64(len(idx))
			correct += countCorrect(out, labels)
			seen += len(idx)
			if opts.Progress != nil {
				opts.Progress(StepInfo{Epoch: epoch, Step: b + 1, StepsPerEpoch: perEpoch,
					Loss: float64(loss), Images: seen, Elapsed: time.Since(start)})
			}
		}
		secs := time.Since(start).Seconds()
		st := EpochStats{Epoch: epoch, TrainLoss: lossSum / float64(seen), TrainAcc: float64(correct) / float64(seen),
			ValLoss: math.NaN(), ValAcc: math.NaN(), Seconds: secs, Images: seen,
			ImagesPerSec: float64(seen) / secs, Steps: step}
		if g := opts.Optimizer.Groups(); len(g) > 0 {
			st.LR = g[0].LR
		}
		if val != nil && val.Len() > 0 {
			vl, va, err := Evaluate(ctx, model, val, opts.BatchSize, opts.Loss)
			if err != nil {
				return hist, err
			}
			st.ValLoss, st.ValAcc = vl, va
		}
		stop := false
		for _, cb := range opts.Callbacks {
			s, err := cb.EpochEnd(model, &st)
			if err != nil {
				hist.Epochs = append(hist.Epochs, st)
				return hist, err
			}
			stop = stop || s
		}
		st.Stopped = stop
		hist.Epochs = append(hist.Epochs, st)
		if stop {
			break
		}
	}
	return hist, nil
}

// targetFor returns nil for a loss that reads labels (CrossEntropy) and,
// for one that reads a target (MSE, BCEWithLogits), the labels one-hot
// encoded in the output's shape (in buf when it fits).
func targetFor(l Loss, buf, out *tensor.Tensor, labels []int) *tensor.Tensor {
	if _, ok := l.(CrossEntropy); ok {
		return nil
	}
	if buf == nil || !buf.SameShape(out) {
		buf = tensor.ZerosLike(out, out.Shape()...)
	}
	d := buf.Data()
	clear(d)
	if k := out.Dim(-1); out.Len() == len(labels)*k {
		for i, lab := range labels {
			if lab >= 0 && lab < k {
				d[i*k+lab] = 1
			}
		}
	}
	return buf
}

// shuffle fills perm with a permutation drawn from the seed and epoch.
func shuffle(perm []int, seed uint64, epoch int) {
	for i := range perm {
		perm[i] = i
	}
	r := rand.New(rand.NewPCG(seed, uint64(epoch)*0x9e3779b97f4a7c15+1))
	r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
}

// countCorrect counts the rows of out whose largest entry is the label.
func countCorrect(out *tensor.Tensor, labels []int) int {
	k := out.Dim(-1)
	d := out.Data()
	c := 0
	for i, lab := range labels {
		if argmax(d[i*k:(i+1)*k]) == lab {
			c++
		}
	}
	return c
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// Evaluate returns the mean loss and the accuracy of model on data, in
// inference mode, through the model's inference path (Infer: BatchNorm
// folded into convolutions; restoring training mode afterwards if it was
// set is the caller's business: Fit sets it at each epoch).
func Evaluate(ctx context.Context, model Layer, data Dataset, batchSize int, loss Loss) (meanLoss, acc float64, err error) {
	defer tensor.RecoverDevice("nn.Evaluate", &err)
	if loss == nil {
		loss = CrossEntropy{}
	}
	if batchSize <= 0 {
		batchSize = 256
	}
	SetTraining(model, false)
	n := data.Len()
	if n == 0 {
		return math.NaN(), math.NaN(), nil
	}
	b := NewBatcherFor(model, data, batchSize)
	idx := make([]int, 0, batchSize)
	var sum float64
	var target *tensor.Tensor
	correct := 0
	for s := 0; s < n; s += batchSize {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		idx = idx[:0]
		for i := s; i < min(s+batchSize, n); i++ {
			idx = append(idx, i)
		}
		x, labels, err := b.Batch(idx)
		if err != nil {
			return 0, 0, fmt.Errorf("nn.Evaluate: %w", err)
		}
		out := model.Infer(x)
		target = targetFor(loss, target, out, labels)
		sum += float64(loss.Loss(nil, out, labels, target)) * float64(len(idx))
		correct += countCorrect(out, labels)
	}
	return sum / float64(n), float64(correct) / float64(n), nil
}
