package onnx_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/onnx"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// TestModelTransfer: an imported ResNet-18 is a models.Model that keeps
// torchvision's names and structure, has groups by resolution and a
// dense head, copies, re-initialises, replaces its head, and saves a
// checkpoint that reloads without the ONNX file.
func TestModelTransfer(t *testing.T) {
	dir := cacheDir(t)
	m, err := onnx.Load(filepath.Join(dir, "resnet18_train.onnx"), onnx.Options{Size: 64, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Head, []string{"fc"}) || !slices.Equal(m.InputShape, []int{64, 64, 3}) {
		t.Errorf("head %v, input %v", m.Head, m.InputShape)
	}
	want := [][]string{{"conv1", "bn1"}, {"maxpool", "layer1.0", "layer1.1"}, {"layer2.0", "layer2.1"},
		{"layer3.0", "layer3.1"}, {"layer4.0", "layer4.1", "avgpool", "Flatten"}, {"fc"}}
	if fmt.Sprint(m.Groups) != fmt.Sprint(want) {
		t.Errorf("groups %v,\nwant %v", m.Groups, want)
	}
	ref, err := safetensors.ReadFile(filepath.Join(dir, "resnet18_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	x := nchwToNHWC(ref.Tensors["x"])
	y := m.Infer(x)

	c, err := transfer.Copy(m)
	if err != nil {
		t.Fatal(err)
	}
	closeEnough(t, "copy", c.Infer(x).Data(), y.Data())
	if !slices.Equal(modelcheck.ParamNames(c), modelcheck.ParamNames(m)) || modelcheck.ParamNames(m)[0] != "conv1.weight" {
		t.Errorf("names %v…", modelcheck.ParamNames(c)[:3])
	}
	s, err := transfer.Scratch(m, 7)
	if err != nil {
		t.Fatal(err)
	}
	if relErr(s.Infer(x).Data(), y.Data()) < 0.1 {
		t.Error("Scratch kept the weights")
	}
	if note, err := transfer.ReplaceHead(c, 5, 1); err != nil || note == "" {
		t.Fatalf("ReplaceHead: %q, %v", note, err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.Save(path, c, c.Meta()); err != nil {
		t.Fatal(err)
	}
	back, meta, err := transfer.FromCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Imported() || !slices.Equal(meta.Mean, []float32{0.485, 0.456, 0.406}) || fmt.Sprint(back.Groups) != fmt.Sprint(c.Groups) {
		t.Errorf("reloaded: imported %v, mean %v, groups %v", back.Imported(), meta.Mean, back.Groups)
	}
	closeEnough(t, "reloaded checkpoint", back.Infer(x).Data(), c.Infer(x).Data())
	if back.Infer(x).Dim(1) != 5 {
		t.Errorf("reloaded head gives %v", back.Infer(x).Shape())
	}
	if err := transfer.FreezeTo(back, 3, transfer.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	plan, err := transfer.PlanBackprop(back, []int{1, 64, 64, 3})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Lowest == 0 || plan.BwdFLOPs <= 0 || plan.BwdFLOPs >= plan.FwdFLOPs*2 {
		t.Errorf("plan: lowest %d, fwd %.3g, bwd %.3g", plan.Lowest, plan.FwdFLOPs, plan.BwdFLOPs)
	}
	if _, _, err := transfer.Cut(back, "layer3"); err != nil {
		t.Errorf("Cut at layer3: %v", err)
	}
	_ = models.ArchImported
}

func closeEnough(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if e := relErr(got, want); e > 1e-5 {
		t.Errorf("%s: relative error %.3g", what, e)
	}
}

// TestBGR: a model imported as BGR gives on an RGB image what the file
// gives on the BGR image.
func TestBGR(t *testing.T) {
	dir := cacheDir(t)
	p := filepath.Join(dir, "squeezenet1_0.onnx")
	plain, err := onnx.Load(p, onnx.Options{Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	bgr, err := onnx.Load(p, onnx.Options{Size: 32, BGR: true})
	if err != nil {
		t.Fatal(err)
	}
	rgb := tensor.RandNormal(3, 0, 1, 1, 32, 32, 3)
	swapped := rgb.Clone()
	d, s := swapped.Data(), rgb.Data()
	for i := 0; i < len(d); i += 3 {
		d[i], d[i+2] = s[i+2], s[i]
	}
	closeEnough(t, "BGR import on RGB", bgr.Infer(rgb).Data(), plain.Infer(swapped).Data())
}

// TestCheckpointRoundTrip: each imported torchvision model saves a
// checkpoint that rebuilds it without the ONNX file (grouped and
// depthwise convolutions, concatenations, squeeze-excitation included).
func TestCheckpointRoundTrip(t *testing.T) {
	dir := cacheDir(t)
	for _, name := range torchModels {
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(dir, name+".onnx"), onnx.Options{Size: 32})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := nn.Save(path, m, m.Meta()); err != nil {
				t.Fatal(err)
			}
			back, _, err := transfer.FromCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			x := tensor.RandNormal(5, 0, 1, 2, 32, 32, 3)
			closeEnough(t, "reloaded", back.Infer(x).Data(), m.Infer(x).Data())
			if fmt.Sprint(back.Groups) != fmt.Sprint(m.Groups) || !slices.Equal(modelcheck.ParamNames(back), modelcheck.ParamNames(m)) {
				t.Errorf("groups %v / %v", back.Groups, m.Groups)
			}
		})
	}
}
