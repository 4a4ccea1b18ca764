package main

import (
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
)

func init() {
	register(command{name: "predict", device: true, args: "IMAGE...", minArgs: 1, maxArgs: -1,
		summary: "the top classes of images under a checkpoint",
		doc:     `Prints the --top most likely classes of each image, with their probabilities, after a header naming the model and its classes. Images are resized and centre-cropped to the model's input, grey or RGB as it takes, and normalised with the checkpoint's mean and std. --from as for finetune; a delta checkpoint (finetune --delta) loads over its base: --base FILE, or the base path the delta records.`,
		run:     predict})
}

// strictHelp is the help of --strict, which every command that reads an
// image folder takes.
const strictHelp = "a non-image file in a class folder is an error (default: skipped with a warning)"

// loadFolder reads a folder of class sub-folders of images into the base
// model's input shape and normalisation (the checkpoint's mean and std,
// 0.5/0.5 when it records none), printing warnings to s.stderr. strict
// (--strict) makes a non-image file in a class folder an error instead of
// a skipped file.
func (s *session) loadFolder(dir string, base *models.Model, meta nn.Meta, strict bool) (*data.Set, error) {
	o := data.FolderOptions{Size: base.InputShape[0], Grey: base.InputShape[2] == 1, Mean: meta.Mean, Std: meta.Std, Strict: strict}
	if base.InputShape[2] != 1 && base.InputShape[2] != 3 {
		return nil, fmt.Errorf("%s takes %d input channels; image folders give 1 or 3", base.Arch, base.InputShape[2])
	}
	if w := sizeWarning(dir, base); w != "" {
		fmt.Fprintln(s.stderr, "graft: warning:", w)
	}
	set, warnings, err := data.LoadFolder(dir, o)
	for _, w := range warnings {
		fmt.Fprintln(s.stderr, "graft: warning:", w)
	}
	if err != nil {
		return nil, err
	}
	if err := learnable(dir, set); err != nil {
		return nil, err
	}
	return set, nil
}

// learnable refuses a folder no classifier can learn from and be tested
// on: fewer than two classes, or a class of fewer than two images (one to
// train on, one to test).
func learnable(dir string, s *data.Set) error {
	if len(s.Classes) < 2 {
		return fmt.Errorf("%s holds %d class folder(s) (%v); a classifier needs at least 2 classes, one sub-folder of images each", dir, len(s.Classes), s.Classes)
	}
	for c, n := range s.Counts() {
		if n < 2 {
			return fmt.Errorf("%s: class %q has %d image(s); each class needs at least 2 (one to train on, one to test)", dir, s.Classes[c], n)
		}
	}
	return nil
}

// sizeWarning returns a warning when the images of a folder (a sample of
// up to 32) are at most half the model's input side, so each is blown up
// to it: slow, and the model sees no detail it was trained to use.
func sizeWarning(dir string, base *models.Model) string {
	var sides []int
	var w0, h0 int
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if len(sides) >= 32 {
			return filepath.SkipAll
		}
		if err != nil {
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		c, _, err := image.DecodeConfig(f)
		if err != nil {
			return nil
		}
		if len(sides) == 0 {
			w0, h0 = c.Width, c.Height
		}
		sides = append(sides, min(c.Width, c.Height))
		return nil
	})
	if len(sides) == 0 {
		return ""
	}
	sort.Ints(sides)
	side, want := sides[len(sides)/2], base.InputShape[0]
	if side == 0 || 2*side > want {
		return ""
	}
	return fmt.Sprintf("the images in %s are small (%dx%d, say) for %s, which takes %dx%d: each is scaled up %.0fx, which makes training slow and adds no detail (a model for small images, such as lenet5 or mnistcnn, fits them better)",
		dir, w0, h0, base.Arch, want, want, float64(want)/float64(side))
}

// predict is `graft predict`: the top classes of each image.
func predict(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("predict")
	from := fs.String("from", "", "checkpoint `FILE` (safetensors written by graft, a delta with its base, an ONNX model or TF.js model.json, or PyTorch's with --arch)")
	arch := fs.String("arch", "", "`architecture` of a PyTorch state_dict given to --from")
	base := fs.String("base", "", "the base `FILE` a delta checkpoint was trained over (default: the path the delta records)")
	top := fs.Int("top", 3, "`classes` to show per image")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := errorsOf(
		fs.check(*from != "", "from", "no checkpoint given"),
		fs.check(*top >= 1, "top", "must be at least 1"),
	); err != nil {
		return err
	}
	m, meta, err := loadModel(*from, *arch, *base)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	classes := meta.Classes
	if len(classes) == 0 {
		for i := 0; i < m.Options.Classes; i++ {
			classes = append(classes, fmt.Sprint(i))
		}
	}
	if *top > len(classes) {
		if fs.isSet("top") {
			return fs.check(false, "top", fmt.Sprintf("the model has %d classes", len(classes)))
		}
		*top = len(classes)
	}
	shape := m.InputShape
	type guess struct {
		Class       string  `json:"class"`
		Probability float64 `json:"probability"`
	}
	type result struct {
		Image string  `json:"image"`
		Top   []guess `json:"top"`
	}
	var results []result
	for _, path := range fs.Args() {
		x, err := data.LoadImage(path, shape[0], shape[2] == 1, meta.Mean, meta.Std)
		if err != nil {
			return fs.usageErr("%v", err)
		}
		y, err := nn.Predict(m, tensor.FromSlice(x, append([]int{1}, shape...)...))
		if err != nil {
			return fs.usageErr("%s: %v", path, err)
		}
		probs := softmax(y.Data())
		if len(probs) != len(classes) {
			return fs.usageErr("%s: the model gives %d scores, the checkpoint names %d classes", *from, len(probs), len(classes))
		}
		order := make([]int, len(probs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		r := result{Image: path}
		for _, i := range order[:*top] {
			r.Top = append(r.Top, guess{classes[i], probs[i]})
		}
		results = append(results, r)
	}
	if !*asJSON {
		fmt.Fprintf(out, "%s from %s, %d classes, input %dx%dx%d; top %d per image:\n", m.Arch, *from, len(classes), shape[0], shape[1], shape[2], *top)
		for _, r := range results {
			fmt.Fprintf(out, "%s:", r.Image)
			for _, g := range r.Top {
				fmt.Fprintf(out, "  %s %.3f", g.Class, g.Probability)
			}
			fmt.Fprintln(out)
		}
		return nil
	}
	return printJSON(out, map[string]any{"model": m.Arch, "checkpoint": *from, "classes": classes, "input_shape": shape, "predictions": results})
}

func softmax(z []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	p := make([]float64, len(z))
	var s float64
	for i, v := range z {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}
