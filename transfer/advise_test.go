package transfer_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/transfer"
)

// advise runs the advisor's rules alone (no race) unless o sets a
// budget.
func advise(t *testing.T, d *data.Set, o transfer.AdviseOptions) *transfer.Plan {
	t.Helper()
	if o.Race.Budget == 0 {
		o.Race.Budget = -1
	}
	base := loadBase(t)
	before := modelcheck.State(base)
	p, err := transfer.Advise(context.Background(), base, d, o)
	if err != nil {
		t.Fatalf("Advise: %v", err)
	}
	tensorcheck.SameState(t, "base after Advise", modelcheck.State(base), before)
	t.Logf("plan %s: per class %d, features %.3f, pixels %.3f, similar %v, small %v", p.Strategy, p.PerClass, p.FeatureScore, p.PixelScore, p.Similar, p.Small)
	return p
}

// generalDepth is the deepest probe point whose linear-probe error is at
// most ratio × the pixels' (0: none).
func generalDepth(p *transfer.Plan, ratio float64) int {
	d := 0
	for _, pt := range p.Probe[1:] {
		if 1-pt.Linear <= ratio*(1-p.Probe[0].Linear) {
			d = pt.Groups
		}
	}
	return d
}

func mentions(t *testing.T, p *transfer.Plan, what string) {
	t.Helper()
	if !strings.Contains(strings.Join(p.Reasons, "\n"), what) {
		t.Errorf("reasons %q do not mention %q", p.Reasons, what)
	}
}

// The check 8: an MNIST trunk on digits at 10 per class is the
// small-and-similar case.
func TestAdviseDigits(t *testing.T) {
	shot, _ := digitsShot(t, 10, 1)
	p := advise(t, shot, transfer.AdviseOptions{})
	if p.Strategy != transfer.StrategyFeatures || !p.Similar || !p.Small {
		t.Errorf("digits at 10 per class: %s (top %d), similar %v, small %v; want features, similar, small", p.Strategy, p.TopK, p.Similar, p.Small)
	}
	if p.PerClass != 10 {
		t.Errorf("PerClass = %d, want 10", p.PerClass)
	}
	if !(p.FeatureScore > p.PixelScore) || p.FeatureScore < 0.8 || p.FeatureScore > 1 || p.PixelScore <= 0.1 {
		t.Errorf("scores: features %.3f, pixels %.3f", p.FeatureScore, p.PixelScore)
	}
	mentions(t, p, fmt.Sprintf("%.3f", p.FeatureScore))
	mentions(t, p, fmt.Sprintf("%.3f", p.PixelScore))
	mentions(t, p, "10 examples")
	if len(p.Reasons) < 3 {
		t.Errorf("%d reasons, want size, similarity and the decision", len(p.Reasons))
	}
	if g := len(loadBase(t).Groups); p.FreezeDepth != g-1 {
		t.Errorf("FreezeDepth = %d, want %d (all but the head)", p.FreezeDepth, g-1)
	}
	o := p.Options(9)
	if o.Strategy != transfer.StrategyFeatures || o.Seed != 9 || o.LR != p.LR || o.Freeze != p.Freeze {
		t.Errorf("Options(9) = %+v", o)
	}
	// Deterministic (but for the time it took).
	q := advise(t, shot, transfer.AdviseOptions{})
	q.Cost.Seconds, p.Cost.Seconds = 0, 0
	q.Reasons, p.Reasons = q.Reasons[:len(q.Reasons)-1], p.Reasons[:len(p.Reasons)-1]
	if !reflect.DeepEqual(p, q) {
		t.Errorf("a second Advise gave %+v, the first %+v", q, p)
	}
}

func TestAdviseFashion(t *testing.T) {
	fm := fashion(t)
	small, _, err := fm.FewShotSplit(10, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := advise(t, small, transfer.AdviseOptions{})
	if p.Similar || !p.Small {
		t.Errorf("Fashion at 10 per class: similar %v, small %v; want different, small", p.Similar, p.Small)
	}
	// different: as deep as the probe says the features beat pixels
	switch d := generalDepth(p, 0.7); {
	case d == 0:
		if p.Strategy != transfer.StrategyScratch {
			t.Errorf("no layer beats pixels (%+v): %s, want scratch", p.Probe, p.Strategy)
		}
		mentions(t, p, "no layer's features beat pixels")
	case d < len(p.Probe)-1:
		if p.Strategy != transfer.StrategyFeatures || p.FreezeDepth != d || p.Cut != p.Probe[d].Cut {
			t.Errorf("features below %s the deepest to beat pixels: %s, FreezeDepth %d, cut %q", p.Probe[d].Cut, p.Strategy, p.FreezeDepth, p.Cut)
		}
	default:
		if p.Strategy != transfer.StrategyAll || p.FreezeDepth != 0 || !(p.LRLo < p.LR) {
			t.Errorf("small and different: %s with %d groups frozen, rates %g..%g; want all", p.Strategy, p.FreezeDepth, p.LRLo, p.LR)
		}
	}
	mentions(t, p, "different")

	large, _, err := fm.FewShotSplit(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	p = advise(t, large, transfer.AdviseOptions{})
	if d := generalDepth(p, 0.7); d == 0 && p.Strategy != transfer.StrategyScratch || d > 0 && p.Strategy != transfer.StrategyAll {
		t.Errorf("Fashion at 100 per class: %s, features beat pixels to depth %d; want scratch at 0, else all", p.Strategy, d)
	}
	if p.Small || p.PerClass != 100 {
		t.Errorf("Fashion at 100 per class: small %v, per class %d", p.Small, p.PerClass)
	}

	// Very large (by a lowered threshold) and the features no better than
	// pixels: scratch; otherwise all.
	p = advise(t, small, transfer.AdviseOptions{SmallPerClass: 5, LargePerClass: 10})
	want := transfer.StrategyAll
	if p.FeatureScore <= p.PixelScore || generalDepth(p, 0.7) == 0 {
		want = transfer.StrategyScratch
	}
	if p.Strategy != want || p.Similar || p.Small {
		t.Errorf("Fashion, 10 per class counted very large: %s (similar %v, small %v), want %s", p.Strategy, p.Similar, p.Small, want)
	}
}

// The thresholds move the decision: the other two corners through digits.
func TestAdviseThresholds(t *testing.T) {
	shot, _ := digitsShot(t, 10, 1)
	g := len(loadBase(t).Groups)

	p := advise(t, shot, transfer.AdviseOptions{SmallPerClass: 5})
	if p.Strategy != transfer.StrategyAll || p.Small || !p.Similar || p.FreezeDepth != 0 {
		t.Errorf("large and similar: %s, small %v, similar %v, FreezeDepth %d; want all of %d groups", p.Strategy, p.Small, p.Similar, p.FreezeDepth, g)
	}
	if o := p.Options(1); o.Strategy != transfer.StrategyAll {
		t.Errorf("Options: %+v", o)
	}

	// An error ratio of 1% is too strict for these features, at every
	// layer: different, and no layer carries over.
	p = advise(t, shot, transfer.AdviseOptions{SimilarErrorRatio: 0.01})
	if p.Similar || p.Strategy != transfer.StrategyScratch {
		t.Errorf("SimilarErrorRatio 0.01: %s, similar %v; want scratch, different", p.Strategy, p.Similar)
	}

	// The probe reads at most ProbePerClass per class, but the size counts
	// every example.
	p = advise(t, shot, transfer.AdviseOptions{ProbePerClass: 4})
	if p.PerClass != 10 {
		t.Errorf("ProbePerClass 4: PerClass = %d, want 10", p.PerClass)
	}

	// The smallest class counts.
	idx := []int{}
	for i, l := range shot.Labels {
		if l != 3 || len(idx)%5 == 0 {
			idx = append(idx, i)
		}
	}
	uneven := shot.Subset(idx)
	smallest := uneven.Len()
	for _, c := range uneven.Counts() {
		smallest = min(smallest, c)
	}
	if p := advise(t, uneven, transfer.AdviseOptions{}); p.PerClass != smallest || smallest >= 10 {
		t.Errorf("uneven classes: PerClass = %d, want %d", p.PerClass, smallest)
	}
}

func TestAdviseErrors(t *testing.T) {
	base := loadBase(t)
	ctx := context.Background()
	shot, _ := digitsShot(t, 2, 1)
	bad := shot.Subset([]int{0, 1, 2})
	bad.Labels[1] = 12 // outside the 10 classes
	for _, c := range []struct {
		name string
		d    *data.Set
	}{
		{"32×32×3 data for a 28×28×1 model", randomSet(1, 10, 2, 32, 32, 3)},
		{"28×28×3 data", randomSet(1, 10, 2, 28, 28, 3)},
		{"no examples", shot.Subset(nil)},
		{"a label outside the classes", bad},
	} {
		if p, err := transfer.Advise(ctx, base, c.d, transfer.AdviseOptions{}); err == nil {
			t.Errorf("%s: no error (plan %s)", c.name, p.Strategy)
		}
	}
	if _, err := transfer.Advise(ctx, base, nil, transfer.AdviseOptions{}); err == nil {
		t.Error("nil data: no error")
	}
}
