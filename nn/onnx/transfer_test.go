package onnx

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// TestTransferStrategies: an imported model is a base for every
// strategy of transfer.Run, and the advisor, without the ONNX file after
// the import.
func TestTransferStrategies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "small.onnx")
	if err := os.WriteFile(p, smallModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Mean) != 3 || base.Mean[0] != 0.5 {
		t.Errorf("mean from metadata_props: %v", base.Mean)
	}
	set := func(seed uint64, n int) *data.Set {
		s := &data.Set{X: tensor.RandNormal(seed, 0, 1, n*8*8*3).Data(), Labels: make([]int, n), Shape: []int{8, 8, 3},
			Classes: []string{"a", "b", "c"}}
		for i := range s.Labels {
			s.Labels[i] = i % 3
		}
		return s
	}
	train, test := set(1, 12), set(2, 6)
	for _, st := range []transfer.Strategy{transfer.StrategyFeatures, transfer.StrategyTopK, transfer.StrategyAll, transfer.StrategyScratch} {
		res, err := transfer.Run(context.Background(), base, train, test, transfer.Options{Strategy: st, HeadEpochs: 1, Epochs: 1, BatchSize: 4})
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if res.Model.Infer(tensor.Zeros(1, 8, 8, 3)).Dim(1) != 3 || len(res.Trained) == 0 {
			t.Errorf("%s: output %v, trained %v", st, res.Model.Infer(tensor.Zeros(1, 8, 8, 3)).Shape(), res.Trained)
		}
	}
	if _, err := transfer.Advise(context.Background(), base, train, transfer.AdviseOptions{}); err != nil {
		t.Errorf("Advise: %v", err)
	}
}
