package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

func init() {
	register(command{name: "train", device: true,
		summary: "train a model from scratch; a checkpoint after every epoch",
		doc: `Trains a model from scratch and saves it as a safetensors checkpoint after every epoch (written atomically), so an interrupted run keeps its last complete epoch.

--data is mnist or fashion (their own training and test sets: MNIST from the Go module cache, Fashion-MNIST from Debian's dataset-fashion-mnist) or a folder with one sub-folder of images per class (PNG, JPEG or GIF; resized on the shorter side and centre-cropped to the model's input size). A folder is split by a seeded, stratified shuffle (--seed): 80% of each class to train on, 20% held out. The held-out part is evaluated after every epoch (the "val" columns) and its accuracy after the last epoch is the "test accuracy".

Training is SGD with Nesterov momentum 0.9 and a one-cycle schedule peaking at --lr. On a terminal a progress bar shows the epoch, the step, the loss, the rate and the time left.

Ctrl-C stops at once: --out keeps the last complete epoch (nothing is saved when the first epoch did not finish), --plot is drawn from the epochs done, and graft exits with status 130. Beside --out, OUT.resume.safetensors then holds the optimizer's state and the run's settings: graft train --resume OUT goes on from there, and removes it when the run completes.

Examples:
  graft train --model lenet5 --data ./shapes --epochs 10 --out shapes.safetensors --plot curves.png
  graft train --resume shapes.safetensors`,
		run: train})
}

// trainConfig is what a training run was asked to do: the flags that
// decide its result, recorded in the resume state.
type trainConfig struct {
	Model   string  `json:"model"`
	Data    string  `json:"data"`
	Epochs  int     `json:"epochs"`
	Batch   int     `json:"batch"`
	LR      float64 `json:"lr"`
	WD      float64 `json:"wd"`
	Seed    uint64  `json:"seed"`
	Augment bool    `json:"augment"`
	Flip    bool    `json:"flip"`
	Limit   int     `json:"limit"`
}

// metaTrain and metaHistory are the resume state's metadata keys.
const (
	metaTrain   = "graft_train"
	metaHistory = "graft_history"
)

// resumePath is where an interrupted run keeps what resuming it needs.
func resumePath(out string) string {
	return strings.TrimSuffix(out, ".safetensors") + ".resume.safetensors"
}

// loadData returns the train and test sets of a named dataset.
func loadData(name string) (train, test *data.Set, err error) {
	switch name {
	case "mnist":
		return data.MNIST()
	case "fashion":
		return data.FashionMNIST()
	}
	return nil, nil, fmt.Errorf("--data %s: not mnist, fashion, or a folder of class sub-folders", name)
}

// trainData loads mnist, fashion, or an image folder for an architecture
// (split 80/20, images at the architecture's default size; read strictly
// with --strict).
func (s *session) trainData(spec, arch string, seed uint64, strict bool) (train, test *data.Set, err error) {
	if st, err := os.Stat(spec); err != nil || !st.IsDir() {
		return loadData(spec)
	}
	probe, err := models.New(arch, models.Options{})
	if err != nil {
		return nil, nil, err
	}
	set, err := s.loadFolder(spec, probe, nn.Meta{}, strict)
	if err != nil {
		return nil, nil, err
	}
	parts, err := set.Split(seed, 0.8, 0.2)
	if err != nil {
		return nil, nil, err
	}
	return parts[0], parts[1], nil
}

// epochJSON is one epoch in JSON (NaN as null).
type epochJSON struct {
	Epoch        int      `json:"epoch"`
	TrainLoss    *float64 `json:"train_loss"`
	TrainAcc     *float64 `json:"train_accuracy"`
	ValLoss      *float64 `json:"test_loss"`
	ValAcc       *float64 `json:"test_accuracy"`
	Seconds      float64  `json:"seconds"`
	Images       int      `json:"images"`
	ImagesPerSec float64  `json:"images_per_second"`
	Steps        int      `json:"steps"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func toJSON(es []nn.EpochStats) []epochJSON {
	out := make([]epochJSON, len(es))
	for i, e := range es {
		out[i] = epochJSON{e.Epoch, finite(e.TrainLoss), finite(e.TrainAcc), finite(e.ValLoss), finite(e.ValAcc), e.Seconds, e.Images, e.ImagesPerSec, e.Steps}
	}
	return out
}

func fromJSON(es []epochJSON) []nn.EpochStats {
	out := make([]nn.EpochStats, len(es))
	for i, e := range es {
		out[i] = nn.EpochStats{Epoch: e.Epoch, TrainLoss: orNaN(e.TrainLoss), TrainAcc: orNaN(e.TrainAcc), ValLoss: orNaN(e.ValLoss),
			ValAcc: orNaN(e.ValAcc), Seconds: e.Seconds, Images: e.Images, ImagesPerSec: e.ImagesPerSec, Steps: e.Steps}
	}
	return out
}

// epochSaver prints one line per epoch and, with a path, saves the
// checkpoint and the resume state after each (atomically), so an
// interrupted run keeps its last complete epoch.
type epochSaver struct {
	out     io.Writer
	bar     *progress
	path    string
	model   *models.Model
	meta    nn.Meta
	opt     nn.Optimizer
	cfg     trainConfig
	history []nn.EpochStats // every epoch so far, those of resumed runs included
}

func (p *epochSaver) EpochEnd(_ nn.Layer, s *nn.EpochStats) (bool, error) {
	p.bar.clear()
	fmt.Fprintf(p.out, "epoch %d/%d: loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s, %.0f images/s\n",
		s.Epoch, p.cfg.Epochs, s.TrainLoss, s.TrainAcc, s.ValLoss, s.ValAcc, s.Seconds, s.ImagesPerSec)
	p.history = append(p.history, *s)
	if p.path == "" {
		return false, nil
	}
	if err := nn.Save(p.path, p.model, p.meta); err != nil {
		return true, err
	}
	cfg, err := json.Marshal(p.cfg)
	if err != nil {
		return true, err
	}
	hist, err := json.Marshal(toJSON(p.history))
	if err != nil {
		return true, err
	}
	meta := p.meta
	meta.Extra = map[string]string{metaTrain: string(cfg), metaHistory: string(hist)}
	if err := nn.SaveTraining(resumePath(p.path), p.model, p.opt, nn.TrainState{Epoch: s.Epoch, Step: s.Steps}, meta); err != nil {
		return true, err
	}
	return false, nil
}

// interruptContext returns a context cancelled by the first Ctrl-C; a
// second one ends the process at once, as if graft caught none. It is the
// process session's interrupt (newProcessSession).
func interruptContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// errorsOf returns the first non-nil error.
func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// train is `graft train`: a model trained from scratch on a dataset.
func train(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("train")
	var c trainConfig
	fs.StringVar(&c.Model, "model", "mnistcnn", "`architecture`: "+strings.Join(models.Archs(), ", "))
	fs.StringVar(&c.Data, "data", "mnist", "`dataset`: mnist, fashion, or a folder with one sub-folder of images per class")
	fs.IntVar(&c.Epochs, "epochs", 3, "`epochs` to train")
	fs.IntVar(&c.Batch, "batch", 64, "batch `size`")
	fs.Float64Var(&c.LR, "lr", 0.05, "peak learning `rate` (SGD with Nesterov momentum, one-cycle schedule)")
	fs.Float64Var(&c.WD, "wd", 5e-4, "weight `decay`")
	fs.Uint64Var(&c.Seed, "seed", 1, "`seed` of the initialisation, the shuffling and a folder's split")
	fs.BoolVar(&c.Augment, "augment", false, "augment the training images (pad-crop, small rotation, shift, scale)")
	fs.BoolVar(&c.Flip, "flip", false, "with --augment, also flip horizontally (not for digits or text)")
	fs.IntVar(&c.Limit, "limit", 0, "train on the first `N` images of a seeded shuffle and test on N/4 (0: all)")
	outPath := fs.String("out", "", "checkpoint to write after every epoch (`FILE`.safetensors)")
	resume := fs.String("resume", "", "go on with the interrupted run that wrote `FILE` (its settings come from FILE's resume state)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	plotPath := fs.String("plot", "", "write loss and accuracy curves to this PNG `file`")
	asJSON := fs.Bool("json", false, "print the per-epoch metrics as JSON at the end (no progress lines)")
	strict := fs.Bool("strict", false, strictHelp)
	if err := fs.parse(args); err != nil {
		return err
	}
	var (
		state   *nn.Meta
		history []nn.EpochStats
	)
	if *resume != "" {
		var bad []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "resume", "quiet", "plot", "json", "strict":
			case "epochs": // a resumed run may be lengthened
			default:
				bad = append(bad, "--"+f.Name)
			}
		})
		if len(bad) > 0 {
			return fs.usageErr("--resume takes the run's settings from its resume state; drop %s", strings.Join(bad, ", "))
		}
		epochs, epochsSet := c.Epochs, fs.isSet("epochs")
		m, err := nn.ReadMeta(resumePath(*resume))
		if errors.Is(err, os.ErrNotExist) {
			return fs.usageErr("--resume %s: no %s (only an interrupted run leaves one)", *resume, resumePath(*resume))
		}
		if err != nil {
			return fs.usageErr("--resume %s: %v", *resume, err)
		}
		if err := json.Unmarshal([]byte(m.Extra[metaTrain]), &c); err != nil {
			return fs.usageErr("--resume %s: %s records no training run (%v)", *resume, resumePath(*resume), err)
		}
		var hj []epochJSON
		if err := json.Unmarshal([]byte(m.Extra[metaHistory]), &hj); err != nil {
			return fs.usageErr("--resume %s: %s records no epochs (%v)", *resume, resumePath(*resume), err)
		}
		history = fromJSON(hj)
		if epochsSet {
			c.Epochs = epochs
		}
		*outPath, state = *resume, &m
	}
	if err := errorsOf(
		fs.check(c.Epochs >= 1, "epochs", "must be at least 1"),
		fs.check(c.Batch >= 1, "batch", "must be at least 1"),
		fs.check(c.LR > 0 && !math.IsInf(c.LR, 0), "lr", "must be a positive number"),
		fs.check(c.WD >= 0 && !math.IsInf(c.WD, 0), "wd", "must be ≥ 0"),
		fs.check(c.Limit >= 0, "limit", "must be ≥ 0 (0 trains on all the data)"),
		fs.check(!c.Flip || c.Augment, "flip", "needs --augment"),
		fs.check(slices.Contains(models.Archs(), c.Model), "model", "not one of "+strings.Join(models.Archs(), ", ")),
		fs.writable("out", *outPath), fs.writable("plot", *plotPath),
	); err != nil {
		return err
	}
	if len(history) >= c.Epochs {
		return fs.usageErr("--resume %s: the run already did %d of %d epochs (raise --epochs to train more)", *resume, len(history), c.Epochs)
	}
	trainSet, testSet, err := s.trainData(c.Data, c.Model, c.Seed, *strict)
	if err != nil {
		return fs.usageErr("%v", err)
	}
	if testSet.Len() == 0 {
		return fs.usageErr("--data %s: too few images to hold 20%% of a class out for testing (3 per class at least)", c.Data)
	}
	if c.Limit > 0 && c.Limit < trainSet.Len() {
		trainSet = trainSet.Subset(trainSet.Shuffle(c.Seed)[:c.Limit])
		testSet = testSet.Subset(testSet.Shuffle(c.Seed)[:min(max(c.Limit/4, 1), testSet.Len())])
	}
	shape := trainSet.ExampleShape()
	m, err := models.New(c.Model, models.Options{Classes: trainSet.NumClasses(), InChans: shape[2], Size: shape[0], Seed: c.Seed})
	if err != nil {
		return fs.usageErr("%v", err)
	}
	if shape[0] != shape[1] || m.InputShape[0] != shape[0] {
		return fs.usageErr("%s takes %v images, %s has %v", c.Model, m.InputShape, c.Data, shape)
	}
	meta := m.Meta()
	meta.Classes, meta.Mean, meta.Std = trainSet.Classes, trainSet.Mean, trainSet.Std
	opt := nn.NewSGD(0.9, true, nn.NewGroup(nn.Parameters(m), c.LR, c.WD))
	var start nn.TrainState
	if state != nil {
		if start, _, err = nn.LoadTraining(resumePath(*resume), m, opt); err != nil {
			return fs.usageErr("--resume %s: %v", *resume, err)
		}
		if !slices.Equal(state.Classes, meta.Classes) {
			return fs.usageErr("--resume %s: the data's classes changed since (%v, now %v)", *resume, state.Classes, meta.Classes)
		}
	}
	ctx, stop := s.interrupt()
	defer stop()
	final := out
	if *asJSON {
		out, *quiet = io.Discard, true
	}
	verb := "training"
	if state != nil {
		verb = fmt.Sprintf("resuming after epoch %d:", start.Epoch)
	}
	fmt.Fprintf(out, "%s %s on %s: %d images (%d classes), tested on %d, %d epochs, batch %d, %s\n",
		verb, c.Model, c.Data, trainSet.Len(), trainSet.NumClasses(), testSet.Len(), c.Epochs, c.Batch, s.backendName())
	began := time.Now()
	var fitData nn.Dataset = trainSet
	if c.Augment {
		fitData = data.Augmented(trainSet, augmentation(c.Flip, c.Seed))
	}
	bar := newProgress(out, *quiet)
	saver := &epochSaver{out: out, bar: bar, path: *outPath, model: m, meta: meta, opt: opt, cfg: c, history: history}
	_, err = nn.Fit(ctx, m, fitData, testSet, nn.FitOptions{
		Epochs: c.Epochs, BatchSize: c.Batch, Optimizer: opt, Schedule: nn.OneCycle{}, Seed: c.Seed,
		StartEpoch: start.Epoch, StartStep: start.Step,
		Progress:  bar.epochs(c.Epochs),
		Callbacks: []nn.Callback{saver},
	})
	bar.clear()
	hist := saver.history
	interruptedErr := errors.Is(err, context.Canceled)
	if err != nil && !interruptedErr {
		return fs.usageErr("%v", err)
	}
	var plotted string
	if *plotPath != "" && len(hist) > 0 {
		if perr := plotHistory(*plotPath, fmt.Sprintf("%s on %s", c.Model, c.Data), hist); perr != nil {
			return fs.usageErr("%v", perr)
		}
		plotted = *plotPath
	}
	if interruptedErr {
		return &interrupted{trainInterrupted(*outPath, plotted, len(hist), c.Epochs)}
	}
	if *outPath != "" {
		if err := os.Remove(resumePath(*outPath)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fs.usageErr("%v", err)
		}
	}
	last := hist[len(hist)-1]
	var images int
	for _, e := range hist[len(history):] {
		images += e.Images
	}
	secs := time.Since(began).Seconds()
	if *asJSON {
		return printJSON(final, map[string]any{"model": c.Model, "data": c.Data, "epochs": toJSON(hist), "test_accuracy": finite(last.ValAcc),
			"seconds": secs, "images_per_second": float64(images) / secs, "checkpoint": *outPath, "plot": plotted})
	}
	fmt.Fprintf(out, "test accuracy %.4f after %d epochs; %.1f s in all, %.0f training images/s\n", last.ValAcc, len(hist), secs, float64(images)/secs)
	if *outPath != "" {
		fmt.Fprintf(out, "wrote %s\n", *outPath)
	}
	if plotted != "" {
		fmt.Fprintf(out, "wrote %s\n", plotted)
	}
	return nil
}

// trainInterrupted is the message of an interrupted graft train: what
// was kept, and how to go on.
func trainInterrupted(out, plotted string, done, epochs int) string {
	msg := fmt.Sprintf("train: interrupted during epoch %d of %d", done+1, epochs)
	switch {
	case out == "":
		msg += "; nothing saved (no --out)"
	case done == 0:
		msg += "; nothing saved (no epoch completed)"
	default:
		msg += fmt.Sprintf("; %s holds epoch %d (go on with: graft train --resume %s)", out, done, out)
	}
	if plotted != "" {
		msg += "; curves in " + plotted
	}
	return msg
}
