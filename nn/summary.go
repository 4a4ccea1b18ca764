package nn

import (
	"fmt"
	"strings"

	"github.com/graftml/graft/tensor"
)

// LayerCost is one row of a model summary: a leaf layer, its output shape
// and its cost for one batch of the summarised input shape.
type LayerCost struct {
	Name      string // dotted, as in parameter names
	Type      string
	InShape   []int
	OutShape  []int
	Params    int // elements of the layer's own parameters
	Trainable int // of which trainable
	// FwdFLOPs, BwdDataFLOPs and BwdWeightFLOPs count 2 per
	// multiply-add of the convolutions and dense layers (elementwise
	// layers, pooling and normalisation are not counted: they are a few
	// percent of a CNN's work).
	FwdFLOPs, BwdDataFLOPs, BwdWeightFLOPs float64
}

// Summary is a model's per-layer costs for an input shape.
type Summary struct {
	Input  []int
	Layers []LayerCost
}

// Summarize runs the model's inference path on zeros of the input shape
// (batch first, e.g. [1, 28, 28, 1]) and returns each leaf layer's output
// shape, parameters and FLOPs. A shape the model cannot take is an error.
//
// A failure on the GPU returns an error wrapping the *tensor.DeviceError; a
// panic that is neither a check's nor the device's (a bug) goes on.
func Summarize(model Layer, input []int) (_ *Summary, err error) {
	defer tensor.RecoverInput("nn.Summarize", input, &err)
	s := &Summary{Input: append([]int(nil), input...)}
	x := tensor.Zeros(input...)
	if be := BackendOf(model); be != nil {
		x.MoveTo(be) // where the model was moved
	}
	s.walk("", model, x)
	return s, nil
}

func (s *Summary) walk(name string, l Layer, x *tensor.Tensor) *tensor.Tensor {
	if w, ok := l.(interface{ AsSequential() *Sequential }); ok {
		l = w.AsSequential()
	}
	switch m := l.(type) {
	case *Sequential:
		for _, c := range m.layers {
			x = s.walk(join(name, c.Name), c.Value, x)
		}
		return x
	case *Residual:
		h := s.walk(name, m.main, x)
		sc := x
		if m.Shortcut != nil {
			sc = s.walk(join(name, m.ShortcutName), m.Shortcut, x)
		}
		y := tensor.ZerosLike(h, h.Shape()...)
		m.add(y, h, sc)
		if m.Post != nil {
			y = s.walk(join(name, "post"), m.Post, y)
		}
		return y
	case *Graph:
		vals := map[string]*tensor.Tensor{m.input: x}
		for i, n := range m.nodes {
			if !m.live[i] { // does not run: the output does not read it
				continue
			}
			if mi, ok := n.Layer.(MultiInput); ok && len(n.Inputs) > 1 {
				xs := make([]*tensor.Tensor, len(n.Inputs))
				for i, v := range n.Inputs {
					xs[i] = vals[v]
				}
				y := mi.InferN(xs)
				s.add(join(name, n.Name), n.Layer, xs[0], y)
				vals[n.Output] = y
				continue
			}
			vals[n.Output] = s.walk(join(name, n.Name), n.Layer, vals[n.Inputs[0]])
		}
		return vals[m.output]
	case *Concat:
		outs := make([]*tensor.Tensor, len(m.branches))
		for i, b := range m.branches {
			outs[i] = s.walk(join(name, b.Name), b.Value, x)
		}
		return concatFresh(outs)
	}
	y := l.Infer(x) // a leaf, or a container of the user's: one row for all of it
	s.add(name, l, x, y)
	return y
}

func (s *Summary) add(name string, l Layer, x, y *tensor.Tensor) {
	r := LayerCost{Name: name, Type: strings.TrimPrefix(fmt.Sprintf("%T", l), "*nn."),
		InShape: append([]int(nil), x.Shape()...), OutShape: append([]int(nil), y.Shape()...)}
	for _, p := range Parameters(l) {
		r.Params += p.Value.Value.Len()
		if p.Value.Trainable {
			r.Trainable += p.Value.Value.Len()
		}
	}
	switch m := l.(type) {
	case *Conv2D:
		f := tensor.ConvFLOPs(x, m.Weight.Value, m.params2(x))
		r.FwdFLOPs, r.BwdDataFLOPs, r.BwdWeightFLOPs = f, f, f
	case *Dense:
		f := 2 * float64(x.Dim(0)) * float64(m.In) * float64(m.Out)
		r.FwdFLOPs, r.BwdDataFLOPs, r.BwdWeightFLOPs = f, f, f
	case *Act:
		r.Type = "Act(" + m.Kind.String() + ")"
	}
	s.Layers = append(s.Layers, r)
}

// Totals returns the sums over the layers.
func (s *Summary) Totals() LayerCost {
	var t LayerCost
	for _, r := range s.Layers {
		t.Params += r.Params
		t.Trainable += r.Trainable
		t.FwdFLOPs += r.FwdFLOPs
		t.BwdDataFLOPs += r.BwdDataFLOPs
		t.BwdWeightFLOPs += r.BwdWeightFLOPs
	}
	return t
}

// String formats the summary as a table.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %-14s %-18s %10s %10s %10s\n", "layer", "type", "output", "params", "fwd MFLOP", "bwd MFLOP")
	for _, r := range s.Layers {
		fmt.Fprintf(&b, "%-28s %-14s %-18s %10d %10.2f %10.2f\n", r.Name, r.Type, fmt.Sprint(r.OutShape), r.Params,
			r.FwdFLOPs/1e6, (r.BwdDataFLOPs+r.BwdWeightFLOPs)/1e6)
	}
	t := s.Totals()
	fmt.Fprintf(&b, "%-28s %-14s %-18s %10d %10.2f %10.2f\n", "total", "", fmt.Sprint(s.Input), t.Params,
		t.FwdFLOPs/1e6, (t.BwdDataFLOPs+t.BwdWeightFLOPs)/1e6)
	fmt.Fprintf(&b, "trainable parameters: %d of %d\n", t.Trainable, t.Params)
	return b.String()
}

// Predict runs the model's inference path (Infer) on x and returns an error
// instead of panicking when x does not fit the model (a layer's or an
// operation's check panics), or when an operation fails on the GPU (the
// error wraps the *tensor.DeviceError, for errors.As). Any other panic (a
// bug) goes on, with its stack.
func Predict(model Layer, x *tensor.Tensor) (_ *tensor.Tensor, err error) {
	defer tensor.RecoverInput("nn.Predict", x.Shape(), &err)
	return model.Infer(x), nil
}
