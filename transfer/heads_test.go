package transfer_test

import (
	"maps"
	"path/filepath"
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

func dense(t *testing.T, m nn.Layer, name string) *nn.Dense {
	t.Helper()
	l, err := nn.Find(m, name)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := l.(*nn.Dense)
	if !ok {
		t.Fatalf("%s is a %T, not a Dense", name, l)
	}
	return d
}

func TestReplaceHead(t *testing.T) {
	m := loadBase(t)
	before := modelcheck.State(m)
	x := tensor.FromSlice(slices.Clone(first(digits(t), 3).X), 3, 28, 28, 1)

	// The same class count keeps the head.
	note, err := transfer.ReplaceHead(m, 10, 1)
	if err != nil || note != "" {
		t.Fatalf("ReplaceHead(10) on a 10-class model: %q, %v", note, err)
	}
	tensorcheck.SameState(t, "ReplaceHead(10)", modelcheck.State(m), before)

	note, err = transfer.ReplaceHead(m, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fc2", "10", "5"} {
		if !strings.Contains(note, want) {
			t.Errorf("notice %q does not mention %q", note, want)
		}
	}
	if y := m.Infer(x); !slices.Equal(y.Shape(), []int{3, 5}) {
		t.Errorf("output %v after ReplaceHead(5), want [3 5]", y.Shape())
	}
	if d := dense(t, m, "fc2"); d.In != 128 || d.Out != 5 || !d.Weight.Value.SameShape(tensor.Zeros(5, 128)) || !d.Weight.Trainable {
		t.Errorf("new head %d→%d, weight %v, trainable %v", d.In, d.Out, d.Weight.Value.Shape(), d.Weight.Trainable)
	}
	if m.Options.Classes != 5 {
		t.Errorf("Options.Classes = %d, want 5", m.Options.Classes)
	}
	after := modelcheck.State(m)
	for name := range before {
		if !under(name, "fc2") && !tensorcheck.BitsEqual(before[name], after[name]) {
			t.Errorf("ReplaceHead changed the trunk's %s", name)
		}
	}
	// The options follow, so copies and scratch models have 5 classes.
	c, err := transfer.Copy(m)
	if err != nil {
		t.Fatalf("Copy after ReplaceHead: %v", err)
	}
	tensorcheck.SameState(t, "Copy after ReplaceHead", modelcheck.State(c), after)
	s, err := transfer.Scratch(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := dense(t, s, "fc2"); d.Out != 5 {
		t.Errorf("Scratch after ReplaceHead: %d classes", d.Out)
	}
	// The new head comes from the seed.
	m2 := loadBase(t)
	if _, err := transfer.ReplaceHead(m2, 5, 1); err != nil {
		t.Fatal(err)
	}
	if !tensorcheck.BitsEqual(dense(t, m2, "fc2").Weight.Value.Data(), dense(t, m, "fc2").Weight.Value.Data()) {
		t.Error("ReplaceHead with the same seed gave another head")
	}

	for _, bad := range []int{0, -3} {
		if _, err := transfer.ReplaceHead(m, bad, 1); err == nil {
			t.Errorf("ReplaceHead(%d): no error", bad)
		}
	}
}

func TestReplaceHeadOtherArchs(t *testing.T) {
	mb := models.MobileNetV2(models.Options{Width: 0.25, Size: 32, Classes: 10, Seed: 1})
	note, err := transfer.ReplaceHead(mb, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "classifier.1") {
		t.Errorf("MobileNetV2 notice %q does not name classifier.1", note)
	}
	if d := dense(t, mb, "classifier.1"); d.Out != 7 {
		t.Errorf("classifier.1 has %d outputs", d.Out)
	}
	if l, err := nn.Find(mb, "classifier.0"); err != nil {
		t.Error(err)
	} else if _, ok := l.(*nn.Dropout); !ok {
		t.Error("ReplaceHead lost the classifier's dropout")
	}
	if y := mb.Infer(modelcheck.Randn(1, 2, 32, 32, 3)); !slices.Equal(y.Shape(), []int{2, 7}) {
		t.Errorf("MobileNetV2 output %v, want [2 7]", y.Shape())
	}

	r := smallResNet(1)
	note, err = transfer.ReplaceHead(r, 4, 2)
	if err != nil || !strings.Contains(note, "fc") {
		t.Errorf("ResNet: %q, %v", note, err)
	}
	if y := r.Infer(modelcheck.Randn(1, 2, 32, 32, 3)); !slices.Equal(y.Shape(), []int{2, 4}) {
		t.Errorf("ResNet output %v, want [2 4]", y.Shape())
	}

	noDense := &models.Model{Sequential: nn.NewSequential().Add("conv", nn.NewConv2D(1, 2, 3, nn.ConvOpts{}, 1)),
		Arch: "nodense", InputShape: []int{5, 5, 1}, Head: []string{"conv"}}
	if _, err := transfer.ReplaceHead(noDense, 3, 1); err == nil {
		t.Error("ReplaceHead of a model without a dense layer: no error")
	}
	if err := transfer.ResetHead(noDense, 1); err == nil {
		t.Error("ResetHead of a model without a dense layer: no error")
	}
}

// mlpWithDenseTrunk is a model whose trunk holds a dense layer inside a
// nested block (an MLP body, or a squeeze-and-excitation block) and whose
// head is the top-level fc.
func mlpWithDenseTrunk() *models.Model {
	net := nn.NewSequential().
		Add("body", nn.NewSequential(nn.NewDense(4, 8, true, 1), nn.ReLU())).
		Add("fc", nn.NewDense(8, 3, true, 2))
	return &models.Model{Sequential: net, Arch: "mlp", Options: models.Options{Classes: 3},
		InputShape: []int{4}, Head: []string{"fc"}, Groups: [][]string{{"body"}, {"fc"}}}
}

// ReplaceHead and ResetHead act on the head's last dense layer, never on a
// dense layer of the trunk.
func TestReplaceHeadIgnoresTrunkDense(t *testing.T) {
	m := mlpWithDenseTrunk()
	note, err := transfer.ReplaceHead(m, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "fc") || strings.Contains(note, "body") {
		t.Errorf("notice %q: want the head fc replaced", note)
	}
	if d := dense(t, m, "body.0"); d.In != 4 || d.Out != 8 {
		t.Errorf("the trunk's body.0 became %d→%d", d.In, d.Out)
	}
	if d := dense(t, m, "fc"); d.Out != 5 {
		t.Errorf("the head fc has %d outputs, want 5", d.Out)
	}

	m = mlpWithDenseTrunk()
	body := slices.Clone(dense(t, m, "body.0").Weight.Value.Data())
	fc := slices.Clone(dense(t, m, "fc").Weight.Value.Data())
	if err := transfer.ResetHead(m, 9); err != nil {
		t.Fatal(err)
	}
	if !tensorcheck.BitsEqual(dense(t, m, "body.0").Weight.Value.Data(), body) {
		t.Error("ResetHead re-initialised the trunk's body.0")
	}
	if tensorcheck.BitsEqual(dense(t, m, "fc").Weight.Value.Data(), fc) {
		t.Error("ResetHead left the head fc as it was")
	}
}

func TestResetHead(t *testing.T) {
	a, b := loadBase(t), loadBase(t)
	before := modelcheck.State(a)
	if err := transfer.ResetHead(a, 4); err != nil {
		t.Fatal(err)
	}
	if err := transfer.ResetHead(b, 4); err != nil {
		t.Fatal(err)
	}
	sa := modelcheck.State(a)
	tensorcheck.SameState(t, "ResetHead, same seed", modelcheck.State(b), sa)
	for _, name := range slices.Sorted(maps.Keys(before)) {
		same := tensorcheck.BitsEqual(before[name], sa[name])
		if under(name, "fc2") == same {
			t.Errorf("ResetHead: %s changed = %v", name, !same)
		}
	}
	if d := dense(t, a, "fc2"); d.In != 128 || d.Out != 10 {
		t.Errorf("ResetHead: head %d→%d", d.In, d.Out)
	}
	if err := transfer.ResetHead(b, 5); err != nil {
		t.Fatal(err)
	}
	if tensorcheck.BitsEqual(dense(t, a, "fc2").Weight.Value.Data(), dense(t, b, "fc2").Weight.Value.Data()) {
		t.Error("ResetHead with another seed gave the same head")
	}
}

// firstConvOut returns the output of the model's first convolution.
func firstConvOut(t *testing.T, m *models.Model, name string, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	l, err := nn.Find(m, name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Infer(x)
}

// tile repeats x's channels cyclically to c channels.
func tile(x *tensor.Tensor, c int) *tensor.Tensor {
	old := x.Dim(3)
	s := x.Shape()
	out := tensor.Zeros(s[0], s[1], s[2], c)
	src, dst := x.Data(), out.Data()
	for p := 0; p < x.Len()/old; p++ {
		for j := 0; j < c; j++ {
			dst[p*c+j] = src[p*old+j%old]
		}
	}
	return out
}

func TestAdaptInputChannels(t *testing.T) {
	t.Run("3to1", func(t *testing.T) {
		orig, m := smallResNet(1), smallResNet(1)
		if err := transfer.AdaptInputChannels(m, 1); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.InputShape, []int{32, 32, 1}) || m.Options.InChans != 1 {
			t.Errorf("input shape %v, InChans %d", m.InputShape, m.Options.InChans)
		}
		grey := modelcheck.Randn(3, 2, 32, 32, 1)
		tensorcheck.CloseTo(t, "conv1(grey) vs conv1(grey as RGB)", firstConvOut(t, m, "conv1", grey).Data(), firstConvOut(t, orig, "conv1", tile(grey, 3)).Data(), 1e-5)
		tensorcheck.CloseTo(t, "model(grey) vs model(grey as RGB)", m.Infer(grey).Data(), orig.Infer(tile(grey, 3)).Data(), 1e-4)
		// Copy and Scratch rebuild the adapted architecture.
		c, err := transfer.Copy(m)
		if err != nil {
			t.Fatalf("Copy of an adapted model: %v", err)
		}
		tensorcheck.SameState(t, "Copy of an adapted model", modelcheck.State(c), modelcheck.State(m))
		s, err := transfer.Scratch(m, 2)
		if err != nil {
			t.Fatal(err)
		}
		if y := s.Infer(grey); y.Dim(1) != 10 {
			t.Errorf("Scratch of an adapted model: output %v", y.Shape())
		}
		// The weight's gradient follows the new shape: it trains.
		nn.SetTraining(m, true)
		y := m.Forward(grey)
		m.Backward(modelcheck.Randn(4, y.Shape()...), false)
	})
	t.Run("imported", func(t *testing.T) {
		// An imported model's checkpoint carries its topology: adapted, it
		// must describe the one-channel convolution and reload.
		s := nn.NewSequential()
		s.Add("conv", nn.NewConv2D(3, 4, 3, nn.ConvOpts{Padding: 1, Bias: true}, 7))
		s.Add("pool", nn.NewGlobalAvgPool())
		s.Add("fc", nn.NewDense(4, 2, true, 8))
		m, err := models.NewImported(s, []int{8, 8, 3}, []string{"fc"}, [][]string{{"conv", "pool"}, {"fc"}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := transfer.AdaptInputChannels(m, 1); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := nn.Save(path, m, m.Meta()); err != nil {
			t.Fatal(err)
		}
		r, _, err := transfer.FromCheckpoint(path)
		if err != nil {
			t.Fatalf("reloading an adapted imported model: %v", err)
		}
		grey := modelcheck.Randn(6, 2, 8, 8, 1)
		tensorcheck.CloseTo(t, "reloaded", r.Infer(grey).Data(), m.Infer(grey).Data(), 1e-6)
	})
	t.Run("3to6", func(t *testing.T) {
		orig, m := smallResNet(1), smallResNet(1)
		if err := transfer.AdaptInputChannels(m, 6); err != nil {
			t.Fatal(err)
		}
		x3 := modelcheck.Randn(5, 2, 32, 32, 3)
		tensorcheck.CloseTo(t, "conv1(6 tiled channels) vs conv1(3)", firstConvOut(t, m, "conv1", tile(x3, 6)).Data(), firstConvOut(t, orig, "conv1", x3).Data(), 1e-5)
		tensorcheck.CloseTo(t, "model(6 tiled channels) vs model(3)", m.Infer(tile(x3, 6)).Data(), orig.Infer(x3).Data(), 1e-4)
		if m.InputShape[2] != 6 {
			t.Errorf("input shape %v", m.InputShape)
		}
	})
	t.Run("1to3-mnistcnn", func(t *testing.T) {
		orig, m := loadBase(t), loadBase(t)
		if err := transfer.AdaptInputChannels(m, 3); err != nil {
			t.Fatal(err)
		}
		grey := tensor.FromSlice(slices.Clone(first(digits(t), 4).X), 4, 28, 28, 1)
		tensorcheck.CloseTo(t, "conv1(grey as RGB) vs conv1(grey)", firstConvOut(t, m, "conv1", tile(grey, 3)).Data(), firstConvOut(t, orig, "conv1", grey).Data(), 1e-5)
		tensorcheck.CloseTo(t, "model(grey as RGB) vs model(grey)", m.Infer(tile(grey, 3)).Data(), orig.Infer(grey).Data(), 1e-4)
		if !slices.Equal(m.InputShape, []int{28, 28, 3}) {
			t.Errorf("input shape %v", m.InputShape)
		}
	})
	t.Run("same", func(t *testing.T) {
		m := smallResNet(1)
		before := modelcheck.State(m)
		if err := transfer.AdaptInputChannels(m, 3); err != nil {
			t.Fatal(err)
		}
		tensorcheck.SameState(t, "AdaptInputChannels(3) of a 3-channel model", modelcheck.State(m), before)
	})
	t.Run("errors", func(t *testing.T) {
		m := smallResNet(1)
		for _, c := range []int{0, -1} {
			if err := transfer.AdaptInputChannels(m, c); err == nil {
				t.Errorf("AdaptInputChannels(%d): no error", c)
			}
		}
		if err := transfer.AdaptInputChannels(mlpWithDenseTrunk(), 2); err == nil {
			t.Error("AdaptInputChannels of a model without a convolution: no error")
		}
		dw := &models.Model{Sequential: nn.NewSequential().Add("dw", nn.NewConv2D(3, 3, 3, nn.ConvOpts{Groups: 3}, 1)),
			Arch: "depthwise", InputShape: []int{8, 8, 3}, Options: models.Options{InChans: 3}}
		if err := transfer.AdaptInputChannels(dw, 1); err == nil {
			t.Error("AdaptInputChannels of a depthwise first convolution: no error")
		}
	})
}

func TestScratch(t *testing.T) {
	base := loadBase(t)
	before := modelcheck.State(base)
	a, err := transfer.Scratch(base, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := transfer.Scratch(base, 5)
	c, _ := transfer.Scratch(base, 6)
	if a.Arch != base.Arch || !slices.Equal(a.InputShape, base.InputShape) || !slices.Equal(a.Head, base.Head) {
		t.Errorf("Scratch: %s %v head %v, want %s %v head %v", a.Arch, a.InputShape, a.Head, base.Arch, base.InputShape, base.Head)
	}
	sa, sb, sc := modelcheck.State(a), modelcheck.State(b), modelcheck.State(c)
	tensorcheck.SameState(t, "Scratch with the same seed", sb, sa)
	for name, w := range before {
		if len(sa[name]) != len(w) {
			t.Errorf("Scratch: %s has %d values, the base %d", name, len(sa[name]), len(w))
			continue
		}
		if len(w) > 1 && tensorcheck.BitsEqual(sa[name], sc[name]) {
			t.Errorf("Scratch with seeds 5 and 6: same %s", name)
		}
		if len(w) > 1 && tensorcheck.BitsEqual(sa[name], w) {
			t.Errorf("Scratch: %s equals the trained base's", name)
		}
	}
	tensorcheck.SameState(t, "base after Scratch", modelcheck.State(base), before)
}

func TestCopyIndependent(t *testing.T) {
	base := warmResNet(1)
	before := modelcheck.State(base)
	c, err := transfer.Copy(base)
	if err != nil {
		t.Fatal(err)
	}
	tensorcheck.SameState(t, "Copy", modelcheck.State(c), before)
	if c.Arch != base.Arch || c.Options != base.Options || !slices.Equal(c.InputShape, base.InputShape) {
		t.Errorf("Copy: %s %+v, want %s %+v", c.Arch, c.Options, base.Arch, base.Options)
	}
	sgdSteps(t, c, 2, 50)
	if len(tensorcheck.ChangedNames(before, modelcheck.State(c))) == 0 {
		t.Fatal("training the copy changed nothing")
	}
	tensorcheck.SameState(t, "base after training its copy", modelcheck.State(base), before)
}

func TestFromCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := transfer.FromCheckpoint(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("missing file: no error")
	}
	m := models.LeNet5(models.Options{Seed: 1})
	noArch := filepath.Join(dir, "noarch.safetensors")
	if err := nn.Save(noArch, m, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := transfer.FromCheckpoint(noArch); err == nil {
		t.Error("checkpoint without an architecture: no error")
	}
	wrong := filepath.Join(dir, "wrong.safetensors")
	meta := m.Meta()
	meta.Arch = "mnistcnn"
	if err := nn.Save(wrong, m, meta); err != nil {
		t.Fatal(err)
	}
	if _, _, err := transfer.FromCheckpoint(wrong); err == nil {
		t.Error("LeNet-5 weights under the name mnistcnn: no error")
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := nn.Save(good, m, m.Meta()); err != nil {
		t.Fatal(err)
	}
	l, meta, err := transfer.FromCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	if l.Arch != "lenet5" || meta.Arch != "lenet5" {
		t.Errorf("round trip: %s, meta %s", l.Arch, meta.Arch)
	}
	tensorcheck.SameState(t, "FromCheckpoint round trip", modelcheck.State(l), modelcheck.State(m))
}
