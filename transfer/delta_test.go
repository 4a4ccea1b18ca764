package transfer_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/transfer"
)

// FineTune trains the head, then every group; the delta checkpoint holds
// what it trained and, loaded over the base, gives the fine-tuned model.
func TestFineTuneDelta(t *testing.T) {
	base := loadBase(t)
	before := modelcheck.State(base)
	shot, rest := digitsShot(t, 5, 3)
	res, err := transfer.FineTune(context.Background(), base, shot, rest, 2, 1, transfer.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != transfer.StrategyAll || res.HeadEpochs != 2 || len(res.Epochs) != 3 || !(res.Accuracy > 0.5) {
		t.Fatalf("FineTune: strategy %s, %d head epochs of %d, accuracy %v", res.Strategy, res.HeadEpochs, len(res.Epochs), res.Accuracy)
	}
	tensorcheck.SameState(t, "base after FineTune", modelcheck.State(base), before)
	path := filepath.Join(t.TempDir(), "delta.safetensors")
	if err := transfer.SaveDelta(path, res, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	m, err := transfer.LoadDelta(path, base)
	if err != nil {
		t.Fatal(err)
	}
	tensorcheck.SameState(t, "base + delta", modelcheck.State(m), modelcheck.State(res.Model))
	if meta, err := nn.ReadMeta(path); err != nil || meta.Extra["delta"] != "all" {
		t.Errorf("delta metadata %+v (%v)", meta, err)
	}
}

// A delta records its base (the hash of its weights and a name) and
// refuses to load over another base.
func TestDeltaRecordsItsBase(t *testing.T) {
	base := loadBase(t)
	shot, rest := digitsShot(t, 5, 3)
	res, err := transfer.Run(context.Background(), base, shot, rest, transfer.Options{Strategy: transfer.StrategyFeatures, HeadEpochs: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseHash != transfer.WeightsHash(base) || len(res.BaseHash) != 64 {
		t.Fatalf("BaseHash %q, want the base's WeightsHash", res.BaseHash)
	}
	path := filepath.Join(t.TempDir(), "delta.safetensors")
	meta := res.Model.Meta()
	meta.Extra = map[string]string{transfer.MetaBase: "bases/mnistcnn.safetensors"}
	if err := transfer.SaveDelta(path, res, meta); err != nil {
		t.Fatal(err)
	}
	got, err := nn.ReadMeta(path)
	if err != nil || !transfer.IsDelta(got) || got.Extra[transfer.MetaBaseHash] != res.BaseHash || got.Extra[transfer.MetaBase] != "bases/mnistcnn.safetensors" {
		t.Fatalf("delta metadata %+v (%v)", got.Extra, err)
	}
	if _, err := transfer.LoadDelta(path, base); err != nil {
		t.Fatal(err)
	}
	other, err := transfer.Scratch(base, 9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.LoadDelta(path, other); err == nil || !strings.Contains(err.Error(), "bases/mnistcnn.safetensors") {
		t.Errorf("LoadDelta over another base: %v, want an error naming the recorded base", err)
	}
}

// An interrupted Run returns the epochs that completed and the model as
// after the last of them, wherever in the next epoch it was stopped; or
// no model when no epoch completed.
func TestRunInterrupted(t *testing.T) {
	base := loadBase(t)
	shot, rest := digitsShot(t, 5, 3)
	// 50 examples in batches of 8: 7 steps per epoch, 2 epochs a phase.
	stopAt := func(step int) *transfer.Result {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		o := transfer.Options{Strategy: transfer.StrategyTopK, HeadEpochs: 2, Epochs: 2, BatchSize: 8, Seed: 3}
		n := 0
		o.Progress = func(nn.StepInfo) {
			if n++; n == step {
				cancel()
			}
		}
		res, err := transfer.Run(ctx, base, shot, rest, o)
		if !errors.Is(err, context.Canceled) || res == nil || !res.Interrupted || res.Accuracy == res.Accuracy {
			t.Fatalf("stopped at step %d: %+v, %v", step, res, err)
		}
		return res
	}
	if res := stopAt(2); res.Model != nil || len(res.Epochs) != 0 {
		t.Errorf("stopped in the first epoch: model %v, %d epochs; want none", res.Model != nil, len(res.Epochs))
	}
	a, b := stopAt(8), stopAt(12)
	if len(a.Epochs) != 1 || len(b.Epochs) != 1 || a.Model == nil || b.Model == nil {
		t.Fatalf("stopped in the second epoch: %d and %d epochs", len(a.Epochs), len(b.Epochs))
	}
	tensorcheck.SameState(t, "stopped at step 1 vs step 4 of epoch 2", modelcheck.State(a.Model), modelcheck.State(b.Model))
	c := stopAt(16) // the first epoch of the second phase
	if len(c.Epochs) != 2 || c.HeadEpochs != 2 {
		t.Errorf("stopped in the second phase: %d epochs, %d head epochs", len(c.Epochs), c.HeadEpochs)
	}
}
