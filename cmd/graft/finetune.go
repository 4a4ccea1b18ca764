package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/assets"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/transfer"
)

// targetData loads a target dataset for a base model: "digits" (embedded),
// "mnist", "fashion", or a folder of class sub-folders of images.
func targetData(spec string, base *models.Model, meta nn.Meta) (*data.Set, error) {
	switch spec {
	case "digits":
		return data.ReadDigits(bytes.NewReader(assets.Digits), "digits.csv.gz (embedded)")
	case "mnist", "fashion":
		train, _, err := loadData(spec)
		return train, err
	case "":
		return nil, errors.New("no --data given (a folder of class sub-folders, or digits, mnist, fashion)")
	}
	return loadFolder(spec, base, meta)
}

// loadBase reads a base checkpoint: graft's (its metadata names the
// architecture), or a PyTorch state_dict when arch names one.
func loadBase(path, arch string) (*models.Model, nn.Meta, error) {
	if path == "" {
		return nil, nn.Meta{}, errors.New("no --from checkpoint given")
	}
	if isONNX(path) {
		return loadONNXBase(path)
	}
	if arch != "" {
		m, err := transfer.FromTorch(path, arch)
		return m, nn.Meta{}, err
	}
	m, meta, err := transfer.FromCheckpoint(path)
	if err != nil && strings.Contains(err.Error(), "names no architecture") {
		err = fmt.Errorf("%v (a PyTorch state_dict? add --arch with one of %s)", err, strings.Join(models.Archs(), ", "))
	}
	return m, meta, err
}

// augmentation is the --augment policy: 2-pixel pad-crop, ±10° rotation,
// ±10% shift and scale, and a horizontal flip when asked.
func augmentation(flip bool, seed uint64) data.Augment {
	return data.Augment{PadCrop: 2, HFlip: flip, MaxRotate: 10, MaxShift: 0.1, MaxScale: 0.1, Seed: seed}
}

// splitTarget returns the training and test parts: k per class and the
// rest, or a stratified 80/20 split.
func splitTarget(d *data.Set, perClass int, seed uint64) (train, test *data.Set, err error) {
	if perClass > 0 {
		return d.FewShotSplit(perClass, seed)
	}
	parts, err := d.Split(seed, 0.8, 0.2)
	if err != nil {
		return nil, nil, err
	}
	return parts[0], parts[1], nil
}

// finetune is `graft finetune`.
func finetune(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "base checkpoint (safetensors written by graft, or PyTorch's with --arch)")
	arch := fs.String("arch", "", "architecture of a PyTorch state_dict given to --from (graft's checkpoints name theirs)")
	dataSpec := fs.String("data", "", "target data: a folder with one sub-folder of images per class, or digits, mnist, fashion")
	strategy := fs.String("strategy", "auto", "auto (the advisor's plan), features, top-k, all or scratch")
	top := fs.Int("top", 2, "layer groups (the head included) that train under top-k")
	perClass := fs.Int("per-class", 0, "train on K images per class and test on the rest (0: an 80/20 split)")
	seed := fs.Uint64("seed", 1, "seed")
	outPath := fs.String("out", "", "fine-tuned checkpoint to write")
	delta := fs.Bool("delta", false, "write only what was trained (load it over the base)")
	asJSON := fs.Bool("json", false, "print JSON")
	augment := fs.Bool("augment", false, "augment the images of the phases that train on images (pad-crop, small rotation, shift, scale); never cached features")
	flip := fs.Bool("flip", false, "with --augment, also flip horizontally (not for digits or text)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.BoolVar(&strictFolders, "strict", false, "a non-image file in a class folder is an error (default: skipped with a warning)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("finetune: %v", err)
	}
	base, meta, err := loadBase(*from, *arch)
	if err != nil {
		return fmt.Errorf("finetune: %v", err)
	}
	d, err := targetData(*dataSpec, base, meta)
	if err != nil {
		return fmt.Errorf("finetune: %v", err)
	}
	train, test, err := splitTarget(d, *perClass, *seed)
	if err != nil {
		return fmt.Errorf("finetune: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var o transfer.Options
	var plan *transfer.Plan
	if *strategy == "auto" {
		if plan, err = transfer.Advise(ctx, base, train, transfer.AdviseOptions{Seed: *seed}); err != nil {
			return fmt.Errorf("finetune: %v", err)
		}
		o = plan.Options(*seed)
	} else {
		st, err := transfer.ParseStrategy(*strategy)
		if err != nil {
			return fmt.Errorf("finetune: %v", err)
		}
		o = transfer.Options{Strategy: st, TopK: *top, Seed: *seed}
	}
	o.Progress = progressBar(out, 0, *quiet || *asJSON)
	if *augment {
		a := augmentation(*flip, *seed)
		o.Augment = func(d nn.Dataset) nn.Dataset {
			if s, ok := d.(*data.Set); ok {
				return data.Augmented(s, a)
			}
			return d
		}
	}
	res, err := transfer.Run(ctx, base, train, test, o)
	if err != nil {
		return fmt.Errorf("finetune: %v", err)
	}
	rep := transfer.Compare(res, nil)
	if *outPath != "" {
		m := res.Model.Meta()
		m.Classes, m.Mean, m.Std = d.Classes, d.Mean, d.Std
		if *delta {
			err = transfer.SaveDelta(*outPath, res, m)
		} else {
			err = nn.Save(*outPath, res.Model, m)
		}
		if err != nil {
			return fmt.Errorf("finetune: %v", err)
		}
	}
	if *asJSON {
		v := map[string]any{"strategy": res.Strategy, "accuracy": res.Accuracy, "seconds": res.Cost.Seconds,
			"flops": res.Cost.FLOPs(), "scratch_flops": res.Scratch.FLOPs(), "flops_saved": rep.FLOPsSaved,
			"train": train.Len(), "test": test.Len(), "notices": res.Notices}
		if plan != nil {
			v["reasons"] = plan.Reasons
		}
		return printJSON(out, v)
	}
	fmt.Fprintf(out, "%s on %d images (%d classes), tested on %d\n", base.Arch, train.Len(), train.NumClasses(), test.Len())
	if plan != nil {
		fmt.Fprintf(out, "advisor: %s\n  - %s\n", plan.Strategy, strings.Join(plan.Reasons, "\n  - "))
	}
	for _, n := range res.Notices {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	fmt.Fprintln(out, rep)
	if *outPath != "" {
		fmt.Fprintf(out, "wrote %s\n", *outPath)
	}
	return nil
}

// advise is `graft advise`.
func advise(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("advise", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "base checkpoint (safetensors written by graft, or PyTorch's with --arch)")
	arch := fs.String("arch", "", "architecture of a PyTorch state_dict given to --from (graft's checkpoints name theirs)")
	dataSpec := fs.String("data", "", "target data: a folder of class sub-folders, or digits, mnist, fashion")
	perClass := fs.Int("per-class", 0, "advise for K images per class (0: all the data)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("advise: %v", err)
	}
	base, meta, err := loadBase(*from, *arch)
	if err != nil {
		return fmt.Errorf("advise: %v", err)
	}
	d, err := targetData(*dataSpec, base, meta)
	if err != nil {
		return fmt.Errorf("advise: %v", err)
	}
	if *perClass > 0 {
		if d, err = d.FewShot(*perClass, 1); err != nil {
			return fmt.Errorf("advise: %v", err)
		}
	}
	plan, err := transfer.Advise(context.Background(), base, d, transfer.AdviseOptions{Seed: 1})
	if err != nil {
		return fmt.Errorf("advise: %v", err)
	}
	if *asJSON {
		return printJSON(out, plan)
	}
	fmt.Fprintf(out, "strategy: %s", plan.Strategy)
	if plan.Strategy == transfer.StrategyTopK {
		fmt.Fprintf(out, " (top %d groups)", plan.TopK)
	}
	fmt.Fprintf(out, "\nlearning rates: %g (head) .. %g (bottom)\n", plan.LR, plan.LRLo)
	for _, r := range plan.Reasons {
		fmt.Fprintf(out, "  - %s\n", r)
	}
	return nil
}
