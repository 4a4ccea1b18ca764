package transfer_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/transfer"
)

// digitsRuns is one seeded run of every strategy on digits at 10 per class
// (a 500-digit test set), shared by the tests that read it.
type digitsRuns struct {
	base           *models.Model
	before, after  map[string][]float32 // the base's state around the runs
	train, test    *data.Set
	results        map[transfer.Strategy]*transfer.Result
	progress       map[transfer.Strategy]int
	headEp, epochs int
	err            error
}

var (
	runsOnce sync.Once
	runs     digitsRuns
)

func runDigits(t *testing.T) *digitsRuns {
	t.Helper()
	runsOnce.Do(func() {
		r := &runs
		r.base, r.err = func() (*models.Model, error) {
			m, _, err := transfer.FromCheckpoint(baseCheckpoint)
			return m, err
		}()
		if r.err != nil {
			return
		}
		var rest *data.Set
		r.train, rest, r.err = digits(t).FewShotSplit(10, 1)
		if r.err != nil {
			return
		}
		r.test = first(rest, 500)
		r.headEp, r.epochs = 5, 2
		r.before = modelcheck.State(r.base)
		r.results = map[transfer.Strategy]*transfer.Result{}
		r.progress = map[transfer.Strategy]int{}
		cache := &transfer.Cache{}
		for _, s := range transfer.Strategies {
			res, err := transfer.Run(context.Background(), r.base, r.train, r.test, transfer.Options{
				Strategy: s, HeadEpochs: r.headEp, Epochs: r.epochs, Seed: 1, Cache: cache,
				Progress: func(nn.StepInfo) { r.progress[s]++ },
			})
			if err != nil {
				r.err = errors.Join(r.err, err)
				return
			}
			r.results[s] = res
		}
		r.after = modelcheck.State(r.base)
	})
	if runs.err != nil {
		t.Fatalf("runs on digits: %v", runs.err)
	}
	return &runs
}

// The check 7: every strategy on digits at 10 per class.
func TestRunDigits(t *testing.T) {
	r := runDigits(t)
	tensorcheck.SameState(t, "the base after every strategy", r.after, r.before)
	for _, s := range transfer.Strategies {
		res := r.results[s]
		t.Logf("%-8s accuracy %.3f, loss %.3f, %.2f GFLOP, %d images, %.2f s", s, res.Accuracy, res.Loss, res.Cost.FLOPs()/1e9, res.Cost.Images, res.Cost.Seconds)
		if res.Strategy != s {
			t.Errorf("%s: result says %s", s, res.Strategy)
		}
		if !(res.Accuracy > 0.5) || res.Accuracy > 1 {
			t.Errorf("%s: accuracy %.3f", s, res.Accuracy)
		}
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || res.Loss <= 0 {
			t.Errorf("%s: loss %v", s, res.Loss)
		}
		if c := res.Cost; !(c.FwdFLOPs > 0 && c.BwdFLOPs > 0 && c.Seconds > 0 && c.Images > 0) {
			t.Errorf("%s: cost %+v, want every field positive", s, c)
		}
		if res.Cost.FLOPs() != res.Cost.FwdFLOPs+res.Cost.BwdFLOPs {
			t.Errorf("%s: FLOPs() = %g", s, res.Cost.FLOPs())
		}
		if len(res.Notices) != 0 {
			t.Errorf("%s: notices %q for a 10-class target", s, res.Notices)
		}
		if res.Model == nil || res.Model == r.base {
			t.Fatalf("%s: model %p (base %p)", s, res.Model, r.base)
		}
		// Epochs: the head's, then the groups'; scratch gets as many.
		wantEpochs := r.headEp + r.epochs
		if s == transfer.StrategyFeatures {
			wantEpochs = r.headEp
		}
		images := 0
		for _, e := range res.Epochs {
			images += e.Images
		}
		if len(res.Epochs) != wantEpochs || images != wantEpochs*r.train.Len() {
			t.Errorf("%s: %d epochs of %d images, want %d of %d", s, len(res.Epochs), images, wantEpochs, r.train.Len())
		}
		// Besides the epochs, a transfer run passes the training set
		// through the frozen layers once per cut it caches features at.
		extra := res.Cost.Images - images
		if s == transfer.StrategyScratch && extra != 0 || s != transfer.StrategyScratch && (extra < r.train.Len() || extra%r.train.Len() != 0) {
			t.Errorf("%s: Cost.Images %d for %d images of epochs", s, res.Cost.Images, images)
		}
		steps := wantEpochs * ((r.train.Len() + 31) / 32)
		if r.progress[s] != steps {
			t.Errorf("%s: Progress called %d times, want %d", s, r.progress[s], steps)
		}
		// The returned model is the trained one.
		_, acc, err := nn.Evaluate(context.Background(), res.Model, r.test, 256, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(acc-res.Accuracy) > 0.01 {
			t.Errorf("%s: the returned model scores %.3f, the result says %.3f", s, acc, res.Accuracy)
		}
	}
	// The scratch baseline is one number for the data and the options,
	// whatever the strategy (features' once counted its head epochs only),
	// and it is what the scratch run spent on its epochs.
	want := r.results[transfer.StrategyScratch].Scratch
	for _, s := range transfer.Strategies {
		if got := r.results[s].Scratch; got != want {
			t.Errorf("%s: scratch baseline %+v, scratch's %+v", s, got, want)
		}
	}
	if sc := r.results[transfer.StrategyScratch].Cost; math.Abs(sc.FLOPs()-want.FLOPs()) > 1e-6*want.FLOPs() {
		t.Errorf("scratch spent %.4g FLOPs, its baseline says %.4g", sc.FLOPs(), want.FLOPs())
	}
	if acc := r.results[transfer.StrategyFeatures].Accuracy; acc < 0.85 {
		t.Errorf("features: accuracy %.3f, want ≥ 0.85", acc)
	}
	f, s := r.results[transfer.StrategyFeatures].Cost, r.results[transfer.StrategyScratch].Cost
	if !(5*f.FLOPs() < s.FLOPs()) {
		t.Errorf("features cost %.3g FLOPs, scratch %.3g: want far below", f.FLOPs(), s.FLOPs())
	}
	if !(f.BwdFLOPs < s.BwdFLOPs/100) {
		t.Errorf("features' backward %.3g FLOPs, scratch's %.3g", f.BwdFLOPs, s.BwdFLOPs)
	}
	all, topk := r.results[transfer.StrategyAll].Cost, r.results[transfer.StrategyTopK].Cost
	if !(topk.BwdFLOPs < all.BwdFLOPs) {
		t.Errorf("top-k backward %.3g FLOPs, not below all's %.3g", topk.BwdFLOPs, all.BwdFLOPs)
	}
}

// checkTrained checks that Result.Trained names what a delta checkpoint
// must hold: every tensor the run changed, all of them the model's.
func checkTrained(t *testing.T, what string, res *transfer.Result, before map[string][]float32) {
	t.Helper()
	after := modelcheck.State(res.Model)
	seen := map[string]bool{}
	for _, name := range res.Trained {
		seen[name] = true
		if _, ok := after[name]; !ok {
			t.Errorf("%s: Trained lists %s, which the model does not have", what, name)
		}
	}
	for _, name := range tensorcheck.ChangedNames(before, after) {
		if !seen[name] {
			t.Errorf("%s: %s changed but is not in Trained", what, name)
		}
	}
}

func TestRunTrained(t *testing.T) {
	r := runDigits(t)
	for _, s := range transfer.Strategies {
		res := r.results[s]
		checkTrained(t, string(s), res, r.before)
		// each once: it is a list of tensors to save
		seen := map[string]bool{}
		for _, name := range res.Trained {
			if seen[name] {
				t.Errorf("%s: Trained lists %s twice", s, name)
			}
			seen[name] = true
		}
		switch s {
		case transfer.StrategyFeatures:
			if !slices.Equal(slices.Sorted(slices.Values(res.Trained)), []string{"fc2.bias", "fc2.weight"}) {
				t.Errorf("features: Trained = %v, want the head fc2", res.Trained)
			}
		case transfer.StrategyScratch:
			if len(res.Trained) != len(r.before) {
				t.Errorf("scratch: Trained lists %d of %d tensors", len(res.Trained), len(r.before))
			}
		}
	}
}

// smallResNetTask returns a ResNet whose BatchNorm statistics are not the
// defaults, and a 4-class 32×32×3 task for it.
func smallResNetTask() (*models.Model, *data.Set) {
	return warmResNet(1), randomSet(3, 24, 4, 32, 32, 3)
}

func runResNet(t *testing.T, o transfer.Options) (*models.Model, *transfer.Result) {
	t.Helper()
	base, d := smallResNetTask()
	before := modelcheck.State(base)
	o.HeadEpochs, o.Epochs, o.BatchSize, o.Seed = 1, 1, 8, 2
	res, err := transfer.Run(context.Background(), base, d, d, o)
	if err != nil {
		t.Fatal(err)
	}
	tensorcheck.SameState(t, "the base after Run", modelcheck.State(base), before)
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0], "fc") {
		t.Errorf("10-class head on a 4-class task: notices %q", res.Notices)
	}
	return base, res
}

// With BNUpdateStats the frozen groups' BatchNorms update their running
// statistics while the top groups train, so a delta checkpoint of
// Result.Trained must hold them.
func TestRunTrainedBNUpdateStats(t *testing.T) {
	base, res := runResNet(t, transfer.Options{Strategy: transfer.StrategyTopK, Freeze: transfer.FreezeOptions{BN: transfer.BNUpdateStats}})
	before := modelcheck.State(base)
	changed := tensorcheck.ChangedNames(before, modelcheck.State(res.Model))
	if !slices.Contains(changed, "layer1.0.bn1.running_mean") {
		t.Fatalf("BNUpdateStats: layer1's statistics did not change (changed: %v)", changed)
	}
	checkTrained(t, "top-k, BNUpdateStats", res, before)
}

// TrainBNAffine keeps the frozen BatchNorms' weight and bias trainable:
// under top-k they must train (fastai's train_bn), and nothing else of the
// frozen groups.
func TestRunTrainBNAffine(t *testing.T) {
	base, res := runResNet(t, transfer.Options{Strategy: transfer.StrategyTopK, Freeze: transfer.FreezeOptions{TrainBNAffine: true}})
	before := modelcheck.State(base)
	after := modelcheck.State(res.Model)
	frozen := groupsBelow(base, len(base.Groups)-2)
	bns := batchNorms(base)
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if !under(name, frozen...) {
			continue
		}
		same := tensorcheck.BitsEqual(before[name], after[name])
		if isBNParam(name, bns) && same {
			t.Errorf("TrainBNAffine: frozen group's %s did not train", name)
		}
		if !isBNParam(name, bns) && !same {
			t.Errorf("TrainBNAffine: frozen %s changed", name)
		}
	}
	checkTrained(t, "top-k, TrainBNAffine", res, before)
}

// The default BNFreezeStats: top-k on a BatchNorm network changes the top
// groups only (the frozen groups' statistics included), and all changes
// every group.
func TestRunResNetStrategies(t *testing.T) {
	base, res := runResNet(t, transfer.Options{Strategy: transfer.StrategyTopK})
	before := modelcheck.State(base)
	frozen := groupsBelow(base, len(base.Groups)-2)
	changed := tensorcheck.ChangedNames(before, modelcheck.State(res.Model))
	for _, name := range changed {
		if under(name, frozen...) {
			t.Errorf("top-k: frozen %s changed", name)
		}
	}
	if !slices.Contains(changed, "layer4.1.bn2.running_var") || !slices.Contains(changed, "layer4.0.conv1.weight") {
		t.Errorf("top-k: layer4 did not train (changed %v)", changed)
	}
	checkTrained(t, "top-k", res, before)

	_, res = runResNet(t, transfer.Options{Strategy: transfer.StrategyAll, Freeze: transfer.FreezeOptions{}})
	changed = tensorcheck.ChangedNames(before, modelcheck.State(res.Model))
	for _, name := range []string{"conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.weight", "fc.weight"} {
		if !slices.Contains(changed, name) {
			t.Errorf("all: %s did not train", name)
		}
	}
	if y := res.Model.Infer(modelcheck.Randn(1, 2, 32, 32, 3)); y.Dim(1) != 4 {
		t.Errorf("all: output %v, want 4 classes", y.Shape())
	}
}

func TestRunNewClasses(t *testing.T) {
	shot, _ := digitsShot(t, 10, 2)
	var idx []int
	for i, l := range shot.Labels {
		if l < 5 {
			idx = append(idx, i)
		}
	}
	five := shot.Subset(idx)
	five.Classes = five.Classes[:5]
	res, err := transfer.Run(context.Background(), loadBase(t), five, nil, transfer.Options{HeadEpochs: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != transfer.StrategyFeatures {
		t.Errorf("default strategy %s, want features", res.Strategy)
	}
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0], "fc2") {
		t.Errorf("notices %q, want one naming the dropped fc2", res.Notices)
	}
	if y := res.Model.Infer(modelcheck.Randn(1, 2, 28, 28, 1)); y.Dim(1) != 5 {
		t.Errorf("output %v, want 5 classes", y.Shape())
	}
	if !math.IsNaN(res.Accuracy) || !math.IsNaN(res.Loss) {
		t.Errorf("no test data: accuracy %v, loss %v; want NaN", res.Accuracy, res.Loss)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	base := loadBase(t)
	shot, _ := digitsShot(t, 2, 1)
	for _, c := range []struct {
		name string
		d    *data.Set
		o    transfer.Options
	}{
		{"32×32×3 data for a 28×28×1 model", randomSet(1, 8, 2, 32, 32, 3), transfer.Options{}},
		{"28×28×3 data", randomSet(1, 8, 2, 28, 28, 3), transfer.Options{Strategy: transfer.StrategyScratch}},
		{"no examples", shot.Subset(nil), transfer.Options{}},
		{"an unknown strategy", shot, transfer.Options{Strategy: "magic"}},
	} {
		if _, err := transfer.Run(ctx, base, c.d, nil, c.o); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := transfer.Run(ctx, base, nil, nil, transfer.Options{}); err == nil {
		t.Error("nil training data: no error")
	}
	// A ResNet (32×32×3) base with MNIST-like digits.
	if _, err := transfer.Run(ctx, smallResNet(1), shot, nil, transfer.Options{}); err == nil {
		t.Error("digits through a ResNet: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := transfer.Run(cctx, base, shot, nil, transfer.Options{HeadEpochs: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range transfer.Strategies {
		got, err := transfer.ParseStrategy(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Features", "topk", "fine-tune"} {
		if _, err := transfer.ParseStrategy(bad); err == nil {
			t.Errorf("ParseStrategy(%q): no error", bad)
		}
	}
}

// Data a classifier cannot learn from is refused before any training:
// one class, or a class without an example.
func TestRunRefusesUnlearnableData(t *testing.T) {
	base := loadBase(t)
	one := randomSet(1, 8, 1, 28, 28, 1)
	empty := randomSet(2, 8, 3, 28, 28, 1)
	for i := range empty.Labels {
		empty.Labels[i] = i % 2 // class 2 gets none
	}
	for _, c := range []struct {
		name string
		d    *data.Set
		want string
	}{{"one class", one, "at least 2"}, {"an empty class", empty, "class 2 of 3 has no training example"}} {
		res, err := transfer.Run(context.Background(), base, c.d, nil, transfer.Options{Strategy: transfer.StrategyFeatures, HeadEpochs: 1})
		if err == nil || res != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run = %v, %v; want an error saying %q", c.name, res, err, c.want)
		}
		if _, err := transfer.Advise(context.Background(), base, c.d, transfer.AdviseOptions{}); err == nil {
			t.Errorf("%s: Advise accepted it", c.name)
		}
	}
	// one example per class: the advisor cannot measure anything
	two := randomSet(3, 2, 2, 28, 28, 1)
	two.Labels[0], two.Labels[1] = 0, 1
	if _, err := transfer.Advise(context.Background(), base, two, transfer.AdviseOptions{}); err == nil || !strings.Contains(err.Error(), "at least 2 per class") {
		t.Errorf("Advise on one example per class: %v", err)
	}
}

// NewHead re-initialises a head whose size fits (its classes are other
// classes) and says so; without it the head is kept.
func TestRunNewHead(t *testing.T) {
	base := loadBase(t)
	train, _ := digitsShot(t, 3, 1)
	for _, reset := range []bool{false, true} {
		res, err := transfer.Run(context.Background(), base, train, nil, transfer.Options{Strategy: transfer.StrategyFeatures, HeadEpochs: -1, NewHead: reset})
		if err != nil {
			t.Fatal(err)
		}
		bw, rw := modelcheck.State(base)["fc2.weight"], modelcheck.State(res.Model)["fc2.weight"]
		if reset == tensorcheck.BitsEqual(bw, rw) {
			t.Errorf("NewHead %v: head weights kept %v", reset, tensorcheck.BitsEqual(bw, rw))
		}
		said := strings.Contains(strings.Join(res.Notices, "\n"), "re-initialised head fc2")
		if said != reset {
			t.Errorf("NewHead %v: notices %q", reset, res.Notices)
		}
	}
	if !transfer.SameClasses([]string{"0", "1"}, []string{"0", "1"}) || transfer.SameClasses([]string{"0", "1"}, []string{"cat", "dog"}) || !transfer.SameClasses(nil, []string{"a"}) {
		t.Error("SameClasses")
	}
}

// A report names its run and its rates: the advisor's pick and an
// explicit strategy of the same name read differently.
func TestReportNamesRates(t *testing.T) {
	res := &transfer.Result{Strategy: transfer.StrategyAll, HeadLR: 0.01, LR: 3e-3, LRLo: 3e-4, Accuracy: 0.5}
	r := transfer.Compare(res, nil)
	if s := r.String(); !strings.HasPrefix(s, "all (head LR 0.01, then LR 0.003 (top) .. 0.0003 (bottom)): accuracy 0.5000") {
		t.Errorf("report %q", s)
	}
	r.Name = "auto → all"
	if s := r.String(); !strings.HasPrefix(s, "auto → all (head LR 0.01") {
		t.Errorf("named report %q", s)
	}
}
