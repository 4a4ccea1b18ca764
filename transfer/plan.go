package transfer

import (
	"fmt"

	"github.com/graftml/graft/nn"
)

// PlanLayer is one leaf layer's part in a training step.
type PlanLayer struct {
	nn.LayerCost
	WeightGrad bool // computes gradients for its trainable parameters
	InputGrad  bool // computes its input gradient (a trainable layer lies below)
	Backward   bool // runs any backward work at all
	KeptBytes  int  // activation bytes its backward pass reads (its input), 0 below the lowest trainable layer
}

// BackpropPlan is what one training step of a partly frozen model computes,
// derived from which parameters are trainable: frozen layers compute no
// weight gradients, and below the lowest trainable layer nothing runs
// backward and no activation is needed for it (nn.Sequential stops there).
type BackpropPlan struct {
	Layers []PlanLayer
	// Lowest is the index in Layers of the lowest layer with a trainable
	// parameter (len(Layers) when nothing trains).
	Lowest int
	// Per batch of the planned input shape:
	FwdFLOPs, BwdFLOPs float64
	KeptBytes          int
}

// PlanBackprop derives the backprop plan of model for an input shape (batch
// first). It reads the Trainable flags as they are now.
func PlanBackprop(model nn.Layer, input []int) (*BackpropPlan, error) {
	s, err := nn.Summarize(model, input)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	p := &BackpropPlan{Lowest: len(s.Layers)}
	for i, r := range s.Layers {
		if r.Trainable > 0 {
			p.Lowest = i
			break
		}
	}
	inBytes := prod(input) * 4
	for i, r := range s.Layers {
		pl := PlanLayer{LayerCost: r}
		pl.WeightGrad = r.Trainable > 0
		pl.InputGrad = i > p.Lowest
		pl.Backward = i >= p.Lowest
		if pl.Backward {
			pl.KeptBytes = inBytes
		}
		p.FwdFLOPs += r.FwdFLOPs
		if pl.WeightGrad {
			p.BwdFLOPs += r.BwdWeightFLOPs * float64(r.Trainable) / float64(max(r.Params, 1))
		}
		if pl.InputGrad {
			p.BwdFLOPs += r.BwdDataFLOPs
		}
		p.KeptBytes += pl.KeptBytes
		p.Layers = append(p.Layers, pl)
		inBytes = prod(r.OutShape) * 4
	}
	return p, nil
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// StepFLOPs returns a training step's forward plus backward FLOPs per
// example.
func (p *BackpropPlan) StepFLOPs(batch int) float64 {
	return (p.FwdFLOPs + p.BwdFLOPs) / float64(batch)
}
