package transfer

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// counter is a dataset that counts its examples per class cheaply
// (data.Set, data.AugmentedSet's base).
type counter interface{ Counts() []int }

// classCounts returns the examples per class of d: from d.Counts when it
// has one, else by reading every label.
func classCounts(d nn.Dataset) ([]int, error) {
	if c, ok := d.(counter); ok {
		return c.Counts(), nil
	}
	labels, err := labelsOf(d)
	if err != nil {
		return nil, err
	}
	counts := make([]int, d.NumClasses())
	for _, l := range labels {
		if l < 0 || l >= len(counts) {
			return nil, fmt.Errorf("transfer: label %d outside %d classes", l, len(counts))
		}
		counts[l]++
	}
	return counts, nil
}

// checkClasses refuses training data a classifier cannot learn from: fewer
// than two classes (a one-class model predicts that class whatever it
// sees) or a class without an example.
func checkClasses(d nn.Dataset) error {
	if d.NumClasses() < 2 {
		return fmt.Errorf("transfer: the data has %d class; a classifier needs at least 2", d.NumClasses())
	}
	counts, err := classCounts(d)
	if err != nil {
		return err
	}
	if i := slices.Index(counts, 0); i >= 0 {
		return fmt.Errorf("transfer: class %d of %d has no training example", i, len(counts))
	}
	return nil
}

// SameClasses reports whether a head trained for the classes named base
// predicts the target's classes as they are: the same names in the same
// order. Unnamed classes (either list empty) count as the same when the
// counts agree.
func SameClasses(base, target []string) bool {
	if len(base) == 0 || len(target) == 0 {
		return true
	}
	return slices.Equal(base, target)
}

// newHead fits m's head to classes classes: a new one when the count
// differs (ReplaceHead), or, with reset, a re-initialised one of the same
// size; the notice says what changed ("" when the head is kept).
func newHead(m *models.Model, classes int, reset bool, seed uint64) (string, error) {
	note, err := ReplaceHead(m, classes, seed)
	if err != nil || note != "" || !reset {
		return note, err
	}
	_, _, full, _ := lastDense(m)
	if err := ResetHead(m, seed); err != nil {
		return "", err
	}
	return fmt.Sprintf("re-initialised head %s: its %d classes are not the target's", full, classes), nil
}
