package transfer_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// sgdSteps trains m for a few SGD steps (momentum and weight decay, over
// every parameter, frozen ones included: the optimizer must skip them) on
// random data in training mode.
func sgdSteps(t *testing.T, m *models.Model, steps int, seed uint64) {
	t.Helper()
	opt := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.05, 1e-3))
	nn.SetTraining(m, true)
	in := append([]int{8}, m.InputShape...)
	labels := make([]int, in[0])
	for s := 0; s < steps; s++ {
		x := modelcheck.Randn(seed+uint64(s), in...)
		for i := range labels {
			labels[i] = (i + s) % m.Options.Classes
		}
		out := m.Forward(x)
		grad := tensor.Zeros(out.Shape()...)
		nn.CrossEntropy{}.Loss(grad, out, labels, nil)
		m.Backward(grad, false)
		opt.Step()
	}
}

// checkChanges checks that after training exactly the tensors frozen says
// are frozen kept their values bit for bit and every other one changed.
func checkChanges(t *testing.T, what string, before, after map[string][]float32, frozen func(name string) bool) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(before)) {
		same := tensorcheck.BitsEqual(before[name], after[name])
		switch {
		case frozen(name) && !same:
			t.Errorf("%s: frozen %s changed", what, name)
		case !frozen(name) && same:
			t.Errorf("%s: trainable %s did not change", what, name)
		}
	}
}

func isBNParam(name string, bns map[string]*nn.BatchNorm) bool {
	for bn := range bns {
		if name == bn+".weight" || name == bn+".bias" {
			return true
		}
	}
	return false
}

func isBNBuffer(name string, bns map[string]*nn.BatchNorm) bool {
	for bn := range bns {
		if under(name, bn) && !isBNParam(name, bns) {
			return true
		}
	}
	return false
}

// The check 1: FreezeTo on a network with BatchNorm, a few
// optimizer steps in training mode, and the frozen part (parameters and
// BatchNorm statistics) is bit-identical while the rest trains; after
// Unfreeze everything trains. Switching the mode never undoes the freeze.
func TestFreezeToRoundTrip(t *testing.T) {
	m := smallResNet(1)
	const n = 3 // stem, layer1 and layer2 frozen
	if err := transfer.FreezeTo(m, n, transfer.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	frozen := groupsBelow(m, n)
	for name, tr := range trainableFlags(m) {
		if tr == under(name, frozen...) {
			t.Errorf("after FreezeTo(%d): %s trainable = %v", n, name, tr)
		}
	}
	for name, fs := range freezeStatsFlags(m) {
		if fs != under(name, frozen...) {
			t.Errorf("after FreezeTo(%d): %s FreezeStats = %v", n, name, fs)
		}
	}
	if got, want := transfer.TrainableGroups(m), []bool{false, false, false, true, true, true}; !slices.Equal(got, want) {
		t.Errorf("TrainableGroups = %v, want %v", got, want)
	}

	// Mode switches leave every freeze switch alone.
	flags, stats := trainableFlags(m), freezeStatsFlags(m)
	nn.SetTraining(m, false)
	nn.SetTraining(m, true)
	if !maps.Equal(flags, trainableFlags(m)) {
		t.Error("SetTraining(false) then (true) changed Trainable flags")
	}
	if !maps.Equal(stats, freezeStatsFlags(m)) {
		t.Error("SetTraining(false) then (true) changed BatchNorm FreezeStats")
	}

	before := modelcheck.State(m)
	sgdSteps(t, m, 3, 10)
	checkChanges(t, "frozen below group 3", before, modelcheck.State(m), func(name string) bool { return under(name, frozen...) })

	if err := transfer.Unfreeze(m); err != nil {
		t.Fatal(err)
	}
	if names := transfer.FrozenNames(m); len(names) != 0 {
		t.Errorf("after Unfreeze: FrozenNames = %v", names)
	}
	for name, fs := range freezeStatsFlags(m) {
		if fs {
			t.Errorf("after Unfreeze: %s still has FreezeStats", name)
		}
	}
	before = modelcheck.State(m)
	sgdSteps(t, m, 3, 20)
	checkChanges(t, "after Unfreeze", before, modelcheck.State(m), func(string) bool { return false })
}

// BNUpdateStats: a frozen BatchNorm keeps its weight and bias but its
// running statistics follow the batches (PyTorch's requires_grad=False).
func TestFreezeToBNUpdateStats(t *testing.T) {
	m := smallResNet(2)
	const n = 3
	if err := transfer.FreezeTo(m, n, transfer.FreezeOptions{BN: transfer.BNUpdateStats}); err != nil {
		t.Fatal(err)
	}
	for name, fs := range freezeStatsFlags(m) {
		if fs {
			t.Errorf("BNUpdateStats: %s has FreezeStats set", name)
		}
	}
	frozen := groupsBelow(m, n)
	bns := batchNorms(m)
	before := modelcheck.State(m)
	sgdSteps(t, m, 2, 30)
	checkChanges(t, "BNUpdateStats", before, modelcheck.State(m), func(name string) bool {
		return under(name, frozen...) && !isBNBuffer(name, bns)
	})
}

// TrainBNAffine: the weight and bias of the frozen groups' BatchNorms stay
// trainable and train; their statistics (BNFreezeStats) and the frozen
// convolutions do not change.
func TestFreezeToTrainBNAffine(t *testing.T) {
	m := smallResNet(3)
	const n = 3
	if err := transfer.FreezeTo(m, n, transfer.FreezeOptions{TrainBNAffine: true}); err != nil {
		t.Fatal(err)
	}
	frozen := groupsBelow(m, n)
	bns := batchNorms(m)
	for name, tr := range trainableFlags(m) {
		want := !under(name, frozen...) || isBNParam(name, bns)
		if tr != want {
			t.Errorf("TrainBNAffine: %s trainable = %v, want %v", name, tr, want)
		}
	}
	for name, fs := range freezeStatsFlags(m) {
		if fs != under(name, frozen...) {
			t.Errorf("TrainBNAffine: %s FreezeStats = %v", name, fs)
		}
	}
	before := modelcheck.State(m)
	sgdSteps(t, m, 2, 40)
	checkChanges(t, "TrainBNAffine", before, modelcheck.State(m), func(name string) bool {
		return under(name, frozen...) && !isBNParam(name, bns)
	})
}

func TestFreezeToRange(t *testing.T) {
	m := models.LeNet5(models.Options{Seed: 1})
	g := len(m.Groups)
	for _, c := range []struct {
		n    int
		want []bool
	}{
		{0, []bool{true, true, true, true}},
		{1, []bool{false, true, true, true}},
		{g - 1, []bool{false, false, false, true}},
		{-1, []bool{false, false, false, true}},
		{-g, []bool{true, true, true, true}},
		{g, []bool{false, false, false, false}},
		{2, []bool{false, false, true, true}},
	} {
		if err := transfer.FreezeTo(m, c.n, transfer.FreezeOptions{}); err != nil {
			t.Errorf("FreezeTo(%d): %v", c.n, err)
			continue
		}
		if got := transfer.TrainableGroups(m); !slices.Equal(got, c.want) {
			t.Errorf("FreezeTo(%d): TrainableGroups = %v, want %v", c.n, got, c.want)
		}
	}
	flags := trainableFlags(m)
	for _, n := range []int{g + 1, -g - 1, 100} {
		if err := transfer.FreezeTo(m, n, transfer.FreezeOptions{}); err == nil {
			t.Errorf("FreezeTo(%d) of %d groups: no error", n, g)
		}
	}
	if !maps.Equal(flags, trainableFlags(m)) {
		t.Error("a failed FreezeTo changed Trainable flags")
	}
}

func TestFreezeByNames(t *testing.T) {
	m := smallResNet(4)
	all := slices.Sorted(maps.Keys(trainableFlags(m)))
	if err := transfer.Freeze(m, transfer.FreezeOptions{}, "layer1", "layer3.1"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range all {
		if under(name, "layer1", "layer3.1") {
			want = append(want, name)
		}
	}
	got := transfer.FrozenNames(m)
	if !slices.Equal(got, want) {
		t.Errorf("FrozenNames = %v, want %v", got, want)
	}
	for name, fs := range freezeStatsFlags(m) {
		if fs != under(name, "layer1", "layer3.1") {
			t.Errorf("%s FreezeStats = %v", name, fs)
		}
	}
	if got, want := transfer.TrainableGroups(m), []bool{true, false, true, true, true, true}; !slices.Equal(got, want) {
		t.Errorf("TrainableGroups = %v, want %v", got, want)
	}

	if err := transfer.Unfreeze(m, "layer3.1"); err != nil {
		t.Fatal(err)
	}
	want = want[:0]
	for _, name := range all {
		if under(name, "layer1") {
			want = append(want, name)
		}
	}
	if got := transfer.FrozenNames(m); !slices.Equal(got, want) {
		t.Errorf("after Unfreeze(layer3.1): FrozenNames = %v, want %v", got, want)
	}
	if bn := batchNorms(m)["layer3.1.bn1"]; bn.FreezeStats {
		t.Error("Unfreeze(layer3.1) left layer3.1.bn1's statistics frozen")
	}

	// No names: the whole model.
	if err := transfer.Freeze(m, transfer.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := transfer.FrozenNames(m); !slices.Equal(got, all) {
		t.Errorf("Freeze(all): FrozenNames = %v, want all %d", got, len(all))
	}
	if !slices.IsSorted(transfer.FrozenNames(m)) {
		t.Error("FrozenNames not sorted")
	}
	if err := transfer.Unfreeze(m); err != nil {
		t.Fatal(err)
	}
	if got := transfer.FrozenNames(m); len(got) != 0 {
		t.Errorf("Unfreeze(all): FrozenNames = %v", got)
	}

	for _, bad := range []string{"nope", "layer3.7", "layer1.0.conv9"} {
		if err := transfer.Freeze(m, transfer.FreezeOptions{}, bad); err == nil {
			t.Errorf("Freeze(%q): no error", bad)
		}
		if err := transfer.Unfreeze(m, bad); err == nil {
			t.Errorf("Unfreeze(%q): no error", bad)
		}
	}
}

// A mistyped name among several must not leave the model half frozen: the
// call fails, so nothing should change (as nn.Load leaves a model unchanged
// on error).
func TestFreezeUnknownNameChangesNothing(t *testing.T) {
	m := smallResNet(5)
	flags, stats := trainableFlags(m), freezeStatsFlags(m)
	if err := transfer.Freeze(m, transfer.FreezeOptions{}, "layer1", "layer9"); err == nil {
		t.Fatal("Freeze(layer1, layer9): no error")
	}
	if !maps.Equal(flags, trainableFlags(m)) || !maps.Equal(stats, freezeStatsFlags(m)) {
		t.Errorf("a failed Freeze(layer1, layer9) froze %v", transfer.FrozenNames(m))
	}
}

func TestFreezeMatching(t *testing.T) {
	m := smallResNet(6)
	all := slices.Sorted(maps.Keys(trainableFlags(m)))
	count := func(pred func(string) bool) (n int) {
		for _, name := range all {
			if pred(name) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		pattern string
		match   func(string) bool
		n       int // when known by hand
	}{
		{"layer1.*", func(s string) bool { return under(s, "layer1") }, 0},
		// 8 blocks × bn1 and bn2; the stem's bn1.weight has no dot before it
		{"*.bn?.weight", nil, 16},
		// no wildcard: the name and everything below it
		{"layer2.0", func(s string) bool { return under(s, "layer2.0") }, 9},
		{"fc.weight", func(s string) bool { return s == "fc.weight" }, 1},
		{"bn1", func(s string) bool { return s == "bn1.weight" || s == "bn1.bias" }, 2},
	}
	for _, c := range cases {
		nn.SetTrainable(m, true)
		stats := freezeStatsFlags(m)
		got, err := transfer.FreezeMatching(m, c.pattern, false)
		if err != nil {
			t.Errorf("FreezeMatching(%q): %v", c.pattern, err)
			continue
		}
		want := c.n
		if c.match != nil {
			want = count(c.match)
			if c.n != 0 && c.n != want {
				t.Fatalf("test bug: %q: %d by hand, %d counted", c.pattern, c.n, want)
			}
		}
		if got != want {
			t.Errorf("FreezeMatching(%q) = %d, want %d", c.pattern, got, want)
		}
		if f := len(transfer.FrozenNames(m)); f != want {
			t.Errorf("FreezeMatching(%q): %d frozen, want %d", c.pattern, f, want)
		}
		if c.match != nil {
			for name, tr := range trainableFlags(m) {
				if tr == c.match(name) {
					t.Errorf("FreezeMatching(%q): %s trainable = %v", c.pattern, name, tr)
				}
			}
		}
		if !maps.Equal(stats, freezeStatsFlags(m)) {
			t.Errorf("FreezeMatching(%q) changed BatchNorm statistics switches", c.pattern)
		}
	}

	// trainable=true unfreezes.
	nn.SetTrainable(m, false)
	n, err := transfer.FreezeMatching(m, "layer4.*", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := count(func(s string) bool { return under(s, "layer4") }); n != want || len(all)-len(transfer.FrozenNames(m)) != want {
		t.Errorf("FreezeMatching(layer4.*, true) = %d with %d trainable, want %d", n, len(all)-len(transfer.FrozenNames(m)), want)
	}

	// Errors change nothing.
	nn.SetTrainable(m, true)
	for _, bad := range []string{"layer[1", "[", "nope.*", "layer", "layer1.0.conv"} {
		n, err := transfer.FreezeMatching(m, bad, false)
		if err == nil {
			t.Errorf("FreezeMatching(%q): no error (%d matched)", bad, n)
		}
		if n != 0 {
			t.Errorf("FreezeMatching(%q) = %d with an error", bad, n)
		}
		if f := transfer.FrozenNames(m); len(f) != 0 {
			t.Errorf("FreezeMatching(%q) froze %v", bad, f)
		}
	}

	// The prefix rule stops at a dot: "layer1" is not "layer10".
	s := nn.NewSequential().Add("layer1", nn.NewDense(2, 2, true, 1)).Add("layer10", nn.NewDense(2, 2, true, 2))
	if n, err := transfer.FreezeMatching(s, "layer1", false); err != nil || n != 2 {
		t.Errorf("FreezeMatching(layer1) over layer1 and layer10 = %d, %v; want 2", n, err)
	}
	if got, want := transfer.FrozenNames(s), []string{"layer1.bias", "layer1.weight"}; !slices.Equal(got, want) {
		t.Errorf("FrozenNames = %v, want %v", got, want)
	}
}
