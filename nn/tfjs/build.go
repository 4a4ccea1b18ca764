package tfjs

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/graftml/graft/nn"
)

// inputShape reads an input's batch_input_shape (or batch_shape): the
// batch dimension, then (H, W, C) or (F).
func inputShape(l *kerasLayer) ([]int, error) {
	var shape []*int
	for _, k := range []string{"batch_input_shape", "batch_shape"} {
		if raw, ok := l.Config[k]; ok {
			if err := json.Unmarshal(raw, &shape); err != nil {
				return nil, fmt.Errorf("config %s: %v", k, err)
			}
			break
		}
	}
	if len(shape) != 4 && len(shape) != 2 {
		return nil, fmt.Errorf("input shape of rank %d (want [batch, H, W, C] or [batch, F])", len(shape))
	}
	out := make([]int, len(shape)-1)
	for i, d := range shape[1:] {
		if d == nil || *d < 1 || *d > maxDim {
			return nil, fmt.Errorf("input shape dimension %d is not a fixed size", i+1)
		}
		out[i] = *d
	}
	var dt string
	if raw, ok := l.Config["dtype"]; ok && json.Unmarshal(raw, &dt) == nil && dt != "" && dt != "float32" {
		return nil, fmt.Errorf("input dtype %q", dt)
	}
	return out, nil
}

// build converts the layers in order into a Graph.
func build(layers []*kerasLayer, km *kerasModel, w weights) (*Imported, error) {
	first := layers[0]
	var input string
	var inShape []int
	var err error
	sequential := first.sequentialIdx > 0
	switch {
	case first.ClassName == "InputLayer":
		input = first.Name
		if inShape, err = inputShape(first); err != nil {
			return nil, fmt.Errorf("layer %q (InputLayer): %v", first.Name, err)
		}
		layers = layers[1:]
	case sequential:
		input = "input"
		if inShape, err = inputShape(first); err != nil {
			return nil, fmt.Errorf("layer %q (%s): the first layer of a Sequential: %v", first.Name, first.ClassName, err)
		}
	default:
		return nil, fmt.Errorf("the first layer %q is a %s, not an InputLayer", first.Name, first.ClassName)
	}
	if !sequential {
		if len(km.InputLayers) != 1 || len(km.OutputLayers) != 1 {
			return nil, fmt.Errorf("%d inputs and %d outputs (one of each is imported)", len(km.InputLayers), len(km.OutputLayers))
		}
		if n, _ := km.InputLayers[0][0].(string); len(km.InputLayers[0]) == 0 || n != input {
			return nil, fmt.Errorf("input_layers %v do not name the InputLayer %q", km.InputLayers, input)
		}
	}
	b := &builder{g: nn.NewGraph(input), vals: map[string]value{input: {shape: inShape}}, w: w}
	prev := input
	for _, l := range layers {
		if sequential {
			l.inputs = []string{prev}
		}
		if err := b.layerNode(l); err != nil {
			return nil, fmt.Errorf("layer %q (%s): %v", l.Name, l.ClassName, err)
		}
		prev = l.Name
	}
	out := prev
	if !sequential {
		if len(km.OutputLayers[0]) == 0 {
			return nil, fmt.Errorf("output_layers %v", km.OutputLayers)
		}
		out, _ = km.OutputLayers[0][0].(string)
		if _, ok := b.vals[out]; !ok || out == input {
			return nil, fmt.Errorf("output layer %q is not a layer's output", out)
		}
	}
	if err := b.g.SetOutput(out); err != nil {
		return nil, err
	}
	var unused []string
	for k, t := range w {
		if !t.used {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		if len(unused) > 5 {
			unused = append(unused[:5], fmt.Sprintf("… %d more", len(unused)-5))
		}
		return nil, fmt.Errorf("weights no layer reads: %s", strings.Join(unused, ", "))
	}
	return &Imported{Graph: b.g, InputShape: inShape, OutputShape: slices.Clone(b.vals[out].shape), Name: km.Name}, nil
}

func (b *builder) layerNode(l *kerasLayer) error {
	if l.ClassName == "InputLayer" {
		return fmt.Errorf("a second input (one is imported)")
	}
	conv, ok := converters[l.ClassName]
	if !ok {
		return fmt.Errorf("layer class %s is not supported (supported: %s)", l.ClassName, strings.Join(Supported(), ", "))
	}
	if len(l.inputs) == 0 {
		return fmt.Errorf("no inbound nodes")
	}
	b.layer, b.inputs = l, b.inputs[:0]
	for _, in := range l.inputs {
		v, ok := b.vals[in]
		if !ok {
			return fmt.Errorf("reads %q, which no earlier layer writes", in)
		}
		b.inputs = append(b.inputs, v)
	}
	var trainable = true
	if err := b.cfg("trainable", &trainable); err != nil {
		return err
	}
	return conv(b)
}
