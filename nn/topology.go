package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/graftml/graft/tensor"
)

// The topology of a layer tree is its structure and every layer's
// configuration, without the weights: with a checkpoint's tensors it
// rebuilds a model that no architecture name describes (an imported one).
// It is JSON; decoding it builds only graft's own layer types from plain
// values, so a hostile topology can give an error but never run anything.

// layerSpec is one layer of a topology.
type layerSpec struct {
	Type string `json:"type"`

	In       int                `json:"in,omitempty"`
	Out      int                `json:"out,omitempty"`
	KH       int                `json:"kh,omitempty"`
	KW       int                `json:"kw,omitempty"`
	C        int                `json:"c,omitempty"`
	Axis     int                `json:"axis,omitempty"`
	Op       int                `json:"op,omitempty"`
	Conv     *tensor.ConvParams `json:"conv,omitempty"`
	Pool     *tensor.PoolParams `json:"pool,omitempty"`
	Same     bool               `json:"same,omitempty"`
	Bias     bool               `json:"bias,omitempty"`
	KeepDims bool               `json:"keep_dims,omitempty"`
	ReLU     bool               `json:"relu,omitempty"`
	First    bool               `json:"const_first,omitempty"`
	Alpha    float32            `json:"alpha,omitempty"`
	Beta     float32            `json:"beta,omitempty"`
	Eps      float32            `json:"eps,omitempty"`
	Momentum float32            `json:"momentum,omitempty"`
	P        float32            `json:"p,omitempty"`
	Min      float64            `json:"min,omitempty"`
	Max      float64            `json:"max,omitempty"`
	Value    float32            `json:"value,omitempty"`
	Seed     uint64             `json:"seed,omitempty"`
	Shape    []int              `json:"shape,omitempty"`
	Pads     []int              `json:"pads,omitempty"`

	Children []namedSpec `json:"children,omitempty"`
	Input    string      `json:"input,omitempty"`
	Output   string      `json:"output,omitempty"`
	Nodes    []nodeSpec  `json:"nodes,omitempty"`
}

type namedSpec struct {
	Name  string    `json:"name"`
	Layer layerSpec `json:"layer"`
}

type nodeSpec struct {
	Name   string    `json:"name"`
	Inputs []string  `json:"inputs"`
	Output string    `json:"output"`
	Layer  layerSpec `json:"layer"`
}

// EncodeTopology describes the layer tree l as JSON. Layers of types the
// topology does not know are an error.
func EncodeTopology(l Layer) ([]byte, error) {
	s, err := specOf(l)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// finite replaces an infinite bound by the largest float32 of its sign
// (JSON has no infinities; clamping to it is the same).
func finite(v float32) float64 {
	switch {
	case math.IsInf(float64(v), 1):
		return math.MaxFloat32
	case math.IsInf(float64(v), -1):
		return -math.MaxFloat32
	}
	return float64(v)
}

func specOf(l Layer) (layerSpec, error) {
	if w, ok := l.(interface{ AsSequential() *Sequential }); ok {
		l = w.AsSequential()
	}
	switch m := l.(type) {
	case *Sequential:
		s := layerSpec{Type: "Sequential"}
		for _, c := range m.layers {
			cs, err := specOf(c.Value)
			if err != nil {
				return s, fmt.Errorf("%s: %w", c.Name, err)
			}
			s.Children = append(s.Children, namedSpec{c.Name, cs})
		}
		return s, nil
	case *Graph:
		s := layerSpec{Type: "Graph", Input: m.input, Output: m.output}
		for _, n := range m.nodes {
			ns, err := specOf(n.Layer)
			if err != nil {
				return s, fmt.Errorf("%s: %w", n.Name, err)
			}
			s.Nodes = append(s.Nodes, nodeSpec{n.Name, n.Inputs, n.Output, ns})
		}
		return s, nil
	case *Conv2D:
		p := m.P
		return layerSpec{Type: "Conv2D", In: m.In, Out: m.Out, KH: m.KH, KW: m.KW, Conv: &p, Same: m.Same, Bias: m.Bias != nil}, nil
	case *Dense:
		return layerSpec{Type: "Dense", In: m.In, Out: m.Out, Bias: m.Bias != nil}, nil
	case *BatchNorm:
		return layerSpec{Type: "BatchNorm", C: m.C, Eps: m.Eps, Momentum: m.Momentum, ReLU: m.ReLU}, nil
	case *Act:
		return layerSpec{Type: "Act", Op: int(m.Kind), Alpha: m.Alpha}, nil
	case *MaxPool2D:
		p := m.P
		return layerSpec{Type: "MaxPool2D", Pool: &p}, nil
	case *AvgPool2D:
		p := m.P
		return layerSpec{Type: "AvgPool2D", Pool: &p}, nil
	case *GlobalAvgPool:
		return layerSpec{Type: "GlobalAvgPool", KeepDims: m.KeepDims}, nil
	case *Flatten:
		return layerSpec{Type: "Flatten"}, nil
	case *Dropout:
		return layerSpec{Type: "Dropout", P: m.P, Seed: m.Seed}, nil
	case *HardSigmoid:
		return layerSpec{Type: "HardSigmoid", Alpha: m.Alpha, Beta: m.Beta}, nil
	case *HardSwish:
		return layerSpec{Type: "HardSwish"}, nil
	case *Clip:
		return layerSpec{Type: "Clip", Min: finite(m.Min), Max: finite(m.Max)}, nil
	case *Binary:
		s := layerSpec{Type: "Binary", Op: int(m.Op), First: m.ConstFirst}
		if m.Const != nil {
			s.Shape = slices.Clone(m.Const.Value.Shape())
			if s.Shape == nil {
				s.Shape = []int{}
			}
			s.Bias = true // has a constant
		}
		return s, nil
	case *ConcatN:
		return layerSpec{Type: "ConcatN", Axis: m.Axis}, nil
	case *Softmax:
		return layerSpec{Type: "Softmax"}, nil
	case *Pad2D:
		return layerSpec{Type: "Pad2D", Pads: []int{m.Top, m.Bottom, m.Left, m.Right}, Value: m.Value}, nil
	case *Reshape:
		return layerSpec{Type: "Reshape", Shape: slices.Clone(m.Shape)}, nil
	}
	return layerSpec{}, fmt.Errorf("nn: the topology cannot describe a %T", l)
}

// DecodeTopology builds the layer tree a topology describes, with
// parameters initialised as their constructors do (load a checkpoint's
// tensors into it, or re-initialise it with Reinit). maxElems bounds the
// parameters' and buffers' elements in all (a checkpoint's tensor count),
// so a hostile topology cannot make it allocate more than the file holds.
func DecodeTopology(b []byte, maxElems int) (l Layer, err error) {
	var s layerSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("nn: topology: %w", err)
	}
	defer func() {
		// constructors panic on impossible configurations (a convolution
		// whose channels do not divide into its groups): an error here
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("nn: topology: %v", r)
		}
	}()
	budget := maxElems
	return build(s, 0, &budget)
}

// spend takes n elements from the budget.
func spend(budget *int, dims ...int) error {
	if err := checkDims(dims...); err != nil {
		return err
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	if *budget -= n; *budget < 0 {
		return fmt.Errorf("nn: topology: its layers hold more values than the checkpoint")
	}
	return nil
}

// maxDimElems bounds one tensor a topology may ask for (2^31 elements).
const maxDimElems = 1 << 31

func checkDims(dims ...int) error {
	n := 1
	for _, d := range dims {
		if d < 0 || (d > 0 && n > maxDimElems/d) {
			return fmt.Errorf("dimensions %v", dims)
		}
		n *= d
	}
	return nil
}

func build(s layerSpec, depth int, budget *int) (Layer, error) {
	if depth > 64 {
		return nil, fmt.Errorf("nn: topology nested too deep")
	}
	switch s.Type {
	case "Sequential":
		q := &Sequential{}
		for _, c := range s.Children {
			l, err := build(c.Layer, depth+1, budget)
			if err != nil {
				return nil, err
			}
			if c.Name == "" || slices.ContainsFunc(q.layers, func(x Named[Layer]) bool { return x.Name == c.Name }) {
				return nil, fmt.Errorf("nn: topology: child name %q empty or repeated", c.Name)
			}
			q.Add(c.Name, l)
		}
		return q, nil
	case "Graph":
		g := NewGraph(s.Input)
		for _, n := range s.Nodes {
			l, err := build(n.Layer, depth+1, budget)
			if err != nil {
				return nil, err
			}
			if err := g.Add(n.Name, l, n.Output, n.Inputs...); err != nil {
				return nil, err
			}
		}
		if err := g.SetOutput(s.Output); err != nil {
			return nil, err
		}
		return g, nil
	case "Conv2D":
		if s.Conv == nil || checkDims(s.Out, s.In, s.KH, s.KW) != nil || s.In < 1 || s.Out < 1 || s.KH < 1 || s.KW < 1 {
			return nil, fmt.Errorf("nn: topology: Conv2D %d→%d %d×%d", s.In, s.Out, s.KH, s.KW)
		}
		g := max(s.Conv.Groups, 1)
		if s.In%g != 0 || s.Out%g != 0 {
			return nil, fmt.Errorf("nn: topology: Conv2D %d→%d in %d groups", s.In, s.Out, g)
		}
		if err := spend(budget, s.Out, s.In/g, s.KH, s.KW); err != nil {
			return nil, err
		}
		return NewConv2DParams(s.In, s.Out, s.KH, s.KW, *s.Conv, s.Same, s.Bias, 0), nil
	case "Dense":
		if checkDims(s.Out, s.In) != nil || s.In < 1 || s.Out < 1 {
			return nil, fmt.Errorf("nn: topology: Dense %d→%d", s.In, s.Out)
		}
		if err := spend(budget, s.Out, s.In); err != nil {
			return nil, err
		}
		return NewDense(s.In, s.Out, s.Bias, 0), nil
	case "BatchNorm":
		if s.C < 1 || checkDims(s.C) != nil {
			return nil, fmt.Errorf("nn: topology: BatchNorm of %d channels", s.C)
		}
		if err := spend(budget, 4, s.C); err != nil {
			return nil, err
		}
		b := NewBatchNorm(s.C)
		b.Eps, b.Momentum, b.ReLU = s.Eps, s.Momentum, s.ReLU
		return b, nil
	case "Act":
		if s.Op < int(tensor.ActReLU) || s.Op > int(tensor.ActGELU) {
			return nil, fmt.Errorf("nn: topology: activation %d", s.Op)
		}
		return &Act{Kind: tensor.Activation(s.Op), Alpha: s.Alpha}, nil
	case "MaxPool2D", "AvgPool2D":
		if s.Pool == nil || s.Pool.KH < 1 || s.Pool.KW < 1 {
			return nil, fmt.Errorf("nn: topology: %s without a window", s.Type)
		}
		if s.Type == "MaxPool2D" {
			return &MaxPool2D{P: *s.Pool}, nil
		}
		return &AvgPool2D{P: *s.Pool}, nil
	case "GlobalAvgPool":
		return &GlobalAvgPool{KeepDims: s.KeepDims}, nil
	case "Flatten":
		return NewFlatten(), nil
	case "Dropout":
		if s.P < 0 || s.P >= 1 {
			return nil, fmt.Errorf("nn: topology: dropout %v", s.P)
		}
		return NewDropout(s.P, s.Seed), nil
	case "HardSigmoid":
		return NewHardSigmoid(s.Alpha, s.Beta), nil
	case "HardSwish":
		return NewHardSwish(), nil
	case "Clip":
		return NewClip(float32(s.Min), float32(s.Max)), nil
	case "Binary":
		if s.Op < int(OpAdd) || s.Op > int(OpDiv) {
			return nil, fmt.Errorf("nn: topology: binary op %d", s.Op)
		}
		if !s.Bias {
			return NewBinary(BinaryOp(s.Op)), nil
		}
		if checkDims(s.Shape...) != nil || len(s.Shape) > 8 {
			return nil, fmt.Errorf("nn: topology: constant %v", s.Shape)
		}
		if err := spend(budget, s.Shape...); err != nil {
			return nil, err
		}
		return NewBinaryConst(BinaryOp(s.Op), tensor.Zeros(s.Shape...), s.First), nil
	case "ConcatN":
		return NewConcatN(s.Axis), nil
	case "Softmax":
		return NewSoftmax(), nil
	case "Pad2D":
		if len(s.Pads) != 4 || slices.Min(s.Pads) < 0 {
			return nil, fmt.Errorf("nn: topology: pads %v", s.Pads)
		}
		return NewPad2D(s.Pads[0], s.Pads[1], s.Pads[2], s.Pads[3], s.Value), nil
	case "Reshape":
		if len(s.Shape) == 0 || len(s.Shape) > 8 {
			return nil, fmt.Errorf("nn: topology: reshape to %v", s.Shape)
		}
		return NewReshape(s.Shape...), nil
	}
	return nil, fmt.Errorf("nn: topology: unknown layer type %q", s.Type)
}

// Reinit re-initialises every parameter and buffer under l with its
// layer's own initialiser, seeded from seed and the layer's position:
// convolutions and dense layers as PyTorch's defaults, BatchNorm to
// weight 1, bias 0 and fresh statistics. Constants (a Binary's) are kept.
func Reinit(l Layer, seed uint64) {
	i := uint64(0)
	Walk(l, func(_ string, m Layer) {
		i++
		s := seed*0x100000001b3 + i*0x9e3779b97f4a7c15
		switch m := m.(type) {
		case *Conv2D:
			TorchDefaultInit(m.Weight.Value, biasValue(m.Bias), m.In/max(m.P.Groups, 1)*m.KH*m.KW, s)
		case *Dense:
			TorchDefaultInit(m.Weight.Value, biasValue(m.Bias), m.In, s)
		case *BatchNorm:
			fillT(m.Weight.Value, 1)
			fillT(m.Bias.Value, 0)
			fillT(m.RunningMean.Value, 0)
			fillT(m.RunningVar.Value, 1)
			fillT(m.NumBatchesTracked.Value, 0)
		case *Embedding:
			copy(m.Weight.Value.Data(), tensor.RandNormal(s, 0, 1, m.Num, m.Dim).Data())
			if m.PadIndex >= 0 {
				clear(m.Weight.Value.Data()[m.PadIndex*m.Dim : (m.PadIndex+1)*m.Dim])
			}
		}
	})
}

func fillT(t *tensor.Tensor, v float32) {
	d := t.Data()
	for i := range d {
		d[i] = v
	}
}
