package transfer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/safetensors"
)

// Strategy is a way to use a base network for a target task.
type Strategy string

const (
	// StrategyScratch trains the same architecture from fresh random
	// weights: the baseline every transfer result is compared to.
	StrategyScratch Strategy = "scratch"
	// StrategyFeatures freezes the trunk, runs it once over the data and
	// trains the head on the cached features.
	StrategyFeatures Strategy = "features"
	// StrategyTopK trains the head on cached features, then the top K
	// layer groups with discriminative learning rates; with frozen
	// BatchNorm statistics (the default) those groups train on cached
	// features of the frozen layers below them, which run once.
	StrategyTopK Strategy = "top-k"
	// StrategyAll trains the head on cached features, then every group
	// with discriminative learning rates (fastai's fine_tune).
	StrategyAll Strategy = "all"
)

// Strategies lists the strategies in the order experiments report them.
var Strategies = []Strategy{StrategyScratch, StrategyFeatures, StrategyTopK, StrategyAll}

// ParseStrategy reads a strategy's name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("transfer: unknown strategy %q (scratch, features, top-k or all)", s)
}

// Options configure a transfer run. Zero fields take the defaults noted.
type Options struct {
	Strategy Strategy
	// TopK is how many layer groups (the head included) train under
	// StrategyTopK; default 2.
	TopK int
	// HeadEpochs train the head alone (on cached features) at HeadLR;
	// defaults 30 and 1e-2 (a head on frozen features takes a higher rate
	// than fine-tuning; measured on digits from MNIST). Negative for none.
	// Under StrategyScratch they add to Epochs, so every strategy gets the
	// same number of passes.
	HeadEpochs int
	HeadLR     float64
	// Epochs train the unfrozen groups (top-k, all) or the whole
	// re-initialised model (scratch); default 10. StrategyFeatures trains
	// no groups: its Epochs count only in the scratch baseline (Result.
	// Scratch), which is the same for every strategy under one Options.
	Epochs int
	// BatchSize defaults to 32.
	BatchSize int
	// LR is the rate of the head and the top group, LRLo the bottom
	// group's: groups in between get rates spaced geometrically (fastai's
	// slice(lo, hi)). Defaults 1e-3 and LR/10.
	LR, LRLo float64
	// WeightDecay is AdamW's decoupled weight decay; default 1e-4.
	WeightDecay float64
	// WarmupFrac of each phase's steps warm up linearly before a cosine
	// decay; default 0.1. With OneCycle the phases follow Smith's one-cycle
	// policy instead.
	WarmupFrac float64
	OneCycle   bool
	// Freeze says how frozen BatchNorms behave.
	Freeze FreezeOptions
	// Seed drives the head's initialisation, scratch's weights and the
	// shuffling.
	Seed uint64
	// Cache holds the trunk's features; nil uses a private one.
	Cache *Cache
	// Augment, when set, wraps the training images of the phases that run
	// on images (scratch, and fine-tuning every group), e.g. with
	// data.Augmented. Phases on cached features never see it: a cache
	// holds the features of the images as they are.
	Augment func(nn.Dataset) nn.Dataset
	// Progress, when set, is called after every training step.
	Progress func(nn.StepInfo)
	// NewHead re-initialises the head's last layer even when its class
	// count fits the target (its classes are other classes; see
	// SameClasses); the run's notices say so.
	NewHead bool
}

func (o *Options) defaults() {
	if o.Strategy == "" {
		o.Strategy = StrategyFeatures
	}
	if o.TopK == 0 {
		o.TopK = 2
	}
	if o.HeadEpochs == 0 {
		o.HeadEpochs = 30
	}
	if o.HeadLR == 0 {
		o.HeadLR = 1e-2
	}
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.LR == 0 {
		o.LR = 1e-3 // fine-tuning a trained network takes small steps
		if o.Strategy == StrategyScratch {
			o.LR = 3e-3 // the best of 1e-3, 3e-3, 1e-2 for scratch on digits
		}
	}
	if o.LRLo == 0 {
		o.LRLo = o.LR / 10
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-4
	}
	if o.WarmupFrac == 0 {
		o.WarmupFrac = 0.1
	}
	if o.Cache == nil {
		o.Cache = &Cache{}
	}
}

// FineTune is fastai's fine_tune: a copy of base gets a head for the
// target's classes, trains it alone for frozenEpochs (on cached trunk
// features), then trains every layer group for unfrozenEpochs with
// discriminative learning rates from o.LRLo (the bottom group) to o.LR
// (the head), a warm-up and a cosine decay (or one-cycle with
// o.OneCycle). The other fields of o apply as in Run.
func FineTune(ctx context.Context, base *models.Model, train, test nn.Dataset, frozenEpochs, unfrozenEpochs int, o Options) (*Result, error) {
	o.Strategy = StrategyAll
	o.HeadEpochs, o.Epochs = frozenEpochs, unfrozenEpochs
	if frozenEpochs == 0 {
		o.HeadEpochs = -1
	}
	if unfrozenEpochs == 0 {
		o.Epochs = -1
	}
	return Run(ctx, base, train, test, o)
}

// Cost is what a run spent: FLOPs of the forward and backward passes
// (convolutions and dense layers, 2 per multiply-add) and wall time.
type Cost struct {
	FwdFLOPs, BwdFLOPs float64
	Seconds            float64
	// Images counts the examples that went through a forward pass.
	Images int
}

// FLOPs returns forward plus backward FLOPs.
func (c Cost) FLOPs() float64 { return c.FwdFLOPs + c.BwdFLOPs }

// Result is the outcome of a transfer run.
type Result struct {
	Strategy Strategy
	// HeadLR is the rate of the head phase; LR and LRLo the rates of the
	// top and bottom groups after it (scratch: LR for every layer).
	HeadLR, LR, LRLo float64
	// Accuracy and Loss are the test set's (or the last validation's).
	Accuracy, Loss float64
	Cost           Cost
	// Epochs are the per-epoch metrics of every phase, in order; the first
	// HeadEpochs of them trained the head alone on cached features.
	Epochs     []nn.EpochStats
	HeadEpochs int
	// Notices report what the run changed on its own (a dropped head).
	Notices []string
	// Trained lists the parameters and buffers the run changed: what a
	// delta checkpoint must hold.
	Trained []string
	// Scratch is what training the same architecture from scratch for
	// the same number of epochs on the same data costs in FLOPs (time is
	// only known when it is run: see Compare).
	Scratch Cost
	// Model is the trained model.
	Model *models.Model
	// BaseHash is WeightsHash of the base: a delta checkpoint records it.
	BaseHash string
	// Interrupted is set on the partial result of a run whose context
	// ended (see Run).
	Interrupted bool

	// last is the model's state after the last complete epoch, for an
	// interrupted run to return to.
	last map[string]*safetensors.Tensor
}

// Copy returns an independent model of the same architecture and
// options holding the same weights and buffers. An imported model is
// cloned from its layer tree.
func Copy(m *models.Model) (*models.Model, error) {
	if m.Imported() {
		c, err := m.Clone()
		if err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		return c, nil
	}
	c, err := models.New(m.Arch, m.Options)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if _, err := nn.LoadState(nn.StateDict(m), c, nn.LoadOptions{}); err != nil {
		return nil, fmt.Errorf("transfer: copying %s: %w", m.Arch, err)
	}
	return c, nil
}

// Run applies one strategy of o to a copy of base for the target task
// (train, evaluated on test) and reports accuracy and cost. The base is
// not modified.
//
// When ctx ends during training, Run returns ctx's error together with a
// partial Result (Interrupted set, Accuracy and Loss NaN): Epochs holds
// the epochs that completed and Model the weights after the last of them,
// or Model is nil when no epoch completed. Any other error returns a nil
// Result.
func Run(ctx context.Context, base *models.Model, train, test nn.Dataset, o Options) (*Result, error) {
	o.defaults()
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("transfer: no training examples")
	}
	if !slices.Equal(train.ExampleShape(), base.InputShape) {
		return nil, fmt.Errorf("transfer: %s takes %v examples, the data has %v (AdaptInputChannels or resize the data)",
			base.Arch, base.InputShape, train.ExampleShape())
	}
	start := time.Now()
	var m *models.Model
	var err error
	if o.Strategy == StrategyScratch {
		m, err = Scratch(base, o.Seed)
	} else {
		m, err = Copy(base)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Strategy: o.Strategy, Model: m, BaseHash: WeightsHash(base), HeadLR: o.HeadLR, LR: o.LR, LRLo: o.LRLo}
	if err := checkClasses(train); err != nil {
		return nil, err
	}
	if note, err := newHead(m, train.NumClasses(), o.NewHead && o.Strategy != StrategyScratch, o.Seed^0x4ead); err != nil {
		return nil, err
	} else if note != "" {
		res.Notices = append(res.Notices, note)
	}
	switch o.Strategy {
	case StrategyScratch:
		err = runScratch(ctx, m, train, test, o, res)
	case StrategyFeatures, StrategyTopK, StrategyAll:
		err = runTransfer(ctx, m, train, test, o, res)
	default:
		err = fmt.Errorf("transfer: unknown strategy %q", o.Strategy)
	}
	return res.finish(ctx, m, train, max(o.HeadEpochs, 0)+max(o.Epochs, 0), start, err)
}

// finish ends a run that trained m for epochs epochs from start with
// error err: ctx's end gives the partial Result (see Run), another error
// none; otherwise it settles the cost, the trained names and the cost of
// the same epochs from scratch.
func (res *Result) finish(ctx context.Context, m *models.Model, train nn.Dataset, epochs int, start time.Time, err error) (*Result, error) {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return res.interrupted(start, err)
	}
	if err != nil {
		return nil, err
	}
	res.last = nil
	res.Cost.Seconds = time.Since(start).Seconds()
	slices.Sort(res.Trained)
	res.Trained = slices.Compact(res.Trained)
	full, err := fullPlan(m)
	if err != nil {
		return nil, err
	}
	res.Scratch = Cost{FwdFLOPs: full.FwdFLOPs * float64(train.Len()*epochs),
		BwdFLOPs: full.BwdFLOPs * float64(train.Len()*epochs), Images: train.Len() * epochs}
	return res, nil
}

// interrupted returns the partial result of a run stopped by its context,
// its model as after the last complete epoch, and the context's error.
func (res *Result) interrupted(start time.Time, err error) (*Result, error) {
	res.Interrupted = true
	res.Accuracy, res.Loss = math.NaN(), math.NaN()
	res.Cost.Seconds = time.Since(start).Seconds()
	slices.Sort(res.Trained)
	res.Trained = slices.Compact(res.Trained)
	if res.last == nil {
		res.Model = nil
	} else if _, lerr := nn.LoadState(res.last, res.Model, nn.LoadOptions{}); lerr != nil {
		return nil, fmt.Errorf("transfer: restoring the last complete epoch: %v (after %w)", lerr, err)
	}
	res.last = nil
	return res, err
}

// keepEpoch is a Fit callback that keeps the whole model's state after
// every epoch, for an interrupted run to return to.
type keepEpoch struct{ res *Result }

func (k keepEpoch) EpochEnd(nn.Layer, *nn.EpochStats) (bool, error) {
	k.res.last = nn.StateDict(k.res.Model)
	return false, nil
}

// phase trains model on data for epochs with AdamW over the groups, a
// linear warm-up and a cosine decay, and adds its cost (plan FLOPs per
// example times examples) to res.
func phase(ctx context.Context, model nn.Layer, inShape []int, train nn.Dataset, groups []*nn.Group, epochs int, o Options, res *Result) error {
	if epochs <= 0 {
		return nil
	}
	plan, err := PlanBackprop(model, append([]int{1}, inShape...))
	if err != nil {
		return err
	}
	steps := epochs * int(math.Ceil(float64(train.Len())/float64(o.BatchSize)))
	var sched nn.Schedule = nn.Warmup{Steps: int(o.WarmupFrac * float64(steps)), Then: nn.Cosine{MinFactor: 0.01}}
	if o.OneCycle {
		sched = nn.OneCycle{}
	}
	hist, err := nn.Fit(ctx, model, train, nil, nn.FitOptions{
		Epochs: epochs, BatchSize: o.BatchSize, Optimizer: nn.NewAdamW(groups...), Schedule: sched,
		Seed: o.Seed, Progress: o.Progress, Callbacks: []nn.Callback{keepEpoch{res}},
	})
	if hist != nil {
		for _, e := range hist.Epochs {
			res.Epochs = append(res.Epochs, e)
			res.Cost.Images += e.Images
			res.Cost.FwdFLOPs += plan.FwdFLOPs * float64(e.Images)
			res.Cost.BwdFLOPs += plan.BwdFLOPs * float64(e.Images)
		}
	}
	return err
}

// evaluate sets the result's test loss and accuracy (NaN without test data).
func evaluate(ctx context.Context, model nn.Layer, test nn.Dataset, res *Result) error {
	res.Accuracy, res.Loss = math.NaN(), math.NaN()
	if test == nil || test.Len() == 0 {
		return nil
	}
	loss, acc, err := nn.Evaluate(ctx, model, test, 256, nil)
	if err != nil {
		return err
	}
	res.Accuracy, res.Loss = acc, loss
	return nil
}

func runScratch(ctx context.Context, m *models.Model, train, test nn.Dataset, o Options, res *Result) error {
	nn.SetTrainable(m, true)
	g := nn.NewGroup(nn.Parameters(m), o.LR, o.WeightDecay)
	if o.Augment != nil {
		train = o.Augment(train)
	}
	res.Trained = stateNames(m)
	if err := phase(ctx, m, m.InputShape, train, []*nn.Group{g}, max(o.HeadEpochs, 0)+max(o.Epochs, 0), o, res); err != nil {
		return err
	}
	return evaluate(ctx, m, test, res)
}

func stateNames(l nn.Layer) []string {
	var out []string
	for _, p := range nn.Parameters(l) {
		out = append(out, p.Name)
	}
	for _, b := range nn.Buffers(l) {
		out = append(out, b.Name)
	}
	return out
}

// runTransfer trains the head on cached trunk features, then (top-k, all)
// the unfrozen groups on the images.
func runTransfer(ctx context.Context, m *models.Model, train, test nn.Dataset, o Options, res *Result) error {
	trunk, head, err := Cut(m, "")
	if err != nil {
		return err
	}
	if err := Freeze(m, o.Freeze); err != nil {
		return err
	}
	if err := Unfreeze(head); err != nil {
		return err
	}
	ftrain, ftest, err := cachedFeatures(ctx, o.Cache, trunk, m.InputShape, train, test, "head", res)
	if err != nil {
		return err
	}
	for _, name := range m.Head {
		res.Trained = append(res.Trained, prefixed(m, name)...)
	}
	hg := nn.NewGroup(nn.Parameters(head), o.HeadLR, o.WeightDecay)
	if err := phase(ctx, head, ftrain.Shape, ftrain, []*nn.Group{hg}, o.HeadEpochs, o, res); err != nil {
		return err
	}
	res.HeadEpochs = len(res.Epochs)
	if o.Strategy == StrategyFeatures {
		return evaluate(ctx, head, ftest, res)
	}
	k := len(m.Groups)
	if o.Strategy == StrategyTopK {
		k = min(max(o.TopK, 1), len(m.Groups))
	}
	if err := FreezeTo(m, len(m.Groups)-k, o.Freeze); err != nil {
		return err
	}
	groups := make([]*nn.Group, 0, len(m.Groups))
	for i := range m.Groups {
		// the unfrozen groups, and in frozen ones what freezing left
		// trainable (BatchNorm's affine parameters with TrainBNAffine)
		var params []nn.Named[*nn.Param]
		for _, name := range m.Groups[i] {
			l, err := nn.Find(m, name)
			if err != nil {
				return err
			}
			for _, p := range nn.Parameters(l) {
				if p.Value.Trainable {
					params = append(params, nn.Named[*nn.Param]{Name: name + "." + p.Name, Value: p.Value})
					res.Trained = append(res.Trained, name+"."+p.Name)
				}
			}
			for _, b := range nn.Buffers(l) {
				// buffers change where BatchNorms run on batch statistics:
				// unfrozen groups, and frozen ones under BNUpdateStats
				if i >= len(m.Groups)-k || o.Freeze.BN == BNUpdateStats {
					res.Trained = append(res.Trained, name+"."+b.Name)
				}
			}
		}
		if len(params) > 0 {
			groups = append(groups, nn.NewGroup(params, groupLR(o.LRLo, o.LR, i, len(m.Groups)), o.WeightDecay))
		}
	}
	if k < len(m.Groups) && o.Freeze.BN == BNFreezeStats && !o.Freeze.TrainBNAffine {
		// Everything below the lowest trainable group is frozen and
		// normalises with running statistics: its output is a pure function
		// of the input, so the top groups train on cached features of it.
		low := m.Groups[len(m.Groups)-k][0]
		trunk2, head2, err := Cut(m, low)
		if err != nil {
			return err
		}
		f2, f2test, err := cachedFeatures(ctx, o.Cache, trunk2, m.InputShape, train, test, low, res)
		if err != nil {
			return err
		}
		if err := phase(ctx, head2, f2.Shape, f2, groups, o.Epochs, o, res); err != nil {
			return err
		}
		return evaluate(ctx, head2, f2test, res)
	}
	if o.Augment != nil {
		train = o.Augment(train)
	}
	if err := phase(ctx, m, m.InputShape, train, groups, o.Epochs, o, res); err != nil {
		return err
	}
	return evaluate(ctx, m, test, res)
}

// cachedFeatures returns the trunk's features of the training and test
// sets (test nil when there is none) from the cache, and adds the trunk's
// one forward pass over the training set to the run's cost.
func cachedFeatures(ctx context.Context, c *Cache, trunk nn.Layer, inShape []int, train, test nn.Dataset, cut string, res *Result) (*Features, nn.Dataset, error) {
	ftrain, _, err := c.Extract(ctx, trunk, train, cut, 256)
	if err != nil {
		return nil, nil, err
	}
	var ftest nn.Dataset
	if test != nil && test.Len() > 0 {
		f, _, err := c.Extract(ctx, trunk, test, cut, 256)
		if err != nil {
			return nil, nil, err
		}
		ftest = f
	}
	p, err := PlanBackprop(trunk, append([]int{1}, inShape...))
	if err != nil {
		return nil, nil, err
	}
	res.Cost.FwdFLOPs += p.FwdFLOPs * float64(train.Len())
	res.Cost.Images += train.Len()
	return ftrain, ftest, nil
}

// groupLR spaces rates geometrically from lo (group 0) to hi (the last).
func groupLR(lo, hi float64, i, n int) float64 {
	if n <= 1 {
		return hi
	}
	return lo * math.Pow(hi/lo, float64(i)/float64(n-1))
}

// prefixed returns the state names under the layer at name.
func prefixed(m *models.Model, name string) []string {
	l, err := nn.Find(m, name)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range stateNames(l) {
		out = append(out, name+"."+s)
	}
	return out
}
