package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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

// strictFolders is set by --strict: a non-image in a class folder is an
// error instead of a skipped file.
var strictFolders bool

// loadFolder reads a folder of class sub-folders of images into the base
// model's input shape and normalisation (the checkpoint's mean and std,
// 0.5/0.5 when it records none), printing warnings to stderr.
func loadFolder(dir string, base *models.Model, meta nn.Meta) (*data.Set, error) {
	o := data.FolderOptions{Size: base.InputShape[0], Grey: base.InputShape[2] == 1, Mean: meta.Mean, Std: meta.Std, Strict: strictFolders}
	if base.InputShape[2] != 1 && base.InputShape[2] != 3 {
		return nil, fmt.Errorf("%s takes %d input channels; image folders give 1 or 3", base.Arch, base.InputShape[2])
	}
	s, warnings, err := data.LoadFolder(dir, o)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "graft: warning:", w)
	}
	return s, err
}

// predict is `graft predict`: the top classes of each image.
func predict(args []string, out io.Writer) error {
	fs := newFlags("predict")
	from := fs.String("from", "", "checkpoint (safetensors written by graft, or PyTorch's with --arch)")
	arch := fs.String("arch", "", "architecture of a PyTorch state_dict given to --from")
	top := fs.Int("top", 3, "classes to show per image")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("predict: no images given (graft predict --from FILE IMAGE...)")
	}
	m, meta, err := loadBase(*from, *arch)
	if err != nil {
		return fmt.Errorf("predict: %v", err)
	}
	classes := meta.Classes
	if len(classes) == 0 {
		for i := 0; i < m.Options.Classes; i++ {
			classes = append(classes, fmt.Sprint(i))
		}
	}
	shape := m.InputShape
	for _, path := range fs.Args() {
		x, err := data.LoadImage(path, shape[0], shape[2] == 1, meta.Mean, meta.Std)
		if err != nil {
			return fmt.Errorf("predict: %v", err)
		}
		y, err := nn.Predict(m, tensor.FromSlice(x, append([]int{1}, shape...)...))
		if err != nil {
			return fmt.Errorf("predict: %s: %v", path, err)
		}
		probs := softmax(y.Data())
		if len(probs) != len(classes) {
			return fmt.Errorf("predict: %s: the model gives %d scores, the checkpoint names %d classes", *from, len(probs), len(classes))
		}
		order := make([]int, len(probs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		fmt.Fprintf(out, "%s:", path)
		for _, i := range order[:min(*top, len(order))] {
			fmt.Fprintf(out, "  %s %.3f", classes[i], probs[i])
		}
		fmt.Fprintln(out)
	}
	return nil
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
