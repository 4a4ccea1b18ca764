package nn

import "math"

// EarlyStopping is a Fit callback that stops training when the validation
// loss (the training loss without validation data) has not improved by
// more than MinDelta for Patience epochs in a row.
type EarlyStopping struct {
	Patience int
	MinDelta float64

	best float64
	bad  int
	seen bool
}

// EpochEnd records the epoch's loss and asks to stop after Patience epochs
// without improvement.
func (e *EarlyStopping) EpochEnd(_ Layer, s *EpochStats) (bool, error) {
	loss := orTrain(s.ValLoss, s.TrainLoss)
	if !e.seen || loss < e.best-e.MinDelta {
		e.best, e.bad, e.seen = loss, 0, true
		return false, nil
	}
	e.bad++
	return e.bad >= max(e.Patience, 1), nil
}

// BestCheckpoint is a Fit callback that saves the model (atomically) each
// time the validation accuracy (the training accuracy without validation
// data) beats the best so far, and marks that epoch's BestSoFar.
type BestCheckpoint struct {
	Path string
	Meta Meta

	best float64
	seen bool
}

// EpochEnd saves the model when the epoch is the best so far.
func (b *BestCheckpoint) EpochEnd(model Layer, s *EpochStats) (bool, error) {
	acc := orTrain(s.ValAcc, s.TrainAcc)
	if b.seen && acc <= b.best {
		return false, nil
	}
	b.best, b.seen = acc, true
	s.BestSoFar = true
	return false, Save(b.Path, model, b.Meta)
}

// Best returns the best accuracy seen.
func (b *BestCheckpoint) Best() float64 { return b.best }

// orTrain returns the validation metric, or the training one when there
// was no validation data (NaN).
func orTrain(val, train float64) float64 {
	if math.IsNaN(val) {
		return train
	}
	return val
}
