package onnx

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// Options say what the file may not: the input size when the model's is
// dynamic, and the normalisation its pixels (scaled to [0, 1]) expect.
type Options struct {
	// Size is the input's height and width where the file leaves them
	// dynamic (default 224); Height and Width, when set, override it.
	Size, Height, Width int
	// BGR says the model was trained on BGR images (OpenCV, Caffe): the
	// first convolutions' input channels are reversed at import, so the
	// model takes RGB images as graft's loaders give them (Mean and Std
	// are then given in RGB order too).
	BGR bool
	// Mean and Std are per channel; when nil they come from the model's
	// metadata_props ("mean", "std": comma-separated) when present.
	Mean, Std []float32
}

// Load reads an ONNX classifier as a transferable model (see Model).
func Load(path string, o Options) (*models.Model, error) {
	imp, err := Read(path)
	if err != nil {
		return nil, err
	}
	m, err := imp.Model(o)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	m.Extra[models.MetaSource] = filepath.Base(path)
	return m, nil
}

// Model turns the imported graph into a models.Model, the base every
// transfer function takes: the graph structured into Sequentials where
// it is a chain (nn.Structure, names kept), a final Softmax dropped (the
// losses take logits), the last top-level child holding the final dense
// layer as the head, and layer groups from the input up by spatial
// resolution (each group's layers end at one resolution; the flat layers
// before the head join the last), the head last.
func (imp *Imported) Model(o Options) (*models.Model, error) {
	l, err := nn.Structure(imp.Graph)
	if err != nil {
		return nil, err
	}
	s, ok := l.(*nn.Sequential)
	if !ok || s.Len() == 0 {
		return nil, fmt.Errorf("the graph does not structure into a Sequential (%T)", l)
	}
	dropSoftmax(s)
	shape := slices.Clone(imp.InputShape)
	if len(shape) != 3 {
		return nil, fmt.Errorf("input shape %v: a transferable model takes images [H, W, C]", imp.InputShape)
	}
	for i, forced := range []int{o.Height, o.Width} {
		switch {
		case forced > 0:
			if shape[i] > 0 && shape[i] != forced {
				return nil, fmt.Errorf("the model takes %v inputs, not %d×%d", imp.InputShape[:2], o.Height, o.Width)
			}
			shape[i] = forced
		case shape[i] < 0 && o.Size > 0:
			shape[i] = o.Size
		case shape[i] < 0:
			shape[i] = 224
		}
	}
	if o.BGR {
		if err := rgbFirst(imp.Graph, shape[2]); err != nil {
			return nil, err
		}
	}
	last := s.Children()[s.Len()-1]
	var head []string
	if endsWithDense(last.Value) {
		head = []string{last.Name}
	}
	groups, err := models.GroupsByResolution(s, shape, head)
	if err != nil {
		return nil, err
	}
	m, err := models.NewImported(s, shape, head, groups, "onnx")
	if err != nil {
		return nil, err
	}
	m.Extra["channel_order"] = "RGB"
	if o.BGR {
		m.Extra["channel_order"] = "RGB (imported from BGR: first convolutions' input channels reversed)"
	}
	m.Mean, m.Std = o.Mean, o.Std
	if m.Mean == nil {
		if m.Mean, err = ParseFloats(imp.Metadata["mean"]); err != nil {
			return nil, fmt.Errorf("metadata mean: %w", err)
		}
	}
	if m.Std == nil {
		if m.Std, err = ParseFloats(imp.Metadata["std"]); err != nil {
			return nil, fmt.Errorf("metadata std: %w", err)
		}
	}
	if (m.Mean != nil && len(m.Mean) != shape[2]) || (m.Std != nil && len(m.Std) != shape[2]) {
		return nil, fmt.Errorf("mean %v and std %v for %d channels", m.Mean, m.Std, shape[2])
	}
	for _, v := range m.Std {
		if v <= 0 {
			return nil, fmt.Errorf("std %v: must be positive", m.Std)
		}
	}
	return m, nil
}

// rgbFirst reverses the input channels of the convolutions that read the
// graph's input, which must be all its readers.
func rgbFirst(g *nn.Graph, c int) error {
	n := 0
	for _, node := range g.Nodes() {
		if !slices.Contains(node.Inputs, g.Input()) {
			continue
		}
		conv, ok := node.Layer.(*nn.Conv2D)
		if !ok || conv.P.Groups != 1 || conv.In != c {
			return fmt.Errorf("BGR: the input is read by %s (%T), not only by convolutions over all %d channels", node.Name, node.Layer, c)
		}
		w := conv.Weight.Value
		d := w.Data()
		k := conv.KH * conv.KW
		for o := range conv.Out {
			for i := range c / 2 {
				a := d[(o*c+i)*k : (o*c+i+1)*k]
				b := d[(o*c+c-1-i)*k : (o*c+c-i)*k]
				for j := range a {
					a[j], b[j] = b[j], a[j]
				}
			}
		}
		n++
	}
	if n == 0 {
		return errors.New("BGR: no convolution reads the input")
	}
	return nil
}

// ParseFloats parses per-channel values written "0.485,0.456,0.406"
// (nil for "").
func ParseFloats(s string) ([]float32, error) {
	if s == "" {
		return nil, nil
	}
	var out []float32
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, err
		}
		out = append(out, float32(v))
	}
	return out, nil
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
