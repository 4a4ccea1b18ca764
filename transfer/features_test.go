package transfer_test

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// checkCut checks that a cut splits the model's parameters between trunk
// and head, sharing them, and that trunk then head computes the model.
func checkCut(t *testing.T, m *models.Model, at string, x *tensor.Tensor) (trunk, head *nn.Sequential) {
	t.Helper()
	trunk, head, err := transfer.Cut(m, at)
	if err != nil {
		t.Fatalf("Cut(%s, %q): %v", m.Arch, at, err)
	}
	params := map[string]*nn.Param{}
	for _, p := range nn.Parameters(m) {
		params[p.Name] = p.Value
	}
	seen := map[string]bool{}
	for _, half := range []*nn.Sequential{trunk, head} {
		for _, p := range nn.Parameters(half) {
			if seen[p.Name] {
				t.Errorf("Cut(%q): %s in both halves", at, p.Name)
			}
			seen[p.Name] = true
			if params[p.Name] != p.Value {
				t.Errorf("Cut(%q): %s is not the model's parameter", at, p.Name)
			}
		}
	}
	if len(seen) != len(params) {
		t.Errorf("Cut(%q): halves hold %d parameters, the model %d", at, len(seen), len(params))
	}
	want := m.Infer(x)
	got := head.Infer(trunk.Infer(x))
	if !slices.Equal(got.Shape(), want.Shape()) || !tensorcheck.BitsEqual(got.Data(), want.Data()) {
		t.Errorf("Cut(%q): head(trunk(x)) %v differs from the model's %v by %g", at, got.Shape(), want.Shape(), tensorcheck.MaxAbsDiff(got.Data(), want.Data()))
	}
	return trunk, head
}

func TestCutBelowHead(t *testing.T) {
	m := loadBase(t)
	x := first(digits(t), 8)
	trunk, head := checkCut(t, m, "", tensor.FromSlice(x.X, 8, 28, 28, 1))
	var names []string
	for _, c := range head.Children() {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, m.Head) {
		t.Errorf("head = %v, want %v", names, m.Head)
	}
	names = names[:0]
	for _, c := range trunk.Children() {
		names = append(names, c.Name)
	}
	if want := m.Trunk(); !slices.Equal(names, want) {
		t.Errorf("trunk = %v, want %v", names, want)
	}
	if y := trunk.Infer(tensor.Zeros(2, 28, 28, 1)); !slices.Equal(y.Shape(), []int{2, 128}) {
		t.Errorf("trunk output %v, want [2 128]", y.Shape())
	}
}

func TestCutNested(t *testing.T) {
	r := smallResNet(1)
	nn.SetTraining(r, true)
	r.Forward(modelcheck.Randn(9, 4, 32, 32, 3)) // running statistics other than 0 and 1
	xr := modelcheck.Randn(1, 2, 32, 32, 3)
	for _, at := range []string{"", "layer3", "layer3.1", "layer3.0", "layer1", "conv1", "fc"} {
		checkCut(t, r, at, xr)
	}
	// layer3.1: the trunk holds layer3's first block, the head its second.
	trunk, head := checkCut(t, r, "layer3.1", xr)
	if _, err := nn.Find(trunk, "layer3.0.conv1"); err != nil {
		t.Errorf("trunk of layer3.1: %v", err)
	}
	if _, err := nn.Find(trunk, "layer3.1"); err == nil {
		t.Error("trunk of layer3.1 holds layer3.1")
	}
	if _, err := nn.Find(head, "layer3.1.conv2"); err != nil {
		t.Errorf("head of layer3.1: %v", err)
	}

	mb := models.MobileNetV2(models.Options{Width: 0.25, Size: 32, Classes: 10, Seed: 1})
	xm := modelcheck.Randn(2, 2, 32, 32, 3)
	for _, at := range []string{"", "features.14", "features.14.conv", "features.3", "classifier.1"} {
		checkCut(t, mb, at, xm)
	}
	trunk, _ = checkCut(t, mb, "", xm)
	if y := trunk.Infer(xm); y.Rank() != 2 || y.Dim(0) != 2 {
		t.Errorf("MobileNetV2 trunk output %v, want [2 C]", y.Shape())
	}
}

func TestCutUnknown(t *testing.T) {
	r := smallResNet(1)
	for _, at := range []string{"nope", "layer3.7", "layer9.0", "layer3.1.conv1", "fc.weight", "layer3.", "."} {
		if trunk, head, err := transfer.Cut(r, at); err == nil {
			t.Errorf("Cut(resnet, %q): no error (trunk %d, head %d layers)", at, trunk.Len(), head.Len())
		}
	}
	mb := models.MobileNetV2(models.Options{Width: 0.25, Size: 32, Seed: 1})
	for _, at := range []string{"features.19", "features.14.body", "classifier.2"} {
		if _, _, err := transfer.Cut(mb, at); err == nil {
			t.Errorf("Cut(mobilenetv2, %q): no error", at)
		}
	}
	// A model without a head has nothing to cut below.
	headless := &models.Model{Sequential: nn.NewSequential(nn.NewDense(2, 2, true, 1)), Arch: "headless", InputShape: []int{2}}
	if _, _, err := transfer.Cut(headless, ""); err == nil {
		t.Error("Cut of a model without a head: no error")
	}
}

func TestExtract(t *testing.T) {
	m := loadBase(t)
	trunk, _, err := transfer.Cut(m, "")
	if err != nil {
		t.Fatal(err)
	}
	d := first(digits(t), 20)
	f, err := transfer.Extract(context.Background(), trunk, d, 7) // 7, 7 and a ragged 6
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 20 || !slices.Equal(f.ExampleShape(), []int{128}) || f.NumClasses() != 10 || len(f.X) != 20*128 {
		t.Fatalf("features: %d of %v, %d classes, %d values", f.Len(), f.ExampleShape(), f.NumClasses(), len(f.X))
	}
	if !slices.Equal(f.Labels, d.Labels) {
		t.Errorf("labels %v, want %v", f.Labels, d.Labels)
	}
	want := trunk.Infer(tensor.FromSlice(slices.Clone(d.X), 20, 28, 28, 1)).Data()
	if diff := tensorcheck.MaxAbsDiff(f.X, want); diff > 1e-5*tensorcheck.MaxAbs(want) {
		t.Errorf("features differ from trunk.Infer by %g", diff)
	}

	// Load, the nn.Dataset side.
	x := make([]float32, 2*128)
	labels := make([]int, 2)
	if err := f.Load(x, labels, []int{19, 3}); err != nil {
		t.Fatal(err)
	}
	if !tensorcheck.BitsEqual(x[:128], f.X[19*128:20*128]) || !tensorcheck.BitsEqual(x[128:], f.X[3*128:4*128]) || labels[0] != d.Labels[19] || labels[1] != d.Labels[3] {
		t.Error("Load(19, 3) copied the wrong examples")
	}
	if err := f.Load(x[:128], nil, []int{5}); err != nil {
		t.Errorf("Load without labels: %v", err)
	}
	for _, c := range []struct {
		x   []float32
		l   []int
		idx []int
	}{
		{x, labels, []int{20, 0}},
		{x, labels, []int{-1, 0}},
		{x[:100], labels, []int{0, 1}},
		{x, labels[:1], []int{0, 1}},
	} {
		if err := f.Load(c.x, c.l, c.idx); err == nil {
			t.Errorf("Load(%d floats, %d labels, %v): no error", len(c.x), len(c.l), c.idx)
		}
	}

	// A cancelled context stops it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := transfer.Extract(ctx, trunk, d, 7); !errors.Is(err, context.Canceled) {
		t.Errorf("Extract with a cancelled context: %v", err)
	}
	// Data the trunk cannot take is an error, not a panic.
	if _, err := transfer.Extract(context.Background(), trunk, randomSet(1, 4, 2, 32, 32, 3), 4); err == nil {
		t.Error("Extract of 32×32×3 data through an MNIST trunk: no error")
	}
}

// Extract runs in inference mode: a BatchNorm trunk left in training mode
// normalises with its running statistics and does not update them.
func TestExtractInferenceMode(t *testing.T) {
	m := smallResNet(1)
	nn.SetTraining(m, true)
	m.Forward(modelcheck.Randn(3, 4, 32, 32, 3))
	trunk, _, err := transfer.Cut(m, "")
	if err != nil {
		t.Fatal(err)
	}
	d := randomSet(5, 6, 3, 32, 32, 3)
	before := modelcheck.State(m)
	f, err := transfer.Extract(context.Background(), trunk, d, 4)
	if err != nil {
		t.Fatal(err)
	}
	tensorcheck.SameState(t, "after Extract", modelcheck.State(m), before)
	want := trunk.Infer(tensor.FromSlice(slices.Clone(d.X), 6, 32, 32, 3)).Data()
	if diff := tensorcheck.MaxAbsDiff(f.X, want); diff > 1e-5*tensorcheck.MaxAbs(want) {
		t.Errorf("features differ from trunk.Infer by %g", diff)
	}
}

// The check 3: a head trained on cached features equals the same
// head trained on the images through the frozen trunk (same seed, batch
// size, optimizer, rate and epochs).
func TestHeadOnFeaturesEqualsOnTheFly(t *testing.T) {
	ctx := context.Background()
	m := loadBase(t)
	// The digits have MNIST's 10 classes, so ReplaceHead would keep the
	// head: ResetHead gives a fresh one.
	if err := transfer.ResetHead(m, 7); err != nil {
		t.Fatal(err)
	}
	c, err := transfer.Copy(m)
	if err != nil {
		t.Fatal(err)
	}
	shot, _ := digitsShot(t, 10, 3)
	const (
		seed   = 11
		epochs = 3
		batch  = 16
		lr, wd = 0.05, 1e-4
	)
	head0 := modelcheck.State(m)

	// Cached: the trunk runs once, the head trains on its features.
	trunk, head, err := transfer.Cut(m, "")
	if err != nil {
		t.Fatal(err)
	}
	feats, err := transfer.Extract(ctx, trunk, shot, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nn.Fit(ctx, head, feats, nil, nn.FitOptions{
		Epochs: epochs, BatchSize: batch, Seed: seed,
		Optimizer: nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(head), lr, wd)),
	}); err != nil {
		t.Fatal(err)
	}

	// On the fly: the whole frozen model but its head trains on images;
	// the optimizer holds every parameter and must skip the frozen ones.
	if err := transfer.Freeze(c, transfer.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := transfer.Unfreeze(c, c.Head...); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.Fit(ctx, c, shot, nil, nn.FitOptions{
		Epochs: epochs, BatchSize: batch, Seed: seed,
		Optimizer: nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(c), lr, wd)),
	}); err != nil {
		t.Fatal(err)
	}

	cached, fly := modelcheck.State(m), modelcheck.State(c)
	for _, name := range slices.Sorted(maps.Keys(cached)) {
		isHead := under(name, m.Head...)
		if !isHead {
			if !tensorcheck.BitsEqual(fly[name], head0[name]) || !tensorcheck.BitsEqual(cached[name], head0[name]) {
				t.Errorf("trunk tensor %s changed", name)
			}
			continue
		}
		if tensorcheck.BitsEqual(cached[name], head0[name]) {
			t.Errorf("%s did not train", name)
		}
		if d := tensorcheck.MaxAbsDiff(cached[name], fly[name]); d > 1e-5 {
			t.Errorf("%s: cached-features head and on-the-fly head differ by %g", name, d)
		}
	}
}

// TestExtractErrors: a failure on the GPU is an error that errors.As finds
// a *tensor.DeviceError in, through Extract and the cache; a bug panics
// on, with its stack.
func TestExtractErrors(t *testing.T) {
	d := randomSet(1, 5, 2, 4, 4, 1)
	trunk := nn.NewSequential(nn.NewFlatten(), &modelcheck.Failing{Device: true})
	_, err := transfer.Extract(context.Background(), trunk, d, 2)
	var de *tensor.DeviceError
	if !errors.As(err, &de) || !errors.Is(err, modelcheck.ErrOOM) {
		t.Errorf("Extract: a device failure came out as %v", err)
	}
	if _, _, err := (&transfer.Cache{}).Extract(context.Background(), trunk, d, "x", 2); !errors.As(err, &de) {
		t.Errorf("Cache.Extract: a device failure came out as %v", err)
	}
	defer func() {
		if _, ok := recover().(runtime.Error); !ok {
			t.Error("a bug did not panic on as a runtime error")
		}
		if s := string(debug.Stack()); !strings.Contains(s, "modelcheck.InferBug") {
			t.Errorf("a bug's stack lost where it happened:\n%s", s)
		}
	}()
	_, err = transfer.Extract(context.Background(), nn.NewSequential(&modelcheck.Failing{}), d, 2)
	t.Errorf("Extract: a bug returned %v", err)
}
