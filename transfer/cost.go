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
	// Name is what the report calls the run: the strategy's name unless
	// the caller names it otherwise (the advisor's pick: "auto → all").
	Name string
	// HeadLR, LR and LRLo are the run's rates (see Result).
	HeadLR, LR, LRLo float64
	Accuracy         float64
	Run              Cost
	Baseline         Cost
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
	r := Report{Strategy: res.Strategy, Name: string(res.Strategy), HeadLR: res.HeadLR, LR: res.LR, LRLo: res.LRLo,
		Accuracy: res.Accuracy, Run: res.Cost, Baseline: res.Scratch}
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

// Rates describes the learning rates of a run of strategy st.
func Rates(st Strategy, headLR, lr, lrLo float64) string {
	switch st {
	case StrategyScratch:
		return fmt.Sprintf("LR %g", lr)
	case StrategyFeatures:
		return fmt.Sprintf("head LR %g", headLR)
	}
	return fmt.Sprintf("head LR %g, then LR %g (top) .. %g (bottom)", headLR, lr, lrLo)
}

// String formats the report on one line.
func (r Report) String() string {
	name := r.Name
	if name == "" {
		name = string(r.Strategy)
	}
	s := fmt.Sprintf("%s (%s): accuracy %.4f, %.3g GFLOP (%.0f%% less than scratch's %.3g)",
		name, Rates(r.Strategy, r.HeadLR, r.LR, r.LRLo), r.Accuracy, r.Run.FLOPs()/1e9, 100*r.FLOPsSaved, r.Baseline.FLOPs()/1e9)
	if r.BaselineMeasured {
		s += fmt.Sprintf(", %.2f s (%.1f× faster than scratch's %.2f s)", r.Run.Seconds, r.Speedup, r.Baseline.Seconds)
	} else {
		s += fmt.Sprintf(", %.2f s", r.Run.Seconds)
	}
	return s
}
