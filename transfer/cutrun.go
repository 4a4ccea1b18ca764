package transfer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// RunCut is Yosinski et al.'s (2014) transfer at a depth: a copy of base
// keeps its first n layer groups, every group above them is
// re-initialised (the head sized for the target's classes), and the
// model trains on the target for epochs epochs at rate o.LR (default
// 3e-3, the rate of scratch: the groups above start from nothing). With
// fineTune false the n groups stay frozen (AnB; BnB when base was trained
// on the target's own task) and, under BNFreezeStats, the groups above
// train on cached features of the cut; with fineTune true every group
// trains (AnB⁺, BnB⁺). n = 0 is training from scratch; n = len(Groups) −
// 1 a new head on the frozen trunk. o.Strategy, TopK, HeadEpochs, Epochs
// and LRLo are ignored. The base is not modified.
func RunCut(ctx context.Context, base *models.Model, train, test nn.Dataset, n, epochs int, fineTune bool, o Options) (*Result, error) {
	g := len(base.Groups)
	if n < 0 || n >= g {
		return nil, fmt.Errorf("transfer: RunCut: keep %d groups of %d (the head is always new)", n, g)
	}
	if epochs < 1 {
		return nil, fmt.Errorf("transfer: RunCut: %d epochs", epochs)
	}
	if o.LR == 0 {
		o.LR = 3e-3
	}
	o.Strategy = StrategyScratch // for the defaults of the other fields
	o.HeadEpochs, o.Epochs = -1, epochs
	o.defaults()
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("transfer: no training examples")
	}
	if !slices.Equal(train.ExampleShape(), base.InputShape) {
		return nil, fmt.Errorf("transfer: %s takes %v examples, the data has %v", base.Arch, base.InputShape, train.ExampleShape())
	}
	if err := checkClasses(train); err != nil {
		return nil, err
	}
	start := time.Now()
	m, err := Copy(base)
	if err != nil {
		return nil, err
	}
	res := &Result{Strategy: StrategyFeatures, Model: m, BaseHash: WeightsHash(base), HeadLR: o.LR, LR: o.LR, LRLo: o.LR}
	if fineTune {
		res.Strategy = StrategyAll
	}
	if _, err := ReplaceHead(m, train.NumClasses(), o.Seed^0x4ead); err != nil {
		return nil, err
	}
	fresh, err := Scratch(m, o.Seed)
	if err != nil {
		return nil, err
	}
	for _, grp := range m.Groups[n:] {
		for _, name := range grp {
			src, err := nn.Find(fresh, name)
			if err != nil {
				return nil, err
			}
			dst, err := nn.Find(m, name)
			if err != nil {
				return nil, err
			}
			if _, err := nn.LoadState(nn.StateDict(src), dst, nn.LoadOptions{}); err != nil {
				return nil, fmt.Errorf("transfer: re-initialising %s: %w", name, err)
			}
		}
	}
	if n > 0 {
		res.Notices = append(res.Notices, fmt.Sprintf("kept %d layer groups of the base (below %s), re-initialised the %d above", n, m.Groups[n][0], g-n))
	}
	return res.finish(ctx, m, train, epochs, start, runCut(ctx, m, train, test, n, epochs, fineTune, o, res))
}

func runCut(ctx context.Context, m *models.Model, train, test nn.Dataset, n, epochs int, fineTune bool, o Options, res *Result) error {
	low := 0
	if !fineTune {
		low = n
	}
	if err := FreezeTo(m, low, o.Freeze); err != nil {
		return err
	}
	var params []nn.Named[*nn.Param]
	for _, grp := range m.Groups[low:] {
		for _, name := range grp {
			res.Trained = append(res.Trained, prefixed(m, name)...)
			l, err := nn.Find(m, name)
			if err != nil {
				return err
			}
			for _, p := range nn.Parameters(l) {
				params = append(params, nn.Named[*nn.Param]{Name: name + "." + p.Name, Value: p.Value})
			}
		}
	}
	groups := []*nn.Group{nn.NewGroup(params, o.LR, o.WeightDecay)}
	if low > 0 && o.Freeze.BN == BNFreezeStats && !o.Freeze.TrainBNAffine {
		cut := m.Groups[low][0]
		trunk, head, err := Cut(m, cut)
		if err != nil {
			return err
		}
		f, ftest, err := cachedFeatures(ctx, o.Cache, trunk, m.InputShape, train, test, cut, res)
		if err != nil {
			return err
		}
		if err := phase(ctx, head, f.Shape, f, groups, epochs, o, res); err != nil {
			return err
		}
		return evaluate(ctx, head, ftest, res)
	}
	if o.Augment != nil {
		train = o.Augment(train)
	}
	if err := phase(ctx, m, m.InputShape, train, groups, epochs, o, res); err != nil {
		return err
	}
	return evaluate(ctx, m, test, res)
}
