package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/assets"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/transfer"
)

func init() {
	register(command{name: "finetune", device: true,
		summary: "re-use a checkpoint for new data: features, top-k, all, or the advisor's pick",
		doc: `Re-uses a trained model (the base) for a new task and writes the result. --from is a safetensors checkpoint written by graft, or a PyTorch state_dict saved as safetensors (then --arch names its architecture), or a format another command imports.

--data is a folder with one sub-folder of images per class (images resized and centre-cropped to the base's input, grey or RGB as it takes, normalised with its mean and std), or digits (scikit-learn's, embedded), mnist or fashion. With --per-class K, K images of each class are trained on and the rest tested; otherwise a seeded, stratified 80/20 split.

Strategies: features (a new head on the base's cached features, for --head-epochs), top-k (the head, then the top --top layer groups for --epochs), all (the head, then every group), scratch (the architecture trained from its initialisation for both counts of epochs, for comparison), auto (the advisor's plan, printed before training). The progress bar names the phase; the rate of a phase on cached features counts features, not images.

--delta writes only what was trained; the delta records the base's hash and path, and predict loads it with --base FILE (or finds the base at the recorded path).

Ctrl-C stops at once: --out is written with the model as after the last complete epoch (nothing is saved when none finished), --plot is drawn, and graft exits with status 130.`,
		run: finetune})
	register(command{name: "advise", device: true,
		summary: "the advisor's plan for a base and new data, with its reasons",
		doc:     `Measures the base on the new data (how well its features separate the classes, how far the data is from what the base saw, how much data there is) and prints the strategy, the layer groups to train and the learning rates it recommends, with the measurements behind them. --data, --per-class and --seed as for finetune: the advisor measures the part of the data finetune trains on, so graft finetune --strategy auto with the same flags runs this plan.`,
		run:     advise})
}

// targetData loads a target dataset for a base model: "digits" (embedded),
// "mnist", "fashion", or a folder of class sub-folders of images (read
// strictly with --strict).
func (s *session) targetData(spec string, base *models.Model, meta nn.Meta, strict bool) (*data.Set, error) {
	switch spec {
	case "digits":
		return data.ReadDigits(bytes.NewReader(assets.Digits), "digits.csv.gz (embedded)")
	case "mnist", "fashion":
		train, _, err := loadData(spec)
		return train, err
	case "":
		return nil, errors.New("no --data given (a folder of class sub-folders, or digits, mnist, fashion)")
	}
	return s.loadFolder(spec, base, meta, strict)
}

// loadBase reads a base checkpoint: graft's (its metadata names the
// architecture), or a PyTorch state_dict when arch names one.
func loadBase(path, arch string) (*models.Model, nn.Meta, error) {
	if path == "" {
		return nil, nn.Meta{}, errors.New("no --from checkpoint given")
	}
	if importKind(path) != "" {
		return loadImportedBase(path)
	}
	if arch != "" {
		m, err := transfer.FromTorch(path, arch)
		return m, nn.Meta{}, err
	}
	if err := checkModelFile(path); err != nil {
		return nil, nn.Meta{}, err
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
	if parts[1].Len() == 0 {
		return nil, nil, errors.New("too few images to hold 20% of a class out for testing (3 per class at least; or --per-class K)")
	}
	return parts[0], parts[1], nil
}

// strategies is the --strategy help and error text.
const strategies = "auto, features, top-k, all or scratch"

// finetune is `graft finetune`.
func finetune(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("finetune")
	from := fs.String("from", "", "base checkpoint `FILE`: graft's safetensors, an ONNX model (.onnx) or TF.js model.json, or with --arch a PyTorch state_dict (.pth/.pt from torch.save, or safetensors)")
	arch := fs.String("arch", "", "`architecture` of a PyTorch state_dict given to --from (graft's checkpoints name theirs): "+strings.Join(models.Archs(), ", "))
	dataSpec := fs.String("data", "", "target `data`: a folder with one sub-folder of images per class, or digits, mnist, fashion")
	strategy := fs.String("strategy", "auto", "`strategy`: "+strategies)
	top := fs.Int("top", 2, "layer `groups` (the head included) that train under top-k")
	perClass := fs.Int("per-class", 0, "train on `K` images per class and test on the rest (0: a stratified 80/20 split)")
	headEpochs := fs.Int("head-epochs", 30, "`epochs` of the head alone, on cached features (0: none)")
	epochs := fs.Int("epochs", 10, "`epochs` of the unfrozen groups after the head (top-k, all), or added to --head-epochs (scratch)")
	seed := fs.Uint64("seed", 1, "`seed` of the split, the new head and the shuffling")
	outPath := fs.String("out", "", "fine-tuned checkpoint to write (`FILE`.safetensors; required)")
	delta := fs.Bool("delta", false, "write only what was trained, with the base's hash and path (predict --base loads it)")
	plotPath := fs.String("plot", "", "write the training loss and accuracy per epoch to this PNG `file`")
	asJSON := fs.Bool("json", false, "print JSON (no progress lines)")
	augment := fs.Bool("augment", false, "augment the images of the phases that train on images (pad-crop, small rotation, shift, scale); never cached features")
	flip := fs.Bool("flip", false, "with --augment, also flip horizontally (not for digits or text)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	budget := fs.Float64("budget", 1, "with --strategy auto, what the advisor's race may spend, in `multiples` of one full fine-tune's FLOPs (0: no race, the rules decide)")
	keepHead := fs.Bool("keep-head", false, "keep the base's head when its class count fits the data but its class names differ (default: re-initialise it)")
	strict := fs.Bool("strict", false, strictHelp)
	if err := fs.parse(args); err != nil {
		return err
	}
	var st transfer.Strategy
	if *strategy != "auto" {
		var err error
		if st, err = transfer.ParseStrategy(*strategy); err != nil {
			return fs.usageErr("--strategy %s: not one of %s", *strategy, strategies)
		}
	}
	if err := errorsOf(
		fs.check(*from != "", "from", "no base checkpoint given"),
		fs.check(*dataSpec != "", "data", "no target data given (a folder of class sub-folders, or digits, mnist, fashion)"),
		fs.check(*outPath != "", "out", "no file given: where should the fine-tuned model go? (--out FILE.safetensors)"),
		fs.check(*perClass >= 0, "per-class", "must be ≥ 0 (0: an 80/20 split)"),
		fs.check(*headEpochs >= 0, "head-epochs", "must be ≥ 0"),
		fs.check(*epochs >= 0, "epochs", "must be ≥ 0"),
		fs.check(st != transfer.StrategyFeatures || *headEpochs > 0, "head-epochs", "features trains only the head: it needs at least 1"),
		fs.check(st != transfer.StrategyScratch || *headEpochs+*epochs > 0, "epochs", "scratch needs --epochs or --head-epochs above 0"),
		fs.check(!*flip || *augment, "flip", "needs --augment"),
		fs.check(*top >= 1, "top", "must be at least 1 (the head)"),
		fs.check(*budget >= 0, "budget", "must be ≥ 0 (0: no race)"),
		fs.writable("out", *outPath), fs.writable("plot", *plotPath),
	); err != nil {
		return err
	}
	base, meta, err := loadBase(*from, *arch)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	if err := fs.check(*top <= len(base.Groups), "top", fmt.Sprintf("%s has %d layer groups (the head included)", base.Arch, len(base.Groups))); err != nil {
		return err
	}
	d, err := s.targetData(*dataSpec, base, meta, *strict)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	train, test, err := splitTarget(d, *perClass, *seed)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	ctx, stop := s.interrupt()
	defer stop()
	final := out
	if *asJSON {
		out, *quiet = io.Discard, true
	}
	fmt.Fprintf(out, "%s from %s on %s: %d images (%d classes), tested on %d, %s\n",
		base.Arch, *from, *dataSpec, train.Len(), train.NumClasses(), test.Len(), s.backendName())
	var o transfer.Options
	var plan *transfer.Plan
	if st == "" {
		if plan, err = transfer.Advise(ctx, base, train, adviseOptions(*seed, *budget, *headEpochs, *epochs)); err != nil {
			if ctx.Err() != nil {
				return &interrupted{"finetune: interrupted while the advisor measured the data; nothing saved"}
			}
			return fs.usageErr("%v", err)
		}
		o = plan.Options(*seed)
		fmt.Fprintf(out, "advisor: %s\n  - %s\n", describePlan(plan), strings.Join(plan.Reasons, "\n  - "))
	} else {
		o = transfer.Options{Strategy: st, TopK: *top, Seed: *seed}
	}
	o.NewHead = !*keepHead && !transfer.SameClasses(meta.Classes, d.Classes)
	o.HeadEpochs, o.Epochs = *headEpochs, *epochs
	if o.HeadEpochs == 0 {
		o.HeadEpochs = -1
	}
	if o.Epochs == 0 {
		o.Epochs = -1
	}
	bar := newProgress(out, *quiet)
	if plan != nil && plan.Cut != "" {
		o.Progress = bar.phases([]phase{{"groups above " + plan.Cut + " on cached features", max(o.HeadEpochs, 0) + max(o.Epochs, 0), "features"}})
	} else {
		o.Progress = bar.phases(phasesOf(o, base))
	}
	if *augment {
		a := augmentation(*flip, *seed)
		o.Augment = func(d nn.Dataset) nn.Dataset {
			if s, ok := d.(*data.Set); ok {
				return data.Augmented(s, a)
			}
			return d
		}
	}
	var res *transfer.Result
	if plan != nil {
		res, err = transfer.RunPlan(ctx, base, train, test, plan, o)
	} else {
		res, err = transfer.Run(ctx, base, train, test, o)
	}
	bar.clear()
	if err != nil && (res == nil || !res.Interrupted) {
		return fs.usageErr("%v", err)
	}
	var plotted string
	if *plotPath != "" && res != nil && len(res.Epochs) > 0 {
		if err := plotHistory(*plotPath, fmt.Sprintf("%s fine-tuned (%s) on %s", base.Arch, res.Strategy, *dataSpec), renumber(res.Epochs)); err != nil {
			return fs.usageErr("%v", err)
		}
		plotted = *plotPath
	}
	if res.Model != nil {
		m := res.Model.Meta()
		m.Classes, m.Mean, m.Std = d.Classes, d.Mean, d.Std
		if *delta {
			if abs, err := filepath.Abs(*from); err == nil {
				m.Extra = map[string]string{transfer.MetaBase: abs}
			}
			err = transfer.SaveDelta(*outPath, res, m)
		} else {
			err = nn.Save(*outPath, res.Model, m)
		}
		if err != nil {
			return fs.usageErr("%v", err)
		}
	}
	if res.Interrupted {
		msg := fmt.Sprintf("finetune: interrupted after %d complete epochs", len(res.Epochs))
		if res.Model == nil {
			msg += "; nothing saved (no epoch completed)"
		} else {
			msg += fmt.Sprintf("; %s holds the model as after epoch %d", *outPath, len(res.Epochs))
		}
		if plotted != "" {
			msg += "; curves in " + plotted
		}
		return &interrupted{msg}
	}
	rep := transfer.Compare(res, nil)
	if plan != nil {
		rep.Name = "auto → " + describePlan(plan)
	}
	if *asJSON {
		v := map[string]any{"model": base.Arch, "base": *from, "data": *dataSpec, "strategy": res.Strategy, "top_k": o.TopK,
			"name": rep.Name, "head_learning_rate": res.HeadLR, "learning_rate": res.LR, "learning_rate_bottom": res.LRLo,
			"accuracy": finite(res.Accuracy), "loss": finite(res.Loss), "seconds": res.Cost.Seconds,
			"flops": res.Cost.FLOPs(), "scratch_flops": res.Scratch.FLOPs(), "flops_saved": rep.FLOPsSaved,
			"train": train.Len(), "test": test.Len(), "classes": d.Classes, "notices": res.Notices,
			"head_epochs": res.HeadEpochs, "epochs": toJSON(res.Epochs), "checkpoint": *outPath, "delta": *delta, "plot": plotted}
		if plan != nil {
			v["advice"] = planJSON(plan)
		}
		return printJSON(final, v)
	}
	for _, n := range res.Notices {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	fmt.Fprintln(out, rep)
	fmt.Fprintf(out, "wrote %s", *outPath)
	if *delta {
		fmt.Fprintf(out, " (a delta over %s: graft predict --from %s --base %s)", *from, *outPath, *from)
	}
	fmt.Fprintln(out)
	if plotted != "" {
		fmt.Fprintf(out, "wrote %s\n", plotted)
	}
	return nil
}

// phasesOf lists the training phases transfer.Run goes through under o,
// for the progress bar.
func phasesOf(o transfer.Options, base *models.Model) []phase {
	var ph []phase
	if o.Strategy == transfer.StrategyScratch {
		return []phase{{"from scratch", max(o.HeadEpochs, 0) + max(o.Epochs, 0), "images"}}
	}
	if o.HeadEpochs > 0 {
		ph = append(ph, phase{"head on cached features", o.HeadEpochs, "features"})
	}
	if o.Strategy == transfer.StrategyFeatures || o.Epochs <= 0 {
		return ph
	}
	k := len(base.Groups)
	name := "all groups"
	if o.Strategy == transfer.StrategyTopK {
		k = min(max(o.TopK, 1), k)
		name = fmt.Sprintf("top %d groups", k)
	}
	unit := "images"
	if k < len(base.Groups) && o.Freeze.BN == transfer.BNFreezeStats && !o.Freeze.TrainBNAffine {
		unit, name = "features", name+" on cached features"
	}
	return append(ph, phase{name, o.Epochs, unit})
}

// renumber numbers the epochs of successive phases on from each other.
func renumber(es []nn.EpochStats) []nn.EpochStats {
	out := slices.Clone(es)
	for i := range out {
		out[i].Epoch = i + 1
	}
	return out
}

// describePlan is the advisor's strategy in words.
func describePlan(p *transfer.Plan) string {
	s := string(p.Strategy)
	if p.Strategy == transfer.StrategyFeatures && p.Cut != "" {
		s = fmt.Sprintf("features@%s (%d groups kept below %s, those above re-initialised)", p.Cut, p.FreezeDepth, p.Cut)
	}
	if p.Strategy == transfer.StrategyTopK {
		s += fmt.Sprintf(" (top %d groups)", p.TopK)
	}
	return s
}

// planJSON is the advisor's plan in snake_case JSON, the form of every
// --json.
func planJSON(p *transfer.Plan) map[string]any {
	bn := "freeze_stats"
	if p.Freeze.BN == transfer.BNUpdateStats {
		bn = "update_stats"
	}
	return map[string]any{"strategy": p.Strategy, "top_k": p.TopK, "freeze_depth": p.FreezeDepth, "cut": p.Cut,
		"frozen_batchnorm": bn, "train_batchnorm_affine": p.Freeze.TrainBNAffine,
		"learning_rate": p.LR, "learning_rate_bottom": p.LRLo, "reasons": p.Reasons,
		"per_class": p.PerClass, "feature_score": p.FeatureScore, "pixel_score": p.PixelScore,
		"similar": p.Similar, "small": p.Small, "probe": p.Probe, "rules": p.Rules.Name(), "race": p.Race,
		"cost_flops": p.Cost.FLOPs(), "cost_seconds": p.Cost.Seconds, "full_finetune_flops": p.FullFineTune}
}

// adviseOptions are the advisor's options for a seed, a race budget (0:
// none) and the schedule the budget is counted in (0: the defaults).
func adviseOptions(seed uint64, budget float64, headEpochs, epochs int) transfer.AdviseOptions {
	if budget == 0 {
		budget = -1
	}
	headEpochs, epochs = max(headEpochs, 1), max(epochs, 1)
	return transfer.AdviseOptions{Seed: seed, Race: transfer.RaceOptions{Budget: budget, HeadEpochs: headEpochs, Epochs: epochs}}
}

// advise is `graft advise`.
func advise(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("advise")
	from := fs.String("from", "", "base checkpoint `FILE`: graft's safetensors, an ONNX model (.onnx) or TF.js model.json, or with --arch a PyTorch state_dict (.pth/.pt from torch.save, or safetensors)")
	arch := fs.String("arch", "", "`architecture` of a PyTorch state_dict given to --from (graft's checkpoints name theirs)")
	dataSpec := fs.String("data", "", "target `data`: a folder of class sub-folders, or digits, mnist, fashion")
	perClass := fs.Int("per-class", 0, "advise for `K` images per class, as finetune --per-class trains on (0: the 80% finetune trains on)")
	seed := fs.Uint64("seed", 1, "`seed` of the split (as finetune's) and the probe")
	budget := fs.Float64("budget", 1, "what the race of the candidates may spend, in `multiples` of one full fine-tune's FLOPs (0: no race, the rules decide)")
	headEpochs := fs.Int("head-epochs", 30, "`epochs` of the head in the fine-tune the race's budget and schedules count in (as finetune's)")
	epochs := fs.Int("epochs", 10, "`epochs` of the unfrozen groups in that fine-tune (as finetune's)")
	asJSON := fs.Bool("json", false, "print JSON")
	strict := fs.Bool("strict", false, strictHelp)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := errorsOf(
		fs.check(*from != "", "from", "no base checkpoint given"),
		fs.check(*dataSpec != "", "data", "no target data given (a folder of class sub-folders, or digits, mnist, fashion)"),
		fs.check(*perClass >= 0, "per-class", "must be ≥ 0 (0: the 80% finetune trains on)"),
		fs.check(*budget >= 0, "budget", "must be ≥ 0 (0: no race)"),
	); err != nil {
		return err
	}
	base, meta, err := loadBase(*from, *arch)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	d, err := s.targetData(*dataSpec, base, meta, *strict)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	// the training part of finetune's split, so both measure the same data
	train, _, err := splitTarget(d, *perClass, *seed)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	ctx, stop := s.interrupt()
	defer stop()
	plan, err := transfer.Advise(ctx, base, train, adviseOptions(*seed, *budget, *headEpochs, *epochs))
	if ctx.Err() != nil {
		return &interrupted{"advise: interrupted"}
	}
	if err != nil {
		return fs.usageErr("%v", err)
	}
	if *asJSON {
		return printJSON(out, planJSON(plan))
	}
	fmt.Fprintf(out, "strategy: %s\n", describePlan(plan))
	fmt.Fprintf(out, "learning rates: %g (head) .. %g (bottom)\n", plan.LR, plan.LRLo)
	for _, r := range plan.Reasons {
		fmt.Fprintf(out, "  - %s\n", r)
	}
	return nil
}
