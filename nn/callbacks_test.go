package nn_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/graftml/graft/nn"
)

func TestEarlyStopping(t *testing.T) {
	e := &nn.EarlyStopping{Patience: 2, MinDelta: 0.01}
	losses := []float64{1.0, 0.8, 0.795, 0.81, 0.5}
	var stopped []bool
	for i, l := range losses {
		s := &nn.EpochStats{Epoch: i + 1, ValLoss: l, TrainLoss: 9}
		stop, err := e.EpochEnd(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		stopped = append(stopped, stop)
	}
	// 0.795 and 0.81 do not improve on 0.8 by 0.01: stop at the 4th epoch.
	want := []bool{false, false, false, true, false}
	for i := range want {
		if stopped[i] != want[i] {
			t.Fatalf("stops %v, want %v", stopped, want)
		}
	}
	// Without validation data it watches the training loss.
	e = &nn.EarlyStopping{Patience: 1}
	e.EpochEnd(nil, &nn.EpochStats{ValLoss: math.NaN(), TrainLoss: 1})
	if stop, _ := e.EpochEnd(nil, &nn.EpochStats{ValLoss: math.NaN(), TrainLoss: 1.5}); !stop {
		t.Error("no stop after a worse training loss with patience 1")
	}
}

func TestEarlyStoppingAndBestCheckpointInFit(t *testing.T) {
	train, val := newBlobs(64, 1), newBlobs(32, 2)
	m := blobModel(3)
	path := filepath.Join(t.TempDir(), "best.safetensors")
	best := &nn.BestCheckpoint{Path: path, Meta: nn.Meta{Arch: "blobs"}}
	stop := &nn.EarlyStopping{Patience: 1, MinDelta: 10} // nothing improves by 10: stops after epoch 2
	hist, err := nn.Fit(context.Background(), m, train, val, nn.FitOptions{Epochs: 6, BatchSize: 16, Seed: 1,
		Callbacks: []nn.Callback{best, stop}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 2 || !hist.Last().Stopped {
		t.Fatalf("%d epochs, stopped %v; want early stop after 2", len(hist.Epochs), hist.Last().Stopped)
	}
	if !hist.Epochs[0].BestSoFar {
		t.Error("epoch 1 not marked best")
	}
	meta, _, err := nn.Load(path, blobModel(4), nn.LoadOptions{})
	if err != nil || meta.Arch != "blobs" {
		t.Fatalf("best checkpoint: %v, %+v", err, meta)
	}
	if best.Best() < hist.Epochs[0].ValAcc {
		t.Errorf("best %v below epoch 1's %v", best.Best(), hist.Epochs[0].ValAcc)
	}
}
