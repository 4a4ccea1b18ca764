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

// PlanBackprop derives the backprop plan of model for an input shape
// (batch first). It reads the Trainable flags as they are now and follows
// the containers' own rules (nn.Sequential, nn.Residual, nn.Concat), so
// the plan says exactly which Backward calls run and with what.
func PlanBackprop(model nn.Layer, input []int) (*BackpropPlan, error) {
	s, err := nn.Summarize(model, input)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	calls := map[string]bool{} // leaf name → Backward runs, with its needInputGrad
	traceBackward("", model, false, calls)
	p := &BackpropPlan{Lowest: len(s.Layers)}
	for i, r := range s.Layers {
		if r.Trainable > 0 {
			p.Lowest = i
			break
		}
	}
	for _, r := range s.Layers {
		pl := PlanLayer{LayerCost: r}
		need, runs := calls[r.Name]
		pl.Backward = runs
		pl.InputGrad = runs && need
		pl.WeightGrad = runs && r.Trainable > 0
		if pl.Backward {
			pl.KeptBytes = prod(r.InShape) * 4
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
	}
	return p, nil
}

// traceBackward records, for every leaf whose Backward a step calls, the
// needInputGrad it is called with, mirroring nn's containers.
func traceBackward(name string, l nn.Layer, need bool, calls map[string]bool) {
	if w, ok := l.(interface{ AsSequential() *nn.Sequential }); ok {
		l = w.AsSequential()
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	switch m := l.(type) {
	case *nn.Sequential:
		ch := m.Children()
		lowest := 0
		if !need {
			lowest = -1
			for i, c := range ch {
				if nn.HasTrainable(c.Value) {
					lowest = i
					break
				}
			}
			if lowest < 0 {
				return
			}
		}
		for i := len(ch) - 1; i >= lowest; i-- {
			traceBackward(join(name, ch[i].Name), ch[i].Value, need || i > lowest, calls)
		}
	case *nn.Residual:
		below := need || nn.HasTrainable(m.Main()) || (m.Shortcut != nil && nn.HasTrainable(m.Shortcut))
		if !below {
			return
		}
		if m.Post != nil {
			traceBackward(join(name, "post"), m.Post, true, calls)
		}
		traceBackward(name, m.Main(), need, calls)
		if m.Shortcut != nil {
			traceBackward(join(name, m.ShortcutName), m.Shortcut, need, calls)
		}
	case *nn.Concat:
		for _, b := range m.Children() {
			traceBackward(join(name, b.Name), b.Value, need, calls)
		}
	case *nn.Graph:
		// as Graph.Backward: a node runs when it trains or an input needs
		// a gradient
		needV := map[string]bool{m.Input(): need}
		nodes := m.Nodes()
		for i, n := range nodes {
			if !m.Runs(i) {
				continue
			}
			run := nn.HasTrainable(n.Layer)
			for _, v := range n.Inputs {
				run = run || needV[v]
			}
			needV[n.Output] = run
		}
		for i := len(nodes) - 1; i >= 0; i-- {
			n := nodes[i]
			if !m.Runs(i) || !needV[n.Output] {
				continue
			}
			in := false
			for _, v := range n.Inputs {
				in = in || needV[v]
			}
			traceBackward(join(name, n.Name), n.Layer, in, calls)
		}
	default:
		calls[name] = need
	}
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
