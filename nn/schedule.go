package nn

import "math"

// Schedule gives the factor applied to every group's BaseLR at step
// (counted from 0) of a run of total steps.
type Schedule interface {
	Factor(step, total int) float64
}

// Constant keeps the base rate.
type Constant struct{}

// Factor returns 1.
func (Constant) Factor(int, int) float64 { return 1 }

// StepDecay multiplies the rate by Gamma every Every steps (PyTorch's
// StepLR, counted in steps).
type StepDecay struct {
	Every int
	Gamma float64
}

// Factor returns Gamma^⌊step/Every⌋.
func (s StepDecay) Factor(step, _ int) float64 {
	if s.Every <= 0 {
		return 1
	}
	return math.Pow(s.Gamma, float64(step/s.Every))
}

// Cosine anneals from the base rate at the first step to MinFactor times
// it at the last (PyTorch's CosineAnnealingLR with T_max = total − 1).
type Cosine struct {
	MinFactor float64
}

// Factor returns the cosine-annealed factor.
func (c Cosine) Factor(step, total int) float64 {
	if total <= 1 {
		return 1
	}
	t := math.Min(float64(step)/float64(total-1), 1)
	return c.MinFactor + (1-c.MinFactor)*(1+math.Cos(math.Pi*t))/2
}

// OneCycle is Smith's one-cycle policy as PyTorch's OneCycleLR with cosine
// annealing: the rate rises from base/DivFactor to base over the first
// PctStart of the run, then falls to base/(DivFactor·FinalDiv). Zero
// fields take PyTorch's defaults 0.3, 25 and 1e4.
type OneCycle struct {
	PctStart, DivFactor, FinalDiv float64
}

// Factor returns the one-cycle factor.
func (o OneCycle) Factor(step, total int) float64 {
	pct, div, fdiv := o.PctStart, o.DivFactor, o.FinalDiv
	if pct == 0 {
		pct = 0.3
	}
	if div == 0 {
		div = 25
	}
	if fdiv == 0 {
		fdiv = 1e4
	}
	lo, hi, end := 1/div, 1.0, 1/(div*fdiv)
	up := pct*float64(total) - 1
	last := float64(total - 1)
	s := float64(step)
	anneal := func(a, b, t float64) float64 { return b + (a-b)/2*(math.Cos(math.Pi*t)+1) }
	if s <= up && up > 0 {
		return anneal(lo, hi, s/up)
	}
	if last <= up { // a run too short for the second phase
		return hi
	}
	return anneal(hi, end, math.Min((s-up)/(last-up), 1))
}

// Warmup rises linearly from 1/Steps of the rate to the full rate over
// the first Steps steps, then follows Then over the rest of the run (the
// whole rate when Then is nil).
type Warmup struct {
	Steps int
	Then  Schedule
}

// Factor returns the warm-up factor, then Then's.
func (w Warmup) Factor(step, total int) float64 {
	if step < w.Steps {
		return float64(step+1) / float64(w.Steps)
	}
	if w.Then == nil {
		return 1
	}
	return w.Then.Factor(step-w.Steps, max(total-w.Steps, 1))
}

// ApplySchedule sets every group's LR to its BaseLR times the schedule's
// factor for the step.
func ApplySchedule(o Optimizer, s Schedule, step, total int) {
	f := s.Factor(step, total)
	for _, g := range o.Groups() {
		g.LR = g.BaseLR * f
	}
}
