package transfer

import (
	"fmt"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// fullPlan is the backprop plan of m with every parameter trainable (the
// from-scratch cost); m's Trainable flags are restored.
func fullPlan(m *models.Model) (*BackpropPlan, error) {
	params := nn.Parameters(m)
	was := make([]bool, len(params))
	for i, p := range params {
		was[i], p.Value.Trainable = p.Value.Trainable, true
	}
	defer func() {
		for i, p := range params {
			p.Value.Trainable = was[i]
		}
	}()
	return PlanBackprop(m, append([]int{1}, m.InputShape...))
}

// Report compares a transfer run with the from-scratch baseline: the
// compute and time saved, the central claim of transfer learning,
// measured on each run.
type Report struct {
	Strategy Strategy
	Accuracy float64
	Run      Cost
	Baseline Cost
	// BaselineMeasured says whether Baseline is a run's measurement (time
	// included) or the FLOP estimate of Result.Scratch.
	BaselineMeasured bool
	// FLOPsSaved is the fraction of the baseline's FLOPs the run did not
	// spend; Speedup the baseline's time over the run's (0 when the
	// baseline was not run).
	FLOPsSaved, Speedup float64
}

// Compare reports res against scratch, a measured from-scratch run of the
// same task (nil to use res's FLOP estimate).
func Compare(res, scratch *Result) Report {
	r := Report{Strategy: res.Strategy, Accuracy: res.Accuracy, Run: res.Cost, Baseline: res.Scratch}
	if scratch != nil {
		r.Baseline, r.BaselineMeasured = scratch.Cost, true
	}
	if f := r.Baseline.FLOPs(); f > 0 {
		r.FLOPsSaved = 1 - r.Run.FLOPs()/f
	}
	if r.BaselineMeasured && r.Run.Seconds > 0 {
		r.Speedup = r.Baseline.Seconds / r.Run.Seconds
	}
	return r
}

// String formats the report on one line.
func (r Report) String() string {
	s := fmt.Sprintf("%s: accuracy %.4f, %.3g GFLOP (%.0f%% less than scratch's %.3g)",
		r.Strategy, r.Accuracy, r.Run.FLOPs()/1e9, 100*r.FLOPsSaved, r.Baseline.FLOPs()/1e9)
	if r.BaselineMeasured {
		s += fmt.Sprintf(", %.2f s (%.1f× faster than scratch's %.2f s)", r.Run.Seconds, r.Speedup, r.Baseline.Seconds)
	} else {
		s += fmt.Sprintf(", %.2f s", r.Run.Seconds)
	}
	return s
}

// SaveDelta writes only what the run trained (Result.Trained: the head
// and the unfrozen groups, with their BatchNorm buffers) as a delta
// checkpoint, to be loaded over the base with LoadDelta.
func SaveDelta(path string, res *Result, meta nn.Meta) error {
	keep := map[string]bool{}
	for _, n := range res.Trained {
		keep[n] = true
	}
	if meta.Arch == "" {
		meta = res.Model.Meta()
	}
	if meta.Extra == nil {
		meta.Extra = map[string]string{}
	}
	meta.Extra["delta"] = string(res.Strategy)
	return nn.SaveSelected(path, res.Model, meta, func(name string) bool { return keep[name] })
}

// LoadDelta applies a delta checkpoint to a copy of base (with a head for
// the delta's classes when they differ) and returns the result.
func LoadDelta(path string, base *models.Model) (*models.Model, error) {
	meta, err := nn.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	m, err := Copy(base)
	if err != nil {
		return nil, err
	}
	if o, err := models.ParseOptions(meta.Options); err == nil && o.Classes > 0 && o.Classes != m.Options.Classes {
		if _, err := ReplaceHead(m, o.Classes, 0); err != nil {
			return nil, err
		}
	}
	if _, _, err := nn.Load(path, m, nn.LoadOptions{Partial: true}); err != nil {
		return nil, fmt.Errorf("transfer: delta %s over %s: %w", path, base.Arch, err)
	}
	return m, nil
}
