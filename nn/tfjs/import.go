// Package tfjs imports TensorFlow.js layers models (the model.json and
// .bin weight shards that tfjs-converter writes from Keras, and that
// tf.LayersModel.save writes) into graft: the Keras functional or
// Sequential topology becomes an nn.Graph whose nodes and parameters keep
// the Keras layer names (Conv1.weight, bn_Conv1.running_mean, …).
//
// Layouts are converted once, at import: kernels from TF's HWIO to
// graft's OIHW (depthwise kernels [KH, KW, C, M] to [C·M, 1, KH, KW]),
// Dense kernels [in, out] to [out, in]. Activations are NHWC in both, so
// no activation is permuted, except the element order of Flatten: Keras
// flattens (H, W, C), graft (C, H, W), so a Dense reading a Flatten of a
// spatial tensor gets its kernel rows permuted to match. TF's "same"
// padding (asymmetric: the extra row and column at the bottom and right)
// is kept as it is.
//
// Weights may be float32 or quantized (uint8, uint16 or float16 in the
// manifest's "quantization" field, w = min + scale·q for the integer
// kinds, computed as TF.js does). The layers read are InputLayer, Conv2D,
// DepthwiseConv2D, SeparableConv2D, BatchNormalization, ReLU (with
// max_value and negative_slope), Activation, Softmax, ZeroPadding2D, Add,
// Concatenate, GlobalAveragePooling2D, AveragePooling2D, MaxPooling2D,
// Flatten, Dense, Dropout and Reshape; anything else, or a hostile or
// inconsistent file, is a one-line error naming the layer, and memory is
// bounded by the files' sizes.
package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graftml/graft/nn"
)

// Imported is a TF.js layers model as a graft graph.
type Imported struct {
	Graph *nn.Graph
	// InputShape is the input's (H, W, C) (or (F) for a vector input).
	InputShape []int
	// OutputShape is the output's shape without the batch dimension.
	OutputShape []int
	// Name is the Keras model's name; KerasVersion the version that wrote
	// it, when the file says.
	Name, KerasVersion string
}

// maxJSON bounds model.json.
const maxJSON = 64 << 20

// Read imports the model.json at path, its weight shards read from
// beside it.
func Read(path string) (*Imported, error) {
	b, err := readLimited(path, maxJSON)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	dir := filepath.Dir(path)
	m, err := Decode(b, func(name string) ([]byte, error) {
		if name == "" || filepath.IsAbs(name) || strings.Contains(name, "..") || strings.ContainsAny(name, "\\\x00") {
			return nil, fmt.Errorf("weight shard path %q outside the model's folder", name)
		}
		return readLimited(filepath.Join(dir, filepath.FromSlash(name)), 1<<34)
	})
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return m, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

// modelJSON is the part of model.json the importer reads.
type modelJSON struct {
	Format          string          `json:"format"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []manifestGroup `json:"weightsManifest"`
}

type manifestGroup struct {
	Paths   []string     `json:"paths"`
	Weights []weightSpec `json:"weights"`
}

type weightSpec struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

type quantization struct {
	DType string   `json:"dtype"`
	Min   *float64 `json:"min"`
	Scale *float64 `json:"scale"`
}

type topology struct {
	KerasVersion string `json:"keras_version"`
	ModelConfig  *struct {
		ClassName string          `json:"class_name"`
		Config    json.RawMessage `json:"config"`
	} `json:"model_config"`
	// tf.LayersModel.save writes the model config at the top.
	ClassName string          `json:"class_name"`
	Config    json.RawMessage `json:"config"`
}

type kerasModel struct {
	Name         string       `json:"name"`
	Layers       []kerasLayer `json:"layers"`
	InputLayers  [][]any      `json:"input_layers"`
	OutputLayers [][]any      `json:"output_layers"`
}

type kerasLayer struct {
	Name          string                     `json:"name"`
	ClassName     string                     `json:"class_name"`
	Config        map[string]json.RawMessage `json:"config"`
	InboundNodes  json.RawMessage            `json:"inbound_nodes"`
	inputs        []string
	sequentialIdx int
}

// Decode imports a model from model.json's bytes, reading each weight
// shard the manifest names through shard.
func Decode(b []byte, shard func(path string) ([]byte, error)) (*Imported, error) {
	m, err := decode(b, shard)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	return m, nil
}

func decode(b []byte, shard func(string) ([]byte, error)) (*Imported, error) {
	var mj modelJSON
	if err := json.Unmarshal(b, &mj); err != nil {
		return nil, fmt.Errorf("model.json: %v", err)
	}
	if mj.Format != "" && mj.Format != "layers-model" {
		return nil, fmt.Errorf("model.json: format %q (a graph model?): only layers models are read", mj.Format)
	}
	if len(mj.ModelTopology) == 0 {
		return nil, errors.New("model.json: no modelTopology")
	}
	var top topology
	if err := json.Unmarshal(mj.ModelTopology, &top); err != nil {
		return nil, fmt.Errorf("modelTopology: %v", err)
	}
	class, cfg := top.ClassName, top.Config
	if top.ModelConfig != nil {
		class, cfg = top.ModelConfig.ClassName, top.ModelConfig.Config
	}
	layers, km, err := parseLayers(class, cfg)
	if err != nil {
		return nil, err
	}
	w, err := readWeights(mj.WeightsManifest, shard)
	if err != nil {
		return nil, err
	}
	imp, err := build(layers, km, w)
	if err != nil {
		return nil, err
	}
	imp.KerasVersion = top.KerasVersion
	return imp, nil
}

// parseLayers reads a functional Model's or a Sequential's layers, with
// each layer's input value names.
func parseLayers(class string, cfg json.RawMessage) ([]*kerasLayer, *kerasModel, error) {
	km := &kerasModel{}
	switch class {
	case "Model", "Functional":
		if err := json.Unmarshal(cfg, km); err != nil {
			return nil, nil, fmt.Errorf("model config: %v", err)
		}
	case "Sequential":
		// config is {name, layers} (Keras ≥ 2.2.3) or the list of layers.
		if err := json.Unmarshal(cfg, km); err != nil {
			if err2 := json.Unmarshal(cfg, &km.Layers); err2 != nil {
				return nil, nil, fmt.Errorf("Sequential config: %v", err)
			}
		}
	default:
		return nil, nil, fmt.Errorf("model class %q: a layers model is a Model, Functional or Sequential", class)
	}
	if len(km.Layers) == 0 {
		return nil, nil, errors.New("model config: no layers")
	}
	out := make([]*kerasLayer, len(km.Layers))
	seen := map[string]bool{}
	for i := range km.Layers {
		l := &km.Layers[i]
		if l.Name == "" {
			var n string
			if raw, ok := l.Config["name"]; ok && json.Unmarshal(raw, &n) == nil {
				l.Name = n
			}
		}
		if l.Name == "" || strings.ContainsAny(l.Name, "\x00\n") {
			return nil, nil, fmt.Errorf("layer %d (%s) has no usable name", i, l.ClassName)
		}
		if seen[l.Name] {
			return nil, nil, fmt.Errorf("two layers named %q", l.Name)
		}
		seen[l.Name] = true
		if class == "Sequential" {
			l.sequentialIdx = i + 1
		} else {
			ins, err := inbound(l.InboundNodes)
			if err != nil {
				return nil, nil, fmt.Errorf("layer %q: %v", l.Name, err)
			}
			l.inputs = ins
		}
		out[i] = l
	}
	return out, km, nil
}

// inbound reads Keras 2's inbound_nodes: one call of the layer, a list of
// [layer name, node index, tensor index, kwargs].
func inbound(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var calls [][][]any
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, fmt.Errorf("inbound_nodes in an unknown form (Keras 3?): %v", err)
	}
	switch len(calls) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("called %d times (shared layers are not imported)", len(calls))
	}
	var ins []string
	for _, c := range calls[0] {
		if len(c) < 3 {
			return nil, errors.New("an inbound node of fewer than 3 fields")
		}
		name, ok := c[0].(string)
		ni, ok2 := c[1].(float64)
		ti, ok3 := c[2].(float64)
		if !ok || !ok2 || !ok3 {
			return nil, errors.New("an inbound node is not [name, node, tensor, …]")
		}
		if ni != 0 || ti != 0 {
			return nil, fmt.Errorf("reads output %v of call %v of %q (only single-output, single-call layers)", ti, ni, name)
		}
		ins = append(ins, name)
	}
	return ins, nil
}
