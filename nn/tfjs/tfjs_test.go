package tfjs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "tfjs"}, parts...)...)
}

// TestTFJSFixtures imports models built and saved by TF.js
// (testdata/tfjs/gen.js: a functional model using every layer class, a
// Sequential one; float32 and uint8/uint16-quantized weights) and
// compares the outputs with TF.js's within 1e-4 of the largest.
func TestTFJSFixtures(t *testing.T) {
	for _, name := range []string{"mix", "mix_q", "seq", "seq_q"} {
		t.Run(name, func(t *testing.T) {
			m, err := tfjs.Read(fixture(name, "model.json"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(fixture(name, "ref.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Input       []float32 `json:"input"`
				InputShape  []int     `json:"input_shape"`
				Output      []float32 `json:"output"`
				OutputShape []int     `json:"output_shape"`
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			x := tensor.FromSlice(ref.Input, ref.InputShape...)
			nn.SetTraining(m.Graph, false)
			for _, run := range []struct {
				name string
				f    func(*tensor.Tensor) *tensor.Tensor
			}{{"Infer", m.Graph.Infer}, {"Forward", m.Graph.Forward}} {
				y := run.f(x)
				got := y.Data()
				if len(got) != len(ref.Output) {
					t.Fatalf("%s: output %v, TF.js %v", run.name, y.Shape(), ref.OutputShape)
				}
				maxDiff, maxRef := tensorcheck.MaxAbsDiff(got, ref.Output), tensorcheck.MaxAbs(ref.Output)
				if !(maxDiff <= 1e-4*maxRef) {
					t.Errorf("%s: max|graft − tfjs| = %.3g > 1e-4 · %.3g\n graft %v\n tfjs  %v", run.name, maxDiff, maxRef, got, ref.Output)
				}
			}
		})
	}
}
