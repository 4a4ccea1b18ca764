package transfer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/transfer"
)

// The race measures every candidate on a validation split of the
// training data within its budget, says what it cost, and its pick is a
// candidate that did best (or tied the best and ranked higher).
func TestAdviseRace(t *testing.T) {
	shot, _ := digitsShot(t, 10, 1)
	base := loadBase(t)
	before := modelcheck.State(base)
	p, err := transfer.Advise(context.Background(), base, shot, transfer.AdviseOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tensorcheck.SameState(t, "base after the race", modelcheck.State(base), before)
	r := p.Race
	if r == nil {
		t.Fatal("no race")
	}
	if r.Train != 80 || r.Val != 20 {
		t.Errorf("split %d/%d, want 80/20", r.Train, r.Val)
	}
	names := map[string]bool{}
	for _, e := range r.Entries {
		if e.Rung == 0 {
			names[e.Name] = true
		}
		if e.FLOPs <= 0 || e.ValAccuracy < 0 || e.ValAccuracy > 1 {
			t.Errorf("entry %+v", e)
		}
	}
	for _, c := range transfer.Candidates(base) {
		if !names[c.Name()] && !strings.Contains(strings.Join(r.Dropped, ","), c.Name()) {
			t.Errorf("candidate %s neither raced nor dropped", c.Name())
		}
	}
	// the rules' pick runs in every rung
	rungs := map[int]bool{}
	for _, e := range r.Entries {
		rungs[e.Rung] = rungs[e.Rung] || e.Prior == 0 && e.Candidate == p.Rules
	}
	for rung, ok := range rungs {
		if !ok {
			t.Errorf("rung %d lacks the rules' pick %s", rung, p.Rules.Name())
		}
	}
	if slices.Contains(r.Dropped, p.Rules.Name()) {
		t.Errorf("the rules' pick %s dropped: %v", p.Rules.Name(), r.Dropped)
	}
	if r.MinFraction <= 0 || r.Entries[0].Fraction < r.MinFraction {
		t.Errorf("rung 0 at %g of the schedule, below the shortest meaningful %g", r.Entries[0].Fraction, r.MinFraction)
	}
	if len(names) < 4 {
		t.Errorf("rung 0 raced %d candidates: %v", len(names), names)
	}
	if p.Cost.FLOPs() > p.FullFineTune || p.Cost.FLOPs() <= r.Spent || r.Spent <= 0 {
		t.Errorf("advice cost %.3g FLOPs (race %.3g), a full fine-tune %.3g: want race < cost ≤ 1×", p.Cost.FLOPs(), r.Spent, p.FullFineTune)
	}
	if p.Strategy != r.Winner.Strategy {
		t.Errorf("plan %s, race winner %s", p.Strategy, r.Winner.Name())
	}
	mentions(t, p, fmt.Sprintf("the race picks %s", r.Winner.Name()))
	mentions(t, p, "the advice cost")
	mentions(t, p, "layer-wise probe")
	for _, why := range p.Reasons {
		if !strings.ContainsAny(why, "0123456789") {
			t.Errorf("a reason without its numbers: %q", why)
		}
	}
	// a smaller budget spends less
	q, err := transfer.Advise(context.Background(), base, shot, transfer.AdviseOptions{Seed: 1, Race: transfer.RaceOptions{Budget: 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Cost.FLOPs() > 0.3*q.FullFineTune || q.Race == nil {
		t.Errorf("budget 0.3: spent %.3g of %.3g", q.Cost.FLOPs(), q.FullFineTune)
	}
	// A budget that pays for no meaningful run leaves the rules to decide.
	z, err := transfer.Advise(context.Background(), base, shot, transfer.AdviseOptions{Seed: 1, Race: transfer.RaceOptions{Budget: 1e-6}})
	if err != nil {
		t.Fatal(err)
	}
	if z.Race != nil || z.Strategy != z.Rules.Strategy || z.Cost.FLOPs() > q.Cost.FLOPs() {
		t.Errorf("budget 1e-6: race %v, plan %s, rules %s", z.Race != nil, z.Strategy, z.Rules.Name())
	}
	mentions(t, z, "no race: the budget")
	// Carried out, a plan runs what it says.
	res, err := transfer.RunPlan(context.Background(), base, shot, nil, p, transfer.Options{Seed: 1, HeadEpochs: 2, Epochs: 1})
	if err != nil || res.Strategy != p.Strategy && p.Cut == "" {
		t.Errorf("RunPlan: %v, %v", res, err)
	}
}

// RunCut keeps the first n groups (frozen unless fine-tuned) and
// re-initialises the rest.
func TestRunCut(t *testing.T) {
	base := loadBase(t)
	train, _ := digitsShot(t, 3, 1)
	b := modelcheck.State(base)
	for _, plus := range []bool{false, true} {
		res, err := transfer.RunCut(context.Background(), base, train, nil, 2, 1, plus, transfer.Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		s := modelcheck.State(res.Model)
		for name, v := range s {
			kept := strings.HasPrefix(name, "conv1.") || strings.HasPrefix(name, "conv2.")
			same := tensorcheck.BitsEqual(v, b[name])
			if kept && same == plus || !kept && same {
				t.Errorf("plus %v: %s unchanged %v", plus, name, same)
			}
		}
	}
	if _, err := transfer.RunCut(context.Background(), base, train, nil, 4, 1, false, transfer.Options{}); err == nil {
		t.Error("keeping every group (the head too) accepted")
	}
}
