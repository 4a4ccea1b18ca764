package transfer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// Plan is the advisor's recommendation for a target task.
type Plan struct {
	Strategy Strategy
	// Cut is the layer the trunk ends below ("" for the head).
	Cut string
	// TopK is how many layer groups train under StrategyTopK; FreezeDepth
	// how many groups stay frozen (len(Groups) − groups trained).
	TopK, FreezeDepth int
	Freeze            FreezeOptions
	LR, LRLo          float64
	Reasons           []string
	// The measurements behind the plan.
	PerClass                 int     // examples of the smallest class
	FeatureScore, PixelScore float64 // leave-one-out nearest-centroid accuracy on features and on pixels
	Similar, Small           bool
	// Probe is the layer-wise curve: pixels, then the features below each
	// group boundary, scored on the probe set (see Probe).
	Probe []ProbePoint
	// Rules is what the size × similarity rules alone pick (the race's
	// prior); Race what the race measured (nil when it did not run).
	Rules Candidate
	Race  *RaceReport
	// Cost is what the advice cost: the probe's forward passes and the
	// race's runs (FLOPs), and the wall time of all of it; FullFineTune
	// the FLOPs of one full fine-tune of the data, for scale.
	Cost         Cost
	FullFineTune float64
}

// Options returns transfer Options that carry out the plan.
func (p *Plan) Options(seed uint64) Options {
	return Options{Strategy: p.Strategy, TopK: p.TopK, LR: p.LR, LRLo: p.LRLo, Freeze: p.Freeze, Seed: seed}
}

// AdviseOptions tune the advisor; zero fields take the defaults noted.
type AdviseOptions struct {
	// SmallPerClass: fewer examples than this in the smallest class make
	// a small dataset; default 100.
	SmallPerClass int
	// LargePerClass: this many or more, with features no better than
	// pixels, make training from scratch worth it; default 1000.
	LargePerClass int
	// SimilarErrorRatio: the data count as similar to the base's when the
	// nearest-centroid error on the trunk's features is at most this
	// fraction of the error on pixels; default 0.7.
	SimilarErrorRatio float64
	// ProbePerClass caps the examples per class the similarity probe
	// reads; default 100.
	ProbePerClass int
	Seed          uint64
	// Cache holds the probe's features; nil uses a private one.
	Cache *Cache
	// Race tunes the race that measures the candidates; Race.Budget < 0
	// leaves the decision to the rules.
	Race RaceOptions
}

// Advise picks a transfer strategy for base and the target data by
// measuring, with the four classic scenarios (small or large target ×
// similar or different to the base's data; Yosinski et al. 2014, CS231n's
// transfer notes) as the prior:
//
//	small, similar     features: a new head on cached features of the frozen
//	                   trunk (CS231n's "linear classifier on the CNN codes":
//	                   too few examples to move any layer; top-k and lower
//	                   cuts race against it)
//	large, similar     all: fine-tune every group, low rates at the bottom
//	small, different   all, larger rates, frozen BatchNorm statistics (small
//	                   batches would upset them)
//	large, different   all, or scratch when the data are very large and the
//	                   base's features help no more than raw pixels
//
// Size is counted per class (the smallest class). Similarity is measured,
// not asked: the leave-one-out nearest-centroid accuracy of the frozen
// trunk's features (the layer below the head), z-scored per dimension,
// against the same on raw pixels; the data are similar when the feature
// error is at most SimilarErrorRatio of the pixel error. A layer-wise
// probe (Probe) scores the features below every group boundary the same
// way and by a cross-validated linear probe, so the reasons show where
// the base's features stop helping.
//
// Then the candidates (Candidates: a new head at each cut, top-k for each
// k, all, scratch) race by successive halving on a validation split of
// the target (see RaceOptions), the rules' ranking breaking ties within
// one standard error of a difference; the winner is the plan, and RunPlan
// carries it out. No run is shorter than Race.MinSteps optimizer steps,
// and the rules' pick always runs. With Race.Budget < 0, fewer than
// Race.MinPerClass examples in a class, or a budget that does not pay for
// the rules' pick and one other at that length, the rules decide alone. Every reason carries its numbers, and
// the plan's Cost says what the advice cost against one full fine-tune.
func Advise(ctx context.Context, base *models.Model, target nn.Dataset, o AdviseOptions) (*Plan, error) {
	if o.SmallPerClass == 0 {
		o.SmallPerClass = 100
	}
	if o.LargePerClass == 0 {
		o.LargePerClass = 1000
	}
	if o.SimilarErrorRatio == 0 {
		o.SimilarErrorRatio = 0.7
	}
	if o.ProbePerClass == 0 {
		o.ProbePerClass = 100
	}
	if target == nil || target.Len() == 0 {
		return nil, fmt.Errorf("transfer: Advise: no target examples")
	}
	start := time.Now()
	o.Race.defaults()
	if !slices.Equal(target.ExampleShape(), base.InputShape) {
		return nil, fmt.Errorf("transfer: Advise: %s takes %v examples, the data has %v", base.Arch, base.InputShape, target.ExampleShape())
	}
	counts, probe, err := probeSet(target, o.ProbePerClass, o.Seed)
	if err != nil {
		return nil, err
	}
	if len(counts) < 2 {
		return nil, fmt.Errorf("transfer: Advise: the data has %d class; a classifier needs at least 2", len(counts))
	}
	if i := slices.IndexFunc(counts, func(n int) bool { return n < 2 }); i >= 0 {
		return nil, fmt.Errorf("transfer: Advise: class %d has %d example(s); the advisor needs at least 2 per class to measure anything", i, counts[i])
	}
	p := &Plan{PerClass: slices.Min(counts)}
	trunk, _, err := Cut(base, "")
	if err != nil {
		return nil, err
	}
	feats, err := Extract(ctx, trunk, probe, 256)
	if err != nil {
		return nil, err
	}
	pix := &Features{Shape: target.ExampleShape(), Classes: target.NumClasses()}
	pix.X = make([]float32, probe.Len()*prod(pix.Shape))
	pix.Labels = make([]int, probe.Len())
	if err := probe.Load(pix.X, pix.Labels, seq(probe.Len())); err != nil {
		return nil, err
	}
	if p.Probe, err = Probe(ctx, base, probe, o.Cache, o.Seed); err != nil {
		return nil, err
	}
	p.FeatureScore = nearestCentroidLOO(feats)
	p.PixelScore = nearestCentroidLOO(pix)
	errF, errP := 1-p.FeatureScore, 1-p.PixelScore
	p.Small = p.PerClass < o.SmallPerClass
	p.Similar = errF <= o.SimilarErrorRatio*errP
	size := fmt.Sprintf("%d examples in the smallest class: ", p.PerClass)
	if p.Small {
		size += fmt.Sprintf("small (< %d per class)", o.SmallPerClass)
	} else {
		size += fmt.Sprintf("large (≥ %d per class)", o.SmallPerClass)
	}
	sim := fmt.Sprintf("nearest-centroid accuracy %.3f on the trunk's features vs %.3f on pixels (error ratio %.2f): ",
		p.FeatureScore, p.PixelScore, errF/math.Max(errP, 1e-9))
	if p.Similar {
		sim += fmt.Sprintf("similar to the base's data (ratio ≤ %.2f)", o.SimilarErrorRatio)
	} else {
		sim += fmt.Sprintf("different from the base's data (ratio > %.2f)", o.SimilarErrorRatio)
	}
	p.Reasons = []string{size, sim, curve(p.Probe)}
	g := len(base.Groups)
	p.LR, p.LRLo = 1e-3, 1e-4
	if !p.Similar {
		p.LR, p.LRLo = 3e-3, 3e-4 // far from the base task: larger steps
	}
	switch {
	case p.Small && p.Similar:
		p.Strategy, p.FreezeDepth = StrategyFeatures, g-1
		p.Reasons = append(p.Reasons, fmt.Sprintf("small (< %d per class) and similar: the frozen features already separate the classes, and too few examples to move any layer; train a new head on cached features (the trunk runs once)", o.SmallPerClass))
	case p.Similar:
		p.Strategy, p.FreezeDepth = StrategyAll, 0
		p.Reasons = append(p.Reasons, "large and similar: enough data to adapt every layer a little; fine-tune all groups with discriminative rates (low at the bottom)")
	case p.Small:
		p.Strategy, p.FreezeDepth = StrategyAll, 0
		p.Freeze.BN = BNFreezeStats
		why := "small and different: the top features are specific to the base task, so frozen features underperform; fine-tune every group (the bottom ones slowly)"
		if hasBatchNorm(base) {
			why += ", BatchNorm statistics frozen against small batches"
		}
		p.Reasons = append(p.Reasons, why)
	case p.PerClass >= o.LargePerClass && p.FeatureScore <= p.PixelScore:
		p.Strategy, p.FreezeDepth = StrategyScratch, 0
		p.Reasons = append(p.Reasons, "very large and the base's features help no more than pixels: train from scratch")
	default:
		p.Strategy, p.FreezeDepth = StrategyAll, 0
		p.Reasons = append(p.Reasons, "large and different: fine-tune every group, starting from the base's weights")
	}
	if !p.Similar {
		p.generalDepth(base, o.SimilarErrorRatio)
	}
	p.Rules = Candidate{Strategy: p.Strategy, TopK: p.TopK}
	if p.Strategy == StrategyFeatures {
		p.Rules.Keep, p.Rules.Cut = p.FreezeDepth, p.Cut
	}
	seg, err := segmentFLOPs(base)
	if err != nil {
		return nil, err
	}
	est := estimator{seg}
	p.FullFineTune = float64(target.Len()) * est.cost(Candidate{Strategy: StrategyAll}, o.Race.HeadEpochs, o.Race.Epochs)
	// the probe: one forward pass of the trunk over the probe set
	p.Cost.FwdFLOPs = float64(probe.Len()) * est.below(g-1)
	p.Cost.Images = probe.Len()
	switch {
	case o.Race.Budget < 0:
		p.Reasons = append(p.Reasons, "no race (budget < 0): the rules decide")
	case p.PerClass < o.Race.MinPerClass:
		p.Reasons = append(p.Reasons, fmt.Sprintf("no race: %d examples in the smallest class are too few to hold out a validation part (< %d): the rules decide", p.PerClass, o.Race.MinPerClass))
	default:
		if err := p.race(ctx, base, target, o, est); err != nil {
			return nil, err
		}
	}
	p.Cost.Seconds = time.Since(start).Seconds()
	p.Reasons = append(p.Reasons, fmt.Sprintf("the advice cost %.3g GFLOP (%.2f× one full fine-tune's %.3g GFLOP: %d head + %d group epochs on %d examples) and %.1f s",
		p.Cost.FLOPs()/1e9, p.Cost.FLOPs()/p.FullFineTune, p.FullFineTune/1e9, o.Race.HeadEpochs, o.Race.Epochs, target.Len(), p.Cost.Seconds))
	return p, nil
}

// generalDepth applies the rule for data unlike the base's, "don't rely
// on the higher layers' features", to the probe's curve: the deepest cut
// whose linear-probe error is at most ratio × the pixels' is as deep as
// the base's features stay useful. Below the top, the plan keeps the
// groups below that cut and re-initialises the rest (when small); with no
// such cut, the base's features help no more than pixels, and the plan is
// scratch.
func (p *Plan) generalDepth(base *models.Model, ratio float64) {
	if len(p.Probe) == 0 {
		return
	}
	g := len(base.Groups)
	pix := p.Probe[0]
	depth, at := 0, pix
	for _, pt := range p.Probe[1:] {
		if 1-pt.Linear <= ratio*(1-pix.Linear) {
			depth, at = pt.Groups, pt
		}
	}
	switch {
	case depth == 0:
		p.Strategy, p.TopK, p.FreezeDepth, p.Cut = StrategyScratch, 0, 0, ""
		p.LR, p.LRLo = 3e-3, 3e-4
		p.Reasons = append(p.Reasons, fmt.Sprintf("no layer's features beat pixels by the margin (linear-probe error at most %.2f of the pixels' %.3f): the base's features do not carry over; train from scratch", ratio, 1-pix.Linear))
	case depth < g-1 && p.Small:
		p.Strategy, p.TopK, p.FreezeDepth, p.Cut = StrategyFeatures, 0, depth, at.Cut
		p.Reasons = append(p.Reasons, fmt.Sprintf("the features below %s are the deepest that beat pixels by the margin (linear-probe error %.3f vs the pixels' %.3f, at most %.2f of it): keep the %d groups below %s, re-initialise and train those above", at.Cut, 1-at.Linear, 1-pix.Linear, ratio, depth, at.Cut))
	}
}

// race measures the candidates, the rules' pick first in the prior, and
// makes the winner the plan.
func (p *Plan) race(ctx context.Context, base *models.Model, target nn.Dataset, o AdviseOptions, est estimator) error {
	g := len(base.Groups)
	prior := priorOrder(Candidates(base), p.Rules, g, p.Similar, p.Small)
	rep, err := race(ctx, base, target, prior, p.LR, p.LRLo, p.Cost.FLOPs(), o.Race, Options{Seed: o.Seed, Freeze: p.Freeze, Cache: o.Cache})
	if errors.Is(err, errNoRace) {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no race: the budget of %.3g GFLOP does not pay for the rules' pick and one other candidate at the shortest schedule that measures anything (%.3g of it: %d optimizer steps on %d examples): the rules decide",
			rep.Budget/1e9, rep.MinFraction, o.Race.MinSteps, rep.Train))
		return nil
	}
	if err != nil {
		return err
	}
	p.Race = rep
	p.Cost.FwdFLOPs += rep.Spent // the runs' FLOPs, forward and backward
	var names []string
	for _, c := range prior {
		names = append(names, c.Name())
	}
	p.Reasons = append(p.Reasons, fmt.Sprintf("the rules rank the candidates %s", strings.Join(names, ", ")))
	if len(rep.Dropped) > 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("not raced, a run of each at the shortest schedule that measures anything (%.3g of it, ≥ %d optimizer steps) would break the budget of %.3g GFLOP: %s", rep.MinFraction, o.Race.MinSteps, rep.Budget/1e9, strings.Join(rep.Dropped, ", ")))
	}
	for r := 0; ; r++ {
		var parts []string
		var f float64
		for _, e := range rep.Entries {
			if e.Rung == r {
				parts = append(parts, fmt.Sprintf("%s %.3f", e.Name, e.ValAccuracy))
				f = e.Fraction
			}
		}
		if len(parts) == 0 {
			break
		}
		h, ep := schedule(f, o.Race.HeadEpochs, o.Race.Epochs)
		p.Reasons = append(p.Reasons, fmt.Sprintf("race rung %d (%.3g of the schedule: %d head + %d group epochs, scratch and lower cuts %d; trained on %d, validated on %d): %s",
			r, f, h, ep, max(1, int(math.Round(f*float64(o.Race.HeadEpochs+o.Race.Epochs)))), rep.Train, rep.Val, strings.Join(parts, ", ")))
	}
	var best Entry
	for _, e := range rep.Entries {
		if e.Candidate == rep.Winner && e.Rung >= best.Rung {
			best = e
		}
	}
	last := rep.Entries[len(rep.Entries)-1].Rung
	top := 0.0
	for _, e := range rep.Entries {
		if e.Rung == last {
			top = math.Max(top, e.ValAccuracy)
		}
	}
	why := "the best validation accuracy"
	if best.ValAccuracy < top {
		why = fmt.Sprintf("within one standard error of a difference (%.3f) of the best %.3f, ranked higher by the rules", rep.Tolerance, top)
	}
	p.Reasons = append(p.Reasons, fmt.Sprintf("the race picks %s: validation accuracy %.3f, %s", rep.Winner.Name(), best.ValAccuracy, why))
	c := rep.Winner
	p.Strategy, p.TopK, p.Cut, p.FreezeDepth = c.Strategy, 0, "", 0
	switch c.Strategy {
	case StrategyTopK:
		p.TopK, p.FreezeDepth = c.TopK, g-c.TopK
	case StrategyFeatures:
		p.FreezeDepth = c.Keep
		if c.Keep < g-1 {
			p.Cut = c.Cut
		}
	case StrategyScratch:
		p.LR, p.LRLo = 3e-3, 3e-4
	}
	return nil
}

// curve describes the layer-wise probe in a reason.
func curve(pts []ProbePoint) string {
	s := fmt.Sprintf("layer-wise probe (%d-fold linear probe / nearest centroid):", ProbeFolds)
	best := 0
	for i, pt := range pts {
		sep := ","
		if i == 0 {
			sep = ""
		}
		s += fmt.Sprintf("%s %s %.3f/%.3f", sep, pt.Name(), pt.Linear, pt.Centroid)
		if pt.Linear > pts[best].Linear {
			best = i
		}
	}
	return s + fmt.Sprintf("; best linear probe below %s", pts[best].Name())
}

func seq(n int) []int { return seqFrom(0, n) }

// probeSet returns the per-class counts of d and a stratified sample of
// at most perClass examples per class (all of them when fewer), as
// Features in d's own space.
func probeSet(d nn.Dataset, perClass int, seed uint64) ([]int, *Features, error) {
	e := prod(d.ExampleShape())
	x := make([]float32, d.Len()*e)
	labels := make([]int, d.Len())
	if err := d.Load(x, labels, seq(d.Len())); err != nil {
		return nil, nil, fmt.Errorf("transfer: Advise: %w", err)
	}
	counts := make([]int, d.NumClasses())
	for _, l := range labels {
		if l < 0 || l >= len(counts) {
			return nil, nil, fmt.Errorf("transfer: Advise: label %d outside %d classes", l, len(counts))
		}
		counts[l]++
	}
	taken := make([]int, len(counts))
	f := &Features{Shape: d.ExampleShape(), Classes: d.NumClasses()}
	// A seeded order, then the first perClass of each class.
	order := seq(d.Len())
	r := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := len(order) - 1; i > 0; i-- {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		j := int(r % uint64(i+1))
		order[i], order[j] = order[j], order[i]
	}
	for _, i := range order {
		l := labels[i]
		if taken[l] >= perClass {
			continue
		}
		taken[l]++
		f.X = append(f.X, x[i*e:(i+1)*e]...)
		f.Labels = append(f.Labels, l)
	}
	return counts, f, nil
}

// nearestCentroidLOO returns the leave-one-out accuracy of the nearest
// class centroid on z-scored features: each example is classified by the
// centroids of the others (its own class's centroid without it).
func nearestCentroidLOO(f *Features) float64 {
	n, d := f.Len(), prod(f.Shape)
	if n == 0 {
		return 0
	}
	mean, sd := make([]float64, d), make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			sd[j] += dv * dv
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j]/float64(n)) + 1e-6
	}
	z := make([]float64, n*d)
	for i := 0; i < n; i++ {
		for j, v := range f.X[i*d : (i+1)*d] {
			z[i*d+j] = (float64(v) - mean[j]) / sd[j]
		}
	}
	k := f.Classes
	sum := make([]float64, k*d)
	cnt := make([]int, k)
	for i, l := range f.Labels {
		cnt[l]++
		for j := 0; j < d; j++ {
			sum[l*d+j] += z[i*d+j]
		}
	}
	correct := 0
	for i, l := range f.Labels {
		best, bestD := -1, math.Inf(1)
		for c := 0; c < k; c++ {
			m := cnt[c]
			if c == l {
				m--
			}
			if m <= 0 {
				continue
			}
			var dist float64
			for j := 0; j < d; j++ {
				s := sum[c*d+j]
				if c == l {
					s -= z[i*d+j]
				}
				dv := z[i*d+j] - s/float64(m)
				dist += dv * dv
			}
			if dist < bestD {
				best, bestD = c, dist
			}
		}
		if best == l {
			correct++
		}
	}
	return float64(correct) / float64(n)
}

// hasBatchNorm reports whether m holds a BatchNorm layer.
func hasBatchNorm(m nn.Layer) bool {
	found := false
	nn.Walk(m, func(_ string, l nn.Layer) {
		if _, ok := l.(*nn.BatchNorm); ok {
			found = true
		}
	})
	return found
}
