package pth_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/fixtures"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/pth"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// bigFixture is a file gen.py --big writes (CI: .ci/run) into
// $HOME/.cache/graft/pth; the test skips without it.
func bigFixture(t *testing.T, name string) string {
	t.Helper()
	dir, _ := fixtures.Dir()
	return fixtures.Path(t, "run /usr/bin/python3 testdata/pth/gen.py --big "+filepath.Join(dir, "pth"), "pth", name)
}

// TestTorchvisionModels loads torchvision's resnet18 and mobilenet_v2
// state_dicts (seeded random weights, written by torch.save) into graft's
// built-in models, checks every value against what PyTorch held, and the
// eval-mode logits against PyTorch's on the same input within 1e-4 of
// their largest magnitude.
func TestTorchvisionModels(t *testing.T) {
	if testing.Short() {
		t.Skip("224×224 forward passes of full-size models")
	}
	for _, c := range []struct {
		file string
		arch string
	}{{"resnet18", "resnet18"}, {"mobilenet_v2", "mobilenetv2"}} {
		t.Run(c.file, func(t *testing.T) {
			sd, err := pth.ReadFile(bigFixture(t, c.file+".pth"), pth.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := safetensors.ReadFile(bigFixture(t, c.file+".ref.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for k, want := range ref.Tensors {
				name, ok := strings.CutPrefix(k, "param.")
				if !ok {
					continue
				}
				n++
				got, ok := sd.Tensors[name]
				if !ok || len(got.F32) != len(want.F32) || len(got.I64) != len(want.I64) {
					t.Fatalf("%s: missing or wrong size", name)
				}
				for i := range want.F32 {
					if math.Float32bits(got.F32[i]) != math.Float32bits(want.F32[i]) {
						t.Fatalf("%s[%d] = %v, PyTorch %v", name, i, got.F32[i], want.F32[i])
					}
				}
				for i := range want.I64 {
					if got.I64[i] != want.I64[i] {
						t.Fatalf("%s[%d] = %v, PyTorch %v", name, i, got.I64[i], want.I64[i])
					}
				}
			}
			if n != len(sd.Tensors) {
				t.Fatalf("%d tensors read, PyTorch saved %d", len(sd.Tensors), n)
			}
			m, err := models.New(c.arch, models.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := nn.LoadState(sd.Tensors, m, nn.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Loaded != len(sd.Tensors) {
				t.Fatalf("loaded %d of %d", rep.Loaded, len(sd.Tensors))
			}
			in := ref.Tensors["input"]
			x := tensor.FromSlice(in.F32, in.Shape...)
			s := in.Shape
			xh := tensor.Zeros(s[0], s[2], s[3], s[1])
			tensor.NCHWToNHWC(xh, x)
			nn.SetTraining(m, false)
			got := m.Infer(xh).Data()
			want := ref.Tensors["logits"].F32
			var maxDiff, maxRef float64
			for i := range want {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
				maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
			}
			if !(maxDiff <= 1e-4*maxRef) {
				t.Errorf("logits: max|graft − torch| = %.3g > 1e-4 · max|torch| (%.3g)", maxDiff, maxRef)
			}
			t.Logf("%s: %d tensors, logits max|graft − torch| = %.3g (max|torch| %.3g)", c.file, len(sd.Tensors), maxDiff, maxRef)
		})
	}
}
