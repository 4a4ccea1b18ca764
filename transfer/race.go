package transfer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// Candidate is one way to use the base that the advisor's race measures.
type Candidate struct {
	Strategy Strategy `json:"strategy"`
	// Keep, under StrategyFeatures, is how many layer groups of the base
	// stay (frozen) below the cut: len(Groups) − 1 is a new head on the
	// trunk's features; fewer re-initialise the groups above (RunCut).
	Keep int `json:"keep,omitempty"`
	// TopK is how many groups train under StrategyTopK.
	TopK int `json:"top_k,omitempty"`
	// Cut names the layer Keep cuts below ("" when Keep does not apply).
	Cut string `json:"cut,omitempty"`
}

// Name is the candidate as reports name it: "features" (a new head),
// "features@conv2" (a cut below conv2, the groups above re-initialised),
// "top-2", "all", "scratch".
func (c Candidate) Name() string {
	switch {
	case c.Strategy == StrategyTopK:
		return fmt.Sprintf("top-%d", c.TopK)
	case c.Strategy == StrategyFeatures && c.Cut != "":
		return "features@" + c.Cut
	}
	return string(c.Strategy)
}

// Candidates lists what the race measures for m: a new head on the
// features below each group boundary, top-k for every k between the head
// alone and everything, all, and scratch.
func Candidates(m *models.Model) []Candidate {
	g := len(m.Groups)
	var cs []Candidate
	for n := 1; n < g-1; n++ {
		cs = append(cs, Candidate{Strategy: StrategyFeatures, Keep: n, Cut: m.Groups[n][0]})
	}
	cs = append(cs, Candidate{Strategy: StrategyFeatures, Keep: g - 1})
	for k := 2; k < g; k++ {
		cs = append(cs, Candidate{Strategy: StrategyTopK, TopK: k})
	}
	return append(cs, Candidate{Strategy: StrategyAll}, Candidate{Strategy: StrategyScratch})
}

// RaceOptions tune the advisor's race; zero fields take the defaults.
type RaceOptions struct {
	// Budget is what the race may spend, as a multiple of the FLOPs of one
	// full fine-tune (every group, HeadEpochs + Epochs, on all the training
	// data); default 1. Negative: no race, the rules decide.
	Budget float64
	// HeadEpochs and Epochs are the full schedule a candidate's fraction
	// scales; defaults 30 and 10 (Run's).
	HeadEpochs, Epochs int
	// ValFrac of each class is held out to score the candidates; default
	// 0.2. Classes of fewer than MinPerClass examples (default 5) leave no
	// race: the rules decide.
	ValFrac     float64
	MinPerClass int
	// MinSteps is the fewest optimizer steps (over the whole schedule, at
	// the run's batch size) a raced run may take; default 30, three times
	// the warm-up of a schedule of 100. Shorter runs measure how fast a
	// candidate starts, not how good it ends (scratch after one epoch of
	// 5 steps scores near chance), so the first rung's
	// fraction is at least MinSteps' worth of epochs, and candidates whose
	// run at that fraction would break the budget are left out (never the
	// rules' pick: when it does not fit, the rules decide).
	MinSteps int
}

func (o *RaceOptions) defaults() {
	if o.Budget == 0 {
		o.Budget = 1
	}
	if o.HeadEpochs == 0 {
		o.HeadEpochs = 30
	}
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.ValFrac == 0 {
		o.ValFrac = 0.2
	}
	if o.MinPerClass == 0 {
		o.MinPerClass = 5
	}
	if o.MinSteps == 0 {
		o.MinSteps = 30
	}
}

// minFraction is the smallest rung fraction (1/64, 1/32, … 1) at which a
// schedule of head+epochs epochs over n examples in batches of batch
// takes at least steps optimizer steps.
func minFraction(n, batch, steps, head, epochs int) float64 {
	perEpoch := (n + batch - 1) / batch
	need := float64((steps+perEpoch-1)/perEpoch) / float64(head+epochs)
	f := 1.0 / 64
	for f < need && f < 1 {
		f *= 2
	}
	return math.Min(f, 1)
}

// Entry is one candidate's run in the race.
type Entry struct {
	Candidate Candidate `json:"candidate"`
	Name      string    `json:"name"`
	Rung      int       `json:"rung"`
	// Fraction of the full schedule it trained for; HeadEpochs and Epochs
	// what that came to.
	Fraction           float64 `json:"fraction"`
	HeadEpochs, Epochs int     `json:"-"`
	ValAccuracy        float64 `json:"val_accuracy"`
	FLOPs              float64 `json:"flops"`
	Seconds            float64 `json:"seconds"`
	// Prior is the candidate's rank under the size × similarity rules
	// (0 first): the tie-break.
	Prior int `json:"prior"`
}

// RaceReport is what the race measured and what it cost.
type RaceReport struct {
	Entries []Entry   `json:"entries"`
	Winner  Candidate `json:"winner"`
	// Train and Val are the sizes of the split of the training data.
	Train int `json:"train"`
	Val   int `json:"val"`
	// FullFineTune is the FLOPs of one full fine-tune of the training
	// data (the budget's unit), Budget the FLOPs allowed, Spent the FLOPs
	// the runs measured (the probe's included when Advise adds it).
	FullFineTune float64 `json:"full_finetune_flops"`
	Budget       float64 `json:"budget_flops"`
	Spent        float64 `json:"spent_flops"`
	Seconds      float64 `json:"seconds"`
	// Tolerance is the accuracy difference the race treats as a tie: one
	// standard error of the difference of two accuracies measured at the
	// best's rate on the validation split (√2 × the best's own standard
	// error): a candidate measured better than another by less is no
	// evidence that it is.
	Tolerance float64 `json:"tolerance"`
	// Dropped names the candidates left out: their shortest run alone
	// would break the budget.
	Dropped []string `json:"dropped,omitempty"`
	// MinFraction is the shortest schedule raced (RaceOptions.MinSteps).
	MinFraction float64 `json:"min_fraction"`
}

// errNoRace: the budget does not pay for the rules' pick and one other
// candidate at the shortest meaningful schedule.
var errNoRace = errors.New("transfer: race: the budget does not cover two candidates at the shortest meaningful schedule")

// subset is the examples idx of a dataset.
type subset struct {
	d   nn.Dataset
	idx []int
}

func (s *subset) Len() int            { return len(s.idx) }
func (s *subset) ExampleShape() []int { return s.d.ExampleShape() }
func (s *subset) NumClasses() int     { return s.d.NumClasses() }
func (s *subset) Load(x []float32, labels []int, idx []int) error {
	m := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(s.idx) {
			return fmt.Errorf("transfer: index %d out of [0, %d)", j, len(s.idx))
		}
		m[i] = s.idx[j]
	}
	return s.d.Load(x, labels, m)
}

// labelsOf reads every label of d (a Features' own Labels, not to be
// modified).
func labelsOf(d nn.Dataset) ([]int, error) {
	if f, ok := d.(*Features); ok {
		return f.Labels, nil
	}
	e := prod(d.ExampleShape())
	const chunk = 256
	x := make([]float32, chunk*e)
	out := make([]int, 0, d.Len())
	lb := make([]int, chunk)
	for s := 0; s < d.Len(); s += chunk {
		n := min(chunk, d.Len()-s)
		if err := d.Load(x[:n*e], lb[:n], seqFrom(s, n)); err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		out = append(out, lb[:n]...)
	}
	return out, nil
}

func seqFrom(s, n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = s + i
	}
	return idx
}

// valSplit holds out about frac of every class (at least one example, and
// one left to train on), in a seeded order.
func valSplit(d nn.Dataset, frac float64, seed uint64) (train, val *subset, err error) {
	labels, err := labelsOf(d)
	if err != nil {
		return nil, nil, err
	}
	byClass := make([][]int, d.NumClasses())
	for i, l := range labels {
		if l < 0 || l >= len(byClass) {
			return nil, nil, fmt.Errorf("transfer: label %d outside %d classes", l, len(byClass))
		}
		byClass[l] = append(byClass[l], i)
	}
	r := seed*0x9e3779b97f4a7c15 + 11
	train, val = &subset{d: d}, &subset{d: d}
	for _, m := range byClass {
		for i := len(m) - 1; i > 0; i-- {
			r ^= r << 13
			r ^= r >> 7
			r ^= r << 17
			j := int(r % uint64(i+1))
			m[i], m[j] = m[j], m[i]
		}
		k := min(max(int(math.Round(frac*float64(len(m)))), 1), len(m)-1)
		val.idx = append(val.idx, m[:k]...)
		train.idx = append(train.idx, m[k:]...)
	}
	slices.Sort(train.idx)
	slices.Sort(val.idx)
	return train, val, nil
}

// segmentFLOPs returns the forward FLOPs per example of each segment of
// base: below the first boundary, between boundaries, and the head.
func segmentFLOPs(base *models.Model) ([]float64, error) {
	segs, err := segments(base)
	if err != nil {
		return nil, err
	}
	bs := boundaries(base)
	_, head, err := Cut(base, bs[len(bs)-1])
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, len(segs)+1)
	shape := append([]int{1}, base.InputShape...)
	all := append(segs, head)
	for _, s := range all {
		p, err := PlanBackprop(s, shape)
		if err != nil {
			return nil, err
		}
		out = append(out, p.FwdFLOPs)
		if len(p.Layers) > 0 {
			shape = p.Layers[len(p.Layers)-1].OutShape
		}
	}
	return out, nil
}

// estimate is a candidate's FLOPs per training example at a schedule of
// head and group epochs (training counted as 3 forward passes: forward,
// and the backward's two products), and a full fine-tune's.
type estimator struct{ seg []float64 }

func (e estimator) below(n int) float64 {
	s := 0.0
	for _, v := range e.seg[:n] {
		s += v
	}
	return s
}

func (e estimator) total() float64 { return e.below(len(e.seg)) }

func (e estimator) cost(c Candidate, head, epochs int) float64 {
	g := len(e.seg)
	h := e.seg[g-1]
	trunk := e.below(g - 1)
	switch c.Strategy {
	case StrategyScratch:
		return float64(head+epochs) * 3 * e.total()
	case StrategyAll:
		return trunk + float64(head)*3*h + float64(epochs)*3*e.total()
	case StrategyTopK:
		low := g - c.TopK
		return trunk + float64(head)*3*h + e.below(low) + float64(epochs)*3*(e.total()-e.below(low))
	}
	if c.Keep >= g-1 {
		return trunk + float64(head)*3*h
	}
	return e.below(c.Keep) + float64(head+epochs)*3*(e.total()-e.below(c.Keep))
}

// schedule scales the full schedule by f (at least one epoch of each).
func schedule(f float64, head, epochs int) (int, int) {
	return max(1, int(math.Round(f*float64(head)))), max(1, int(math.Round(f*float64(epochs))))
}

// oneSchedule says whether a candidate trains in one phase (scratch, a
// cut below the trunk's top): its epochs are f of head + epochs, at least
// one, and its head epochs none.
func (c Candidate) oneSchedule(g int) bool {
	return c.Strategy == StrategyScratch || c.Strategy == StrategyFeatures && c.Keep < g-1
}

// scheduleOf is schedule for candidate c of a model of g groups.
func scheduleOf(c Candidate, g int, f float64, head, epochs int) (int, int) {
	if c.oneSchedule(g) {
		return 0, max(1, int(math.Round(f*float64(head+epochs))))
	}
	return schedule(f, head, epochs)
}

// RunCandidate trains candidate c of base on train for the given
// schedule and scores it on test; lr and lrLo are the rates of top-k and
// all (0: Run's defaults).
func RunCandidate(ctx context.Context, base *models.Model, train, test nn.Dataset, c Candidate, head, epochs int, lr, lrLo float64, o Options) (*Result, error) {
	o.HeadEpochs, o.Epochs = head, epochs
	if c.Strategy == StrategyScratch && head == 0 {
		o.HeadEpochs = -1
	}
	if c.Strategy == StrategyFeatures && c.Cut != "" && c.Keep < len(base.Groups)-1 {
		o.LR = 0
		return RunCut(ctx, base, train, test, c.Keep, head+epochs, false, o)
	}
	o.Strategy, o.TopK = c.Strategy, c.TopK
	if c.Strategy == StrategyTopK || c.Strategy == StrategyAll {
		o.LR, o.LRLo = lr, lrLo
	}
	return Run(ctx, base, train, test, o)
}

// race runs successive halving over the candidates on a validation split
// of train: every candidate trains for a fraction f0 of the full
// schedule, the better half (and the rules' pick, whatever its rank)
// goes on at twice the fraction, and so on
// until two are left or the full schedule is reached (rungs whose
// schedule rounds to the previous one's are skipped). f0 is the largest
// of 1/2, 1/4, … down to the shortest meaningful fraction (MinSteps)
// whose worst case (the costliest candidates surviving every rung) fits
// the budget, less spent (the probe's); candidates whose run at the
// shortest fraction would break it are left out, the costliest first but
// never the rules' pick, and named in Dropped (errNoRace, with the report
// so far, when not even the rules' pick and one other fit). The winner is
// the best of the last rung, or, among those within one standard error
// of a difference of it, the one the rules rank first (prior: candidate
// order, first best).
func race(ctx context.Context, base *models.Model, train nn.Dataset, prior []Candidate, lr, lrLo float64, spent float64, ro RaceOptions, o Options) (*RaceReport, error) {
	start := time.Now()
	tr, val, err := valSplit(train, ro.ValFrac, o.Seed)
	if err != nil {
		return nil, err
	}
	seg, err := segmentFLOPs(base)
	if err != nil {
		return nil, err
	}
	est := estimator{seg}
	rep := &RaceReport{Train: tr.Len(), Val: val.Len()}
	rep.FullFineTune = float64(train.Len()) * est.cost(Candidate{Strategy: StrategyAll}, ro.HeadEpochs, ro.Epochs)
	rep.Budget = ro.Budget * rep.FullFineTune
	left := rep.Budget - spent
	g := len(base.Groups)
	runCost := func(c Candidate, f float64) float64 {
		h, e := scheduleOf(c, g, f, ro.HeadEpochs, ro.Epochs)
		return float64(tr.Len())*est.cost(c, h, e) + float64(val.Len())*est.total()
	}
	// rungs lists the fractions of the rungs from f0: each doubles, and a
	// fraction whose schedule is the previous one's is skipped.
	rungs := func(f0 float64) []float64 {
		fs := []float64{f0}
		for f := f0; f < 1; {
			f = math.Min(2*f, 1)
			h0, e0 := schedule(fs[len(fs)-1], ro.HeadEpochs, ro.Epochs)
			if h, e := schedule(f, ro.HeadEpochs, ro.Epochs); h != h0 || e != e0 {
				fs = append(fs, f)
			}
		}
		return fs
	}
	worst := func(cands []Candidate, f0 float64) float64 {
		n, sum := len(cands), 0.0
		for _, f := range rungs(f0) {
			costs := make([]float64, len(cands))
			for i, c := range cands {
				costs[i] = runCost(c, f)
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(costs)))
			for _, v := range costs[:n] {
				sum += v
			}
			if n <= 2 {
				break
			}
			n = (n + 1) / 2
		}
		return sum
	}
	cands := slices.Clone(prior)
	batch := o.BatchSize
	if batch == 0 {
		batch = 32 // Run's default
	}
	fMin := minFraction(tr.Len(), batch, ro.MinSteps, ro.HeadEpochs, ro.Epochs)
	rep.MinFraction = fMin
	rung0 := func() float64 {
		sum := 0.0
		for _, c := range cands {
			sum += runCost(c, fMin)
		}
		return sum
	}
	// the costliest go first, never the rules' pick (prior[0]): the race
	// is there to find what beats it
	for len(cands) > 1 && rung0() > left {
		i := 1
		for j := 2; j < len(cands); j++ {
			if runCost(cands[j], fMin) > runCost(cands[i], fMin) {
				i = j
			}
		}
		rep.Dropped = append(rep.Dropped, cands[i].Name())
		cands = slices.Delete(cands, i, i+1)
	}
	if rung0() > left || len(cands) < 2 {
		rep.Seconds = time.Since(start).Seconds()
		return rep, errNoRace
	}
	f0 := fMin
	for f := 0.5; f >= fMin; f /= 2 {
		if worst(cands, f) <= left {
			f0 = f
			break
		}
	}
	rank := map[string]int{}
	for i, c := range prior {
		rank[c.Name()] = i
	}
	alive := cands
	cache := o.Cache
	if cache == nil {
		cache = &Cache{}
	}
	fs := rungs(f0)
	for r, f := range fs {
		var rung []Entry
		for _, c := range alive {
			h, e := scheduleOf(c, g, f, ro.HeadEpochs, ro.Epochs)
			oc := o
			oc.Cache, oc.Progress = cache, nil
			res, err := RunCandidate(ctx, base, tr, val, c, h, e, lr, lrLo, oc)
			if err != nil {
				return nil, fmt.Errorf("transfer: race: %s: %w", c.Name(), err)
			}
			rung = append(rung, Entry{Candidate: c, Name: c.Name(), Rung: r, Fraction: f, HeadEpochs: h, Epochs: e,
				ValAccuracy: res.Accuracy, FLOPs: res.Cost.FLOPs(), Seconds: res.Cost.Seconds, Prior: rank[c.Name()]})
			rep.Spent += res.Cost.FLOPs()
		}
		sort.SliceStable(rung, func(i, j int) bool {
			if rung[i].ValAccuracy != rung[j].ValAccuracy {
				return rung[i].ValAccuracy > rung[j].ValAccuracy
			}
			return rung[i].Prior < rung[j].Prior
		})
		rep.Entries = append(rep.Entries, rung...)
		next := rung[:(len(rung)+1)/2]
		// the rules' pick stays in the race to the end: the prior's
		// champion, beaten only by a candidate measured better than it
		for _, e := range rung[len(next):] {
			if e.Prior == 0 {
				next = append(slices.Clone(next), e)
			}
		}
		nextCost := 0.0
		if r+1 < len(fs) {
			for _, e := range next {
				nextCost += runCost(e.Candidate, fs[r+1])
			}
		}
		if len(rung) <= 2 || r+1 == len(fs) || spent+rep.Spent+nextCost > rep.Budget {
			best := rung[0].ValAccuracy
			rep.Tolerance = math.Sqrt(2 * math.Max(best*(1-best), 1/float64(val.Len())) / float64(val.Len()))
			win := rung[0]
			for _, e := range rung {
				if e.ValAccuracy >= best-rep.Tolerance && e.Prior < win.Prior {
					win = e
				}
			}
			rep.Winner = win.Candidate
			break
		}
		alive = nil
		for _, e := range next {
			alive = append(alive, e.Candidate)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// priorOrder ranks the candidates by the size × similarity rules: the
// rules' own pick first, then, for similar data, the least change first
// when small (a head, then the fewest groups) and the most when large;
// for different data, training every group first, then the lower cuts
// before the higher (the top features are the base task's), scratch
// early only when large.
func priorOrder(cs []Candidate, pick Candidate, g int, similar, small bool) []Candidate {
	key := func(c Candidate) float64 {
		var k float64
		switch c.Strategy {
		case StrategyFeatures:
			if similar {
				k = 10 + float64(g-c.Keep) // the head first, then lower cuts
			} else {
				k = 30 + float64(c.Keep) // lower cuts first
			}
			if !small {
				k += 20
			}
		case StrategyTopK:
			if similar && small {
				k = 20 + float64(c.TopK)
			} else {
				k = 10 + float64(g-c.TopK)
			}
		case StrategyAll:
			k = 5
			if similar && small {
				k = 25
			}
		case StrategyScratch:
			k = 100
			if !similar && !small {
				k = 6
			}
		}
		if c.Name() == pick.Name() {
			k = -1
		}
		return k
	}
	out := slices.Clone(cs)
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

// RunPlan carries out an advisor's plan on base: Run with the plan's
// options, or RunCut for a cut below the trunk's top (the groups above
// it re-initialised and trained for HeadEpochs + Epochs). o's Strategy,
// TopK and rates are the plan's.
func RunPlan(ctx context.Context, base *models.Model, train, test nn.Dataset, p *Plan, o Options) (*Result, error) {
	po := p.Options(o.Seed)
	o.Strategy, o.TopK, o.LR, o.LRLo, o.Freeze = po.Strategy, po.TopK, po.LR, po.LRLo, po.Freeze
	if p.Strategy == StrategyFeatures && p.Cut != "" {
		head, epochs := o.HeadEpochs, o.Epochs
		if head == 0 {
			head = 30
		}
		if epochs == 0 {
			epochs = 10
		}
		o.LR = 0
		return RunCut(ctx, base, train, test, p.FreezeDepth, max(head, 0)+max(epochs, 0), false, o)
	}
	return Run(ctx, base, train, test, o)
}
