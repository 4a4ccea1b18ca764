package models

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/nn"
)

// FromGraph returns an imported graph as a Model, the base every
// transfer function takes: the graph structured into Sequentials where
// it is a chain (nn.Structure, names kept; nodes the graph's output does
// not depend on left out), a final Softmax dropped (the losses take
// logits), the last top-level child as the head when it ends in a Dense
// layer (no head otherwise), and layer groups from the input up by
// spatial resolution (GroupsByResolution), the head last. shape is the
// input's (H, W, C); source is recorded in the checkpoints (MetaSource).
func FromGraph(g *nn.Graph, shape []int, source string) (*Model, error) {
	if len(shape) != 3 {
		return nil, fmt.Errorf("input shape %v: a transferable model takes images [H, W, C]", shape)
	}
	l, err := nn.Structure(g)
	if err != nil {
		return nil, err
	}
	s, ok := l.(*nn.Sequential)
	if !ok || s.Len() == 0 {
		return nil, fmt.Errorf("the graph does not structure into a Sequential (%T)", l)
	}
	dropSoftmax(s)
	if s.Len() == 0 {
		return nil, fmt.Errorf("the graph is only a Softmax")
	}
	last := s.Children()[s.Len()-1]
	var head []string
	if endsWithDense(last.Value) && s.Len() > 1 {
		head = []string{last.Name}
	}
	groups, err := GroupsByResolution(s, shape, head)
	if err != nil {
		return nil, err
	}
	return NewImported(s, slices.Clone(shape), head, groups, source)
}

// SetNormalisation sets the per-channel mean and standard deviation the
// model's inputs (pixels in [0, 1]) are normalised with, checking them
// against the input's channels (nil leaves the value as it is).
func (m *Model) SetNormalisation(mean, std []float32) error {
	c := 0
	if len(m.InputShape) > 0 {
		c = m.InputShape[len(m.InputShape)-1]
	}
	if (mean != nil && len(mean) != c) || (std != nil && len(std) != c) {
		return fmt.Errorf("mean %v and std %v for %d channels", mean, std, c)
	}
	for _, v := range std {
		if !(v > 0) {
			return fmt.Errorf("std %v: must be positive", std)
		}
	}
	if mean != nil {
		m.Mean = mean
	}
	if std != nil {
		m.Std = std
	}
	return nil
}

// dropSoftmax removes a final Softmax (at the top or ending the last
// child), so the model gives logits.
func dropSoftmax(s *nn.Sequential) {
	for {
		n := s.Len()
		if n == 0 {
			return
		}
		switch l := s.Layer(n - 1).(type) {
		case *nn.Softmax:
			s.Truncate(n - 1)
			continue
		case *nn.Sequential:
			if l.Len() > 1 {
				if _, ok := l.Layer(l.Len() - 1).(*nn.Softmax); ok {
					l.Truncate(l.Len() - 1)
				}
			}
		}
		return
	}
}

func endsWithDense(l nn.Layer) bool {
	for {
		switch m := l.(type) {
		case *nn.Dense:
			return true
		case *nn.Sequential:
			if m.Len() == 0 {
				return false
			}
			l = m.Layer(m.Len() - 1)
		default:
			return false
		}
	}
}
