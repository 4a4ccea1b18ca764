package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/onnx"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/transfer"
)

func init() {
	register(command{name: "import", args: "MODEL.onnx|model.json", minArgs: 1, maxArgs: 1,
		summary: "an ONNX or TF.js model as a graft checkpoint that carries its topology",
		doc:     `Reads an ONNX model (exported from PyTorch, Keras, Paddle, ...) or a TF.js layers model (model.json with its weight shards beside it, as tfjs-converter writes a Keras model) and writes a graft checkpoint that holds its weights and its topology, so it reloads without the original files. Parameter names are the initializers' (a PyTorch export keeps its state_dict names) or the Keras layers'. The last dense layer (with a following Softmax dropped) becomes the head; layer groups are cut where the spatial resolution changes. --mean and --std are per channel, comma-separated, applied to pixels scaled to [0,1]; without them an ONNX model's metadata_props are used when present, else 0.5 and 0.5 (pixels in [-1,1]; a TF.js model fed pixels in [0,1] wants --mean 0,0,0 --std 1,1,1). finetune, advise, predict and info --model also take MODEL.onnx and model.json directly.`,
		run:     importCmd})
}

// importCmd converts an ONNX or TF.js model into a graft checkpoint that
// carries its topology, input size and normalisation.
func importCmd(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("import")
	dst := fs.String("out", "", "checkpoint to write (safetensors)")
	size := fs.Int("size", 0, "input height and width where the model's are dynamic (0: the model's, else 224; a TF.js model: replaces its size)")
	height := fs.Int("height", 0, "input height (overrides --size)")
	width := fs.Int("width", 0, "input width (overrides --size)")
	bgr := fs.Bool("bgr", false, "the ONNX model was trained on BGR images: reverse its first convolutions' input channels")
	mean := fs.String("mean", "", "per-channel mean of pixels in [0,1], comma-separated (default: the model's metadata)")
	std := fs.String("std", "", "per-channel standard deviation, comma-separated")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := errorsOf(
		fs.check(*dst != "", "out", "no file given: where should the checkpoint go? (--out FILE.safetensors)"),
		fs.check(*size >= 0, "size", "must be ≥ 0"),
		fs.check(*height >= 0, "height", "must be ≥ 0"),
		fs.check(*width >= 0, "width", "must be ≥ 0"),
		fs.writable("out", *dst),
	); err != nil {
		return err
	}
	pos := fs.Args()
	kind := importKind(pos[0])
	if kind == "" {
		return fs.usageErr("%s: not a model to import (MODEL.onnx, or a TF.js model.json)", pos[0])
	}
	if err := fs.check(!*bgr || kind == "onnx", "bgr", "only for an ONNX model"); err != nil {
		return err
	}
	o, err := onnxOptions(*size, *mean, *std)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	o.Height, o.Width, o.BGR = *height, *width, *bgr
	m, err := importModel(pos[0], o)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := nn.Save(*dst, m, m.Meta()); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Fprintf(out, "imported %s: %d layers, %d parameters, input %v, head %v, %d groups → %s\n",
		pos[0], countLeaves(m), nn.NumParams(m), m.InputShape, m.Head, len(m.Groups), *dst)
	return nil
}

func onnxOptions(size int, mean, std string) (onnx.Options, error) {
	o := onnx.Options{Size: size}
	if size < 0 {
		return o, fmt.Errorf("--size %d", size)
	}
	var err error
	if o.Mean, err = floatList("--mean", mean); err != nil {
		return o, err
	}
	if o.Std, err = floatList("--std", std); err != nil {
		return o, err
	}
	return o, nil
}

func floatList(flag, s string) ([]float32, error) {
	v, err := onnx.ParseFloats(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %v", flag, s, err)
	}
	return v, nil
}

func countLeaves(l nn.Layer) int {
	n := 0
	nn.Walk(l, func(_ string, m nn.Layer) {
		switch m.(type) {
		case *nn.Sequential, *nn.Graph, *nn.Module, *models.Model:
		default:
			if len(m.Children()) == 0 {
				n++
			}
		}
	})
	return n
}

// importKind says which importer reads a --from path, by its extension:
// "onnx" (.onnx), "tfjs" (a TF.js model.json, any .json) or "" (a graft
// or PyTorch checkpoint).
func importKind(path string) string {
	switch p := strings.ToLower(path); {
	case strings.HasSuffix(p, ".onnx"):
		return "onnx"
	case strings.HasSuffix(p, ".json"):
		return "tfjs"
	}
	return ""
}

// importModel imports the ONNX or TF.js model at path (by importKind)
// with o; a TF.js model takes o's Height and Width, else its Size, and
// its Mean and Std.
func importModel(path string, o onnx.Options) (*models.Model, error) {
	if importKind(path) == "onnx" {
		return onnx.Load(path, o)
	}
	h, w := o.Height, o.Width
	if h == 0 {
		h = o.Size
	}
	if w == 0 {
		w = o.Size
	}
	return tfjs.Load(path, tfjs.Options{Height: h, Width: w, Mean: o.Mean, Std: o.Std})
}

// loadImportedBase imports an ONNX or TF.js model as a base (default
// options: an ONNX file's metadata gives the normalisation, if any).
func loadImportedBase(path string) (*models.Model, nn.Meta, error) {
	m, err := importModel(path, onnx.Options{})
	if err != nil {
		return nil, nn.Meta{}, err
	}
	return m, m.Meta(), nil
}

// modelInfo prints a model's summary: layers, parameters, FLOPs, groups.
func modelInfo(path string, out io.Writer, asJSON bool) error {
	var m *models.Model
	var err error
	if importKind(path) != "" {
		m, _, err = loadImportedBase(path)
	} else {
		m, _, err = transfer.FromCheckpoint(path)
	}
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	s, err := nn.Summarize(m, append([]int{1}, m.InputShape...))
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	t := s.Totals()
	r := struct {
		Model      string     `json:"model"`
		Arch       string     `json:"arch"`
		InputShape []int      `json:"input_shape"`
		Layers     int        `json:"layers"`
		Params     int        `json:"params"`
		FwdFLOPs   float64    `json:"fwd_flops_per_image"`
		Head       []string   `json:"head"`
		Groups     [][]string `json:"groups"`
		Mean       []float32  `json:"mean,omitempty"`
		Std        []float32  `json:"std,omitempty"`
	}{path, m.Arch, m.InputShape, len(s.Layers), t.Params, t.FwdFLOPs, m.Head, m.Groups, m.Mean, m.Std}
	if asJSON {
		return printJSON(out, r)
	}
	fmt.Fprintf(out, "model:      %s (%s)\n", r.Model, r.Arch)
	fmt.Fprintf(out, "input:      %v (H, W, C)\n", r.InputShape)
	fmt.Fprintf(out, "layers:     %d\n", r.Layers)
	fmt.Fprintf(out, "parameters: %d\n", r.Params)
	fmt.Fprintf(out, "FLOPs:      %.3g per image (forward, convolutions and dense layers)\n", r.FwdFLOPs)
	if r.Mean != nil {
		fmt.Fprintf(out, "normalise:  mean %v, std %v\n", r.Mean, r.Std)
	}
	fmt.Fprintf(out, "head:       %v\n", r.Head)
	for i, g := range r.Groups {
		fmt.Fprintf(out, "group %d:    %s\n", i, strings.Join(g, " "))
	}
	return nil
}
