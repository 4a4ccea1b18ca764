// Package transfer re-purposes trained networks for new tasks: freezing by
// layer, name pattern or depth, partial backprop plans, feature extraction
// with a cache, head surgery, re-initialisation, a fastai-style
// fine-tuning recipe, a scenario advisor and the cost report that measures
// what transfer saves over training from scratch.
//
// Freezing sets three separate switches: a parameter's
// Trainable flag, a BatchNorm's FreezeStats, and the model's training mode.
// Each stays set until changed; switching the mode never undoes a freeze.
package transfer

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// BNPolicy says what freezing does to the BatchNorm layers it covers.
type BNPolicy int

const (
	// BNFreezeStats makes a frozen BatchNorm normalise with, and keep, its
	// running statistics (Keras's behaviour: the trunk sees the
	// statistics it was trained with, and small target batches cannot
	// disturb them). The default.
	BNFreezeStats BNPolicy = iota
	// BNUpdateStats lets a frozen BatchNorm normalise with batch
	// statistics and update its running ones (PyTorch's behaviour when
	// only requires_grad is switched off).
	BNUpdateStats
)

// FreezeOptions say how a freeze treats BatchNorm.
type FreezeOptions struct {
	BN BNPolicy
	// TrainBNAffine keeps the weight and bias of frozen BatchNorms
	// trainable (fastai's train_bn: cheap, and it lets the frozen trunk
	// adapt its scale to the new data).
	TrainBNAffine bool
}

// setLayer sets the trainable switch of one layer's own parameters and,
// for a BatchNorm, its statistics switch.
func setLayer(l nn.Layer, trainable bool, o FreezeOptions) {
	bn, isBN := l.(*nn.BatchNorm)
	for _, p := range l.Params() {
		p.Value.Trainable = trainable || (isBN && o.TrainBNAffine)
	}
	if isBN {
		bn.FreezeStats = !trainable && o.BN == BNFreezeStats
	}
}

// setTree applies setLayer to l and everything under it.
func setTree(l nn.Layer, trainable bool, o FreezeOptions) {
	nn.Walk(l, func(_ string, m nn.Layer) { setLayer(m, trainable, o) })
}

// Freeze freezes the layers at the dotted names (and everything under
// them); no names freezes the whole model.
func Freeze(model nn.Layer, o FreezeOptions, names ...string) error {
	return setNamed(model, false, o, names)
}

// Unfreeze makes the layers at the names trainable again (their BatchNorms
// back to batch statistics); no names unfreezes the whole model.
func Unfreeze(model nn.Layer, names ...string) error {
	return setNamed(model, true, FreezeOptions{}, names)
}

func setNamed(model nn.Layer, trainable bool, o FreezeOptions, names []string) error {
	if len(names) == 0 {
		setTree(model, trainable, o)
		return nil
	}
	layers := make([]nn.Layer, len(names))
	for i, n := range names { // every name first: an unknown one changes nothing
		l, err := nn.Find(model, n)
		if err != nil {
			return fmt.Errorf("transfer: %w", err)
		}
		layers[i] = l
	}
	for _, l := range layers {
		setTree(l, trainable, o)
	}
	return nil
}

// FreezeMatching freezes (or, with trainable set, unfreezes) every
// parameter whose dotted name matches the glob pattern (path.Match syntax,
// e.g. "layer1.*" or "*.bn?.weight"; a pattern without wildcards matches
// that name and every name below it). It returns how many parameters
// matched; BatchNorm statistics are left as they are.
func FreezeMatching(model nn.Layer, pattern string, trainable bool) (int, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return 0, fmt.Errorf("transfer: bad pattern %q: %v", pattern, err)
	}
	n := 0
	for _, p := range nn.Parameters(model) {
		ok, _ := path.Match(pattern, p.Name)
		if ok || strings.HasPrefix(p.Name, pattern+".") {
			p.Value.Trainable = trainable
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("transfer: no parameter matches %q", pattern)
	}
	return n, nil
}

// FreezeTo freezes the model's layer groups below group n and unfreezes
// the rest (fastai's freeze_to): n = 0 trains everything, n = len(Groups)
// − 1 only the head, and a negative n counts from the end (−1: the head
// alone).
func FreezeTo(m *models.Model, n int, o FreezeOptions) error {
	g := len(m.Groups)
	if n < 0 {
		n += g
	}
	if n < 0 || n > g {
		return fmt.Errorf("transfer: freeze to group %d of %d", n, g)
	}
	for i, grp := range m.Groups {
		for _, name := range grp {
			l, err := nn.Find(m, name)
			if err != nil {
				return fmt.Errorf("transfer: group %d: %w", i, err)
			}
			setTree(l, i >= n, o)
		}
	}
	return nil
}

// TrainableGroups returns, for each layer group, whether any of its
// parameters is trainable.
func TrainableGroups(m *models.Model) []bool {
	out := make([]bool, len(m.Groups))
	for i, grp := range m.Groups {
		for _, name := range grp {
			if l, err := nn.Find(m, name); err == nil && nn.HasTrainable(l) {
				out[i] = true
			}
		}
	}
	return out
}

// FrozenNames returns the names of the frozen parameters, sorted.
func FrozenNames(model nn.Layer) []string {
	var out []string
	for _, p := range nn.Parameters(model) {
		if !p.Value.Trainable {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}
