package tfjs

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/nn/models"
)

// Options say what model.json does not: the normalisation the model's
// pixels (scaled to [0, 1]) expect, another input size, or a cut.
type Options struct {
	// Height and Width, when set, replace the input size the file gives
	// (a fully convolutional trunk, or one under a global pooling, takes
	// other sizes; anything else is an error).
	Height, Width int
	// Mean and Std are per channel. model.json does not record them:
	// left nil, graft's loaders use 0.5 and 0.5 (pixels in [−1, 1], as
	// Keras's MobileNet preprocess_input gives); a model fed raw pixels
	// in [0, 1] (nsfwjs's) takes Mean 0 and Std 1.
	Mean, Std []float32
	// Output, when set, names the layer the model ends at instead of the
	// file's output (a cut below the classifier: the model then has no
	// head, and the layers above the cut do not run).
	Output string
}

// Load reads the TF.js layers model at path (model.json and its weight
// shards) as a transferable model (see Imported.Model).
func Load(path string, o Options) (*models.Model, error) {
	imp, err := Read(path)
	if err != nil {
		return nil, err
	}
	m, err := imp.Model(o)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", path, err)
	}
	return m, nil
}

// Model turns the imported graph into a models.Model, the base every
// transfer function takes (models.FromGraph): the graph structured into
// Sequentials where it is a chain (names kept), a final Softmax dropped,
// the last top-level child as the head when it ends in the last Dense
// layer, and layer groups from the input up by spatial resolution, the
// head last. The model's input shape is the file's, unless o resizes it.
// The model shares the imported graph's layers (and a cut sets the
// graph's output).
func (imp *Imported) Model(o Options) (*models.Model, error) {
	shape := slices.Clone(imp.InputShape)
	if len(shape) != 3 {
		return nil, fmt.Errorf("input shape %v: a transferable model takes images [H, W, C]", imp.InputShape)
	}
	for i, v := range []int{o.Height, o.Width} {
		if v < 0 || v > maxDim {
			return nil, fmt.Errorf("input size %d×%d", o.Height, o.Width)
		}
		if v > 0 {
			shape[i] = v
		}
	}
	if o.Output != "" {
		if err := imp.Graph.SetOutput(o.Output); err != nil {
			return nil, fmt.Errorf("cut at %q: no layer of that name", o.Output)
		}
	}
	source := "tfjs"
	if imp.Name != "" {
		source += ":" + imp.Name
	}
	m, err := models.FromGraph(imp.Graph, shape, source)
	if err != nil {
		return nil, err
	}
	m.Extra["channel_order"] = "RGB"
	if err := m.SetNormalisation(o.Mean, o.Std); err != nil {
		return nil, err
	}
	return m, nil
}
