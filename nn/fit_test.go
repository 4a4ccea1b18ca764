package nn_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// blobs is an in-memory Dataset of two Gaussian blobs in 4-D, centred on
// −1 and +1 in every coordinate (newBlobs: with standard deviation 0.7, the
// classes are separable but not trivially so).
type blobs struct {
	x      []float32
	labels []int
}

const blobDim = 4

func newBlobs(n int, seed uint64) *blobs { return newBlobsSigma(n, seed, 0.7) }

func newBlobsSigma(n int, seed uint64, sigma float32) *blobs {
	r := rand.New(rand.NewPCG(seed, 11))
	b := &blobs{x: make([]float32, n*blobDim), labels: make([]int, n)}
	for i := 0; i < n; i++ {
		c := i % 2
		b.labels[i] = c
		for j := 0; j < blobDim; j++ {
			b.x[i*blobDim+j] = float32(2*c-1) + sigma*float32(r.NormFloat64())
		}
	}
	return b
}

func (b *blobs) Len() int            { return len(b.labels) }
func (b *blobs) ExampleShape() []int { return []int{blobDim} }
func (b *blobs) NumClasses() int     { return 2 }
func (b *blobs) Load(x []float32, labels []int, idx []int) error {
	if len(x) != len(idx)*blobDim || len(labels) != len(idx) {
		return fmt.Errorf("blobs: buffers of %d and %d for %d examples", len(x), len(labels), len(idx))
	}
	for k, i := range idx {
		if i < 0 || i >= b.Len() {
			return fmt.Errorf("blobs: no example %d", i)
		}
		copy(x[k*blobDim:(k+1)*blobDim], b.x[i*blobDim:(i+1)*blobDim])
		labels[k] = b.labels[i]
	}
	return nil
}

// blobModel is Dense(4→8) → ReLU → Dense(8→2).
func blobModel(seed uint64) *nn.Sequential {
	return nn.NewSequential(nn.NewDense(blobDim, 8, true, seed), nn.ReLU(), nn.NewDense(8, 2, true, seed+1))
}

func TestFitLearnsBlobs(t *testing.T) {
	train, val := newBlobs(200, 1), newBlobs(100, 2)
	m := blobModel(3)
	hist, err := nn.Fit(context.Background(), m, train, val, nn.FitOptions{Epochs: 5, BatchSize: 16, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 5 {
		t.Fatalf("%d epochs in the history, want 5", len(hist.Epochs))
	}
	last := hist.Last()
	if last.TrainAcc <= 0.95 || last.ValAcc <= 0.95 {
		t.Errorf("accuracy train %.3f, validation %.3f, want > 0.95", last.TrainAcc, last.ValAcc)
	}
	if !(hist.Epochs[0].TrainLoss > last.TrainLoss) {
		t.Errorf("training loss went from %v to %v", hist.Epochs[0].TrainLoss, last.TrainLoss)
	}
	for i, e := range hist.Epochs {
		if e.Epoch != i+1 || e.Images != 200 || e.Steps != 13*(i+1) || e.LR != 0.01 || math.IsNaN(e.ValLoss) || e.Stopped {
			t.Errorf("epoch %d stats %+v", i+1, e)
		}
	}
	_, acc, err := nn.Evaluate(context.Background(), m, val, 32, nil)
	if err != nil || acc <= 0.95 {
		t.Errorf("Evaluate: accuracy %v, %v", acc, err)
	}

	// Without validation data the validation metrics are NaN.
	hist, err = nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{BatchSize: 16})
	if err != nil || !math.IsNaN(hist.Last().ValLoss) || !math.IsNaN(hist.Last().ValAcc) {
		t.Errorf("no validation: %+v, %v", hist.Last(), err)
	}
}

func TestFitDeterministic(t *testing.T) {
	train := newBlobs(100, 1)
	run := func(seed uint64) (map[string][]float32, []float64) {
		m := blobModel(3)
		opt := nn.NewAdam(nn.NewGroup(nn.Parameters(m), 0.01, 0))
		hist, err := nn.Fit(context.Background(), m, train, nil, nn.FitOptions{Epochs: 3, BatchSize: 16, Seed: seed, Optimizer: opt,
			Schedule: nn.Cosine{MinFactor: 0.1}, ClipNorm: 1})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for _, e := range hist.Epochs {
			losses = append(losses, e.TrainLoss)
		}
		return modelcheck.State(m), losses
	}
	a, la := run(7)
	b, lb := run(7)
	tensorcheck.SameState(t, "same seed", b, a)
	if !slices.Equal(la, lb) {
		t.Errorf("losses %v and %v", la, lb)
	}
	c, _ := run(8)
	differ := false
	for k := range a {
		differ = differ || !slices.Equal(a[k], c[k])
	}
	if !differ {
		t.Error("another seed gives the same weights: the shuffle ignores the seed")
	}
}

func TestFitContextCancel(t *testing.T) {
	train := newBlobs(200, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	start := time.Now()
	hist, err := nn.Fit(ctx, blobModel(3), train, nil, nn.FitOptions{Epochs: 1000, BatchSize: 8,
		Progress: func(nn.StepInfo) {
			steps++
			if steps == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if steps != 3 {
		t.Errorf("%d steps ran, want 3 (cancelled after the third)", steps)
	}
	if hist == nil {
		t.Error("no history with the error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}

	// Already cancelled: no step at all.
	steps = 0
	_, err = nn.Fit(ctx, blobModel(3), train, nil, nn.FitOptions{Progress: func(nn.StepInfo) { steps++ }})
	if !errors.Is(err, context.Canceled) || steps != 0 {
		t.Errorf("cancelled context: %v after %d steps", err, steps)
	}
	if _, _, err := nn.Evaluate(ctx, blobModel(3), train, 16, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a cancelled context: %v", err)
	}
}

func TestFitNonFinite(t *testing.T) {
	t.Run("nan_input", func(t *testing.T) {
		train := newBlobs(64, 1)
		for i := range train.x {
			train.x[i] = float32(math.NaN())
		}
		_, err := nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{BatchSize: 16})
		if !errors.Is(err, nn.ErrNonFinite) {
			t.Fatalf("error %v, want one wrapping ErrNonFinite", err)
		}
		if !strings.Contains(err.Error(), "step 1 ") {
			t.Errorf("error %q does not name step 1", err)
		}
	})
	t.Run("huge_rate", func(t *testing.T) {
		train := newBlobs(400, 1)
		m := blobModel(3)
		steps := 0
		_, err := nn.Fit(context.Background(), m, train, nil, nn.FitOptions{Epochs: 3, BatchSize: 16,
			Optimizer: nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 1e30, 0)),
			Progress:  func(nn.StepInfo) { steps++ }})
		if !errors.Is(err, nn.ErrNonFinite) {
			t.Fatalf("error %v, want one wrapping ErrNonFinite", err)
		}
		if want := fmt.Sprintf("step %d ", steps+1); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the failing step (%s) after %d good ones", err, want, steps)
		}
	})
}

// stopAt asks Fit to stop after an epoch, or fails there.
type stopAt struct {
	epoch  int
	err    error
	epochs []int
}

func (s *stopAt) EpochEnd(_ nn.Layer, st *nn.EpochStats) (bool, error) {
	s.epochs = append(s.epochs, st.Epoch)
	if st.Epoch == s.epoch {
		return s.err == nil, s.err
	}
	return false, nil
}

func TestFitCallbacks(t *testing.T) {
	train := newBlobs(100, 1)
	steps := 0
	first, second := &stopAt{epoch: 2}, &stopAt{epoch: -1}
	hist, err := nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{Epochs: 5, BatchSize: 20,
		Callbacks: []nn.Callback{first, second}, Progress: func(nn.StepInfo) { steps++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 2 || !hist.Last().Stopped || hist.Epochs[0].Stopped {
		t.Errorf("history %+v, want two epochs, the last stopped", hist.Epochs)
	}
	if steps != 2*5 {
		t.Errorf("%d steps, want 10 (two epochs of 5)", steps)
	}
	if !slices.Equal(first.epochs, []int{1, 2}) || !slices.Equal(second.epochs, []int{1, 2}) {
		t.Errorf("callbacks saw epochs %v and %v, want [1 2] each", first.epochs, second.epochs)
	}

	boom := errors.New("boom")
	hist, err = nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{Epochs: 5, BatchSize: 20,
		Callbacks: []nn.Callback{&stopAt{epoch: 3, err: boom}}})
	if !errors.Is(err, boom) || hist == nil || len(hist.Epochs) != 3 {
		t.Errorf("callback error: %v, history %v", err, hist)
	}
}

func TestFitProgress(t *testing.T) {
	train := newBlobs(100, 1)
	for _, dropLast := range []bool{false, true} {
		t.Run(fmt.Sprintf("droplast=%v", dropLast), func(t *testing.T) {
			var infos []nn.StepInfo
			hist, err := nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{Epochs: 2, BatchSize: 16,
				DropLast: dropLast, Progress: func(s nn.StepInfo) { infos = append(infos, s) }})
			if err != nil {
				t.Fatal(err)
			}
			per, images := 7, 100
			if dropLast {
				per, images = 6, 96
			}
			if len(infos) != 2*per {
				t.Fatalf("Progress called %d times, want %d", len(infos), 2*per)
			}
			for i, s := range infos {
				step := i%per + 1
				wantImages := min(step*16, images)
				if s.Epoch != i/per+1 || s.Step != step || s.StepsPerEpoch != per || s.Images != wantImages ||
					math.IsNaN(s.Loss) || s.Loss <= 0 || s.Elapsed < 0 {
					t.Errorf("call %d: %+v", i, s)
				}
			}
			if hist.Last().Images != images || hist.Last().Steps != 2*per {
				t.Errorf("last epoch %+v", hist.Last())
			}
		})
	}
}

func TestFitOptionErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := nn.Fit(ctx, blobModel(3), newBlobs(0, 1), nil, nn.FitOptions{}); err == nil {
		t.Error("no examples: no error")
	}
	if _, err := nn.Fit(ctx, blobModel(3), newBlobs(10, 1), nil, nn.FitOptions{BatchSize: 16, DropLast: true}); err == nil {
		t.Error("no full batch with DropLast: no error")
	}
	if _, err := nn.Fit(ctx, blobModel(3), newBlobs(10, 1), nil, nn.FitOptions{BatchSize: -1}); err == nil {
		t.Error("negative batch size: no error")
	}
}

func TestEvaluate(t *testing.T) {
	data := newBlobs(50, 5)
	m := blobModel(3)
	nn.SetTraining(m, true)
	loss, acc, err := nn.Evaluate(context.Background(), m, data, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Reference: every example through Infer, one at a time.
	var sum float64
	correct := 0
	for i := 0; i < data.Len(); i++ {
		x := tensor.FromSlice(slices.Clone(data.x[i*blobDim:(i+1)*blobDim]), 1, blobDim)
		out := m.Infer(x).Data()
		sum += refCE(out, data.labels[i:i+1], 2, 0)
		if slices.Index(out, slices.Max(out)) == data.labels[i] {
			correct++
		}
	}
	if want := sum / 50; math.Abs(loss-want) > 1e-5*math.Max(want, 1) {
		t.Errorf("loss %v, want %v", loss, want)
	}
	if want := float64(correct) / 50; acc != want {
		t.Errorf("accuracy %v, want %v", acc, want)
	}
	// Evaluate switches to inference mode.
	var training []string
	nn.Walk(m, func(name string, l nn.Layer) {
		if tl, ok := l.(interface{ Training() bool }); ok && tl.Training() {
			training = append(training, name)
		}
	})
	if len(training) != 0 {
		t.Errorf("layers %q still in training mode after Evaluate", training)
	}
}

// allocCNN is conv → BatchNorm (ReLU fused) → max pool → flatten → dense
// over [N, 8, 8, 2].
func allocCNN() *nn.Sequential {
	b := nn.NewBatchNorm(4)
	b.ReLU = true
	return nn.NewSequential(
		nn.NewConv2D(2, 4, 3, nn.ConvOpts{Padding: 1, Bias: true}, 1),
		b,
		nn.NewMaxPool2D(2, 0, 0),
		nn.NewFlatten(),
		nn.NewDense(4*4*4, 3, true, 2),
	)
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestTrainStepAllocs checks that a steady-state training step of a small
// CNN (Forward, loss, Backward, SGD with momentum) allocates nothing. On
// failure it names the calls that allocate.
func TestTrainStepAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	m := allocCNN()
	nn.SetTraining(m, true)
	opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.01, 1e-4))
	x := modelcheck.Randn(3, 8, 8, 8, 2)
	labels := []int{0, 1, 2, 0, 1, 2, 0, 1}
	grad := tensor.Zeros(8, 3)
	loss := nn.CrossEntropy{}
	step := func() {
		out := m.Forward(x)
		loss.Loss(grad, out, labels, nil)
		m.Backward(grad, false)
		opt.Step()
	}
	step()
	step()
	allocs := testing.AllocsPerRun(10, step)
	if allocs == 0 {
		return
	}
	// Name the culprits, layer by layer.
	var report []string
	measure := func(what string, fn func()) {
		if a := testing.AllocsPerRun(10, fn); a != 0 {
			report = append(report, fmt.Sprintf("%s: %v", what, a))
		}
	}
	ins := []*tensor.Tensor{x}
	for i := 0; i < m.Len(); i++ {
		l, in := m.Layer(i), ins[i]
		measure(fmt.Sprintf("layer %d (%T) Forward", i, l), func() { l.Forward(in) })
		ins = append(ins, l.Forward(in))
	}
	out := ins[len(ins)-1]
	measure("CrossEntropy", func() { loss.Loss(grad, out, labels, nil) })
	dy := grad
	for i := m.Len() - 1; i >= 0; i-- {
		l, d, need := m.Layer(i), dy, i > 0
		measure(fmt.Sprintf("layer %d (%T) Backward", i, l), func() { l.Backward(d, need) })
		dy = l.Backward(d, need)
	}
	measure("SGD.Step", opt.Step)
	t.Errorf("a training step allocates %v times; by call: %s", allocs, strings.Join(report, "; "))
}

// TestFitTargetLossNoPanic trains and evaluates with the losses that read
// a target tensor (MSE, BCEWithLogits). A Dataset gives labels only: Fit
// and Evaluate may build one-hot targets or return an error, but an option
// a user passes must never make them panic.
func TestFitTargetLossNoPanic(t *testing.T) {
	for _, loss := range []nn.Loss{nn.MSE{}, nn.BCEWithLogits{}} {
		t.Run(fmt.Sprintf("%T", loss), func(t *testing.T) {
			train := newBlobs(32, 1)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("Fit panicked: %v", r)
					}
				}()
				_, err := nn.Fit(context.Background(), blobModel(3), train, nil, nn.FitOptions{Loss: loss, BatchSize: 8})
				t.Logf("Fit: %v", err)
			}()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("Evaluate panicked: %v", r)
					}
				}()
				_, _, err := nn.Evaluate(context.Background(), blobModel(3), train, 8, loss)
				t.Logf("Evaluate: %v", err)
			}()
		})
	}
}

// stopAfter stops Fit after an epoch.
type stopAfter int

func (s stopAfter) EpochEnd(_ nn.Layer, st *nn.EpochStats) (bool, error) {
	return st.Epoch == int(s), nil
}

// TestFitResume stops a run halfway, saves a training checkpoint, and
// resumes it in a fresh model and optimizer with StartEpoch and StartStep:
// the weights must be those of the uninterrupted run, bit for bit.
func TestFitResume(t *testing.T) {
	train := newBlobs(100, 1)
	opts := func(m nn.Layer) nn.FitOptions {
		return nn.FitOptions{Epochs: 4, BatchSize: 16, Seed: 3, Schedule: nn.Warmup{Steps: 5, Then: nn.Cosine{MinFactor: 0.01}},
			Optimizer: nn.NewSGD(0.9, true, nn.NewGroup(nn.Parameters(m), 0.05, 1e-3))}
	}
	full := blobModel(3)
	if _, err := nn.Fit(context.Background(), full, train, nil, opts(full)); err != nil {
		t.Fatal(err)
	}

	half := blobModel(3)
	o := opts(half)
	o.Callbacks = []nn.Callback{stopAfter(2)}
	hist, err := nn.Fit(context.Background(), half, train, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	path := tempPath(t, "resume.safetensors")
	st := nn.TrainState{Epoch: hist.Last().Epoch, Step: hist.Last().Steps}
	if st != (nn.TrainState{Epoch: 2, Step: 14}) {
		t.Fatalf("stopped at %+v, want epoch 2, step 14", st)
	}
	if err := nn.SaveTraining(path, half, o.Optimizer, st, nn.Meta{}); err != nil {
		t.Fatal(err)
	}

	resumed := blobModel(9)
	o = opts(resumed)
	got, _, err := nn.LoadTraining(path, resumed, o.Optimizer)
	if err != nil {
		t.Fatal(err)
	}
	o.StartEpoch, o.StartStep = got.Epoch, got.Step
	hist, err = nn.Fit(context.Background(), resumed, train, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 2 || hist.Epochs[0].Epoch != 3 || hist.Last().Steps != 28 {
		t.Errorf("resumed history %+v, want epochs 3 and 4 ending at step 28", hist.Epochs)
	}
	tensorcheck.SameState(t, "resumed run", modelcheck.State(resumed), modelcheck.State(full))
}

// TestLayerStepAllocs checks every layer of the gradient checks, and
// Embedding and Dropout, for a steady state that allocates nothing:
// Forward, Backward and an Adam step.
func TestLayerStepAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	type layerCase struct {
		name string
		l    nn.Layer
		x    *tensor.Tensor
		need bool
	}
	var cases []layerCase
	for _, c := range gradCases() {
		l, x := c.build()
		cases = append(cases, layerCase{c.name, l, x, true})
	}
	cases = append(cases,
		layerCase{"Embedding", nn.NewEmbedding(6, 3, 2, 1), tensor.FromSlice([]float32{0, 1, 2, 3, 4, 5}, 2, 3), false},
		layerCase{"Dropout", nn.NewDropout(0.3, 1), modelcheck.Randn(2, 4, 5), true},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nn.SetTraining(c.l, true)
			r := modelcheck.Randn(3, c.l.Forward(c.x).Shape()...)
			opt := nn.NewAdam(nn.NewGroup(nn.Parameters(c.l), 1e-3, 0.01))
			fwd := func() { c.l.Forward(c.x) }
			bwd := func() { c.l.Backward(r, c.need) }
			for i := 0; i < 2; i++ {
				fwd()
				bwd()
				opt.Step()
			}
			var msgs []string
			for _, s := range []struct {
				what string
				fn   func()
			}{{"Forward", fwd}, {"Backward", bwd}, {"Adam.Step", opt.Step}} {
				if a := testing.AllocsPerRun(5, s.fn); a != 0 {
					msgs = append(msgs, fmt.Sprintf("%s: %v", s.what, a))
				}
			}
			if len(msgs) > 0 {
				t.Errorf("allocations in the steady state: %s", strings.Join(msgs, ", "))
			}
		})
	}
}
