package transfer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/transfer"
)

// FineTune trains the head, then every group; the delta checkpoint holds
// what it trained and, loaded over the base, gives the fine-tuned model.
func TestFineTuneDelta(t *testing.T) {
	base := loadBase(t)
	before := state(base)
	shot, rest := digitsShot(t, 5, 3)
	res, err := transfer.FineTune(context.Background(), base, shot, rest, 2, 1, transfer.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != transfer.StrategyAll || res.HeadEpochs != 2 || len(res.Epochs) != 3 || !(res.Accuracy > 0.5) {
		t.Fatalf("FineTune: strategy %s, %d head epochs of %d, accuracy %v", res.Strategy, res.HeadEpochs, len(res.Epochs), res.Accuracy)
	}
	sameState(t, "base after FineTune", state(base), before)
	path := filepath.Join(t.TempDir(), "delta.safetensors")
	if err := transfer.SaveDelta(path, res, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	m, err := transfer.LoadDelta(path, base)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "base + delta", state(m), state(res.Model))
	if meta, err := nn.ReadMeta(path); err != nil || meta.Extra["delta"] != "all" {
		t.Errorf("delta metadata %+v (%v)", meta, err)
	}
}
