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
	m, err := models.FromGraph(imp.Graph, shape, "onnx")
	if err != nil {
		return nil, err
	}
	m.Extra["channel_order"] = "RGB"
	if o.BGR {
		m.Extra["channel_order"] = "RGB (imported from BGR: first convolutions' input channels reversed)"
	}
	mean, std := o.Mean, o.Std
	if mean == nil {
		if mean, err = ParseFloats(imp.Metadata["mean"]); err != nil {
			return nil, fmt.Errorf("metadata mean: %w", err)
		}
	}
	if std == nil {
		if std, err = ParseFloats(imp.Metadata["std"]); err != nil {
			return nil, fmt.Errorf("metadata std: %w", err)
		}
	}
	if err := m.SetNormalisation(mean, std); err != nil {
		return nil, err
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
