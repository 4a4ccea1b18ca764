package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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

Ctrl-C stops at once: the checkpoint keeps the last complete epoch (nothing is saved when the first epoch did not finish), --plot is drawn from the epochs done, and graft exits with status 130.

Example:
  graft train --model lenet5 --data ./shapes --epochs 10 --out shapes.safetensors --plot curves.png`,
		run: train})
}

// loadData returns the train and test sets of a named dataset.
func loadData(name string) (train, test *data.Set, err error) {
	switch name {
	case "mnist":
		return data.MNIST()
	case "fashion":
		return data.FashionMNIST()
	}
	return nil, nil, fmt.Errorf("unknown dataset %q (mnist, fashion, or a folder of class sub-folders)", name)
}

// trainData loads mnist, fashion, or an image folder for an architecture
// (split 80/20, images at the architecture's default size).
func trainData(spec, arch string, seed uint64) (train, test *data.Set, err error) {
	if st, err := os.Stat(spec); err != nil || !st.IsDir() {
		return loadData(spec)
	}
	probe, err := models.New(arch, models.Options{})
	if err != nil {
		return nil, nil, err
	}
	s, err := loadFolder(spec, probe, nn.Meta{})
	if err != nil {
		return nil, nil, err
	}
	parts, err := s.Split(seed, 0.8, 0.2)
	if err != nil {
		return nil, nil, err
	}
	return parts[0], parts[1], nil
}

// epochPrinter prints one line per epoch and saves the checkpoint after
// each (atomically), so an interrupted run keeps its last complete epoch.
type epochPrinter struct {
	out   io.Writer
	path  string
	model *models.Model
	meta  nn.Meta
}

func (p epochPrinter) EpochEnd(_ nn.Layer, s *nn.EpochStats) (bool, error) {
	fmt.Fprintf(p.out, "epoch %d: loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s, %.0f images/s\n",
		s.Epoch, s.TrainLoss, s.TrainAcc, s.ValLoss, s.ValAcc, s.Seconds, s.ImagesPerSec)
	if p.path != "" {
		if err := nn.Save(p.path, p.model, p.meta); err != nil {
			return true, err
		}
	}
	return false, nil
}

// train is `graft train`: a model trained from scratch on a dataset.
func train(args []string, out io.Writer) error {
	fs := newFlags("train")
	arch := fs.String("model", "mnistcnn", "architecture: lenet5, mnistcnn, resnet18cifar, mobilenetv2")
	dataset := fs.String("data", "mnist", "dataset: mnist, fashion, or a folder with one sub-folder of images per class")
	epochs := fs.Int("epochs", 3, "epochs")
	batch := fs.Int("batch", 64, "batch size")
	lr := fs.Float64("lr", 0.05, "peak learning rate (SGD with Nesterov momentum, one-cycle schedule)")
	wd := fs.Float64("wd", 5e-4, "weight decay")
	seed := fs.Uint64("seed", 1, "seed of the initialisation and the shuffling")
	outPath := fs.String("out", "", "checkpoint to write (safetensors)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	augment := fs.Bool("augment", false, "augment the training images (pad-crop, small rotation, shift, scale)")
	flip := fs.Bool("flip", false, "with --augment, also flip horizontally (not for digits or text)")
	plotPath := fs.String("plot", "", "write loss and accuracy curves to this PNG file")
	asJSON := fs.Bool("json", false, "print the per-epoch metrics as JSON at the end (no progress lines)")
	limit := fs.Int("limit", 0, "train on the first N images of a seeded shuffle, test on N/4 (0: all)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *epochs < 1 || *batch < 1 || *lr <= 0 {
		return fmt.Errorf("train: --epochs, --batch and --lr must be positive")
	}
	trainSet, testSet, err := trainData(*dataset, *arch, *seed)
	if err != nil {
		return fmt.Errorf("train: %v", err)
	}
	if *limit > 0 && *limit < trainSet.Len() {
		trainSet = trainSet.Subset(trainSet.Shuffle(*seed)[:*limit])
		testSet = testSet.Subset(testSet.Shuffle(*seed)[:max(*limit/4, 1)])
	}
	shape := trainSet.ExampleShape()
	m, err := models.New(*arch, models.Options{Classes: trainSet.NumClasses(), InChans: shape[2], Size: shape[0], Seed: *seed})
	if err != nil {
		return fmt.Errorf("train: %v", err)
	}
	if shape[0] != shape[1] || m.InputShape[0] != shape[0] {
		return fmt.Errorf("train: %s takes %v images, %s has %v", *arch, m.InputShape, *dataset, shape)
	}
	meta := m.Meta()
	meta.Classes, meta.Mean, meta.Std = trainSet.Classes, trainSet.Mean, trainSet.Std
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	final := out
	if *asJSON {
		out, *quiet = io.Discard, true
	}
	params := nn.Parameters(m)
	opt := nn.NewSGD(0.9, true, nn.NewGroup(params, *lr, *wd))
	fmt.Fprintf(out, "training %s on %s: %d images, %d epochs, batch %d, %s\n", *arch, *dataset, trainSet.Len(), *epochs, *batch, backendName())
	start := time.Now()
	var fitData nn.Dataset = trainSet
	if *augment {
		fitData = data.Augmented(trainSet, augmentation(*flip, *seed))
	}
	hist, err := nn.Fit(ctx, m, fitData, testSet, nn.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Optimizer: opt, Schedule: nn.OneCycle{}, Seed: *seed,
		Progress:  progressBar(out, *epochs, *quiet),
		Callbacks: []nn.Callback{epochPrinter{out: out, path: *outPath, model: m, meta: meta}},
	})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(out, "interrupted after %d epochs; %s keeps the last complete one\n", len(hist.Epochs), *outPath)
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %v", err)
	}
	if *plotPath != "" {
		if err := plotHistory(*plotPath, hist.Epochs); err != nil {
			return fmt.Errorf("train: %v", err)
		}
		fmt.Fprintf(out, "wrote %s\n", *plotPath)
	}
	last := hist.Last()
	var images int
	for _, e := range hist.Epochs {
		images += e.Images
	}
	secs := time.Since(start).Seconds()
	if *asJSON {
		type epoch struct {
			Epoch        int     `json:"epoch"`
			TrainLoss    float64 `json:"train_loss"`
			TrainAcc     float64 `json:"train_accuracy"`
			ValLoss      float64 `json:"test_loss"`
			ValAcc       float64 `json:"test_accuracy"`
			Seconds      float64 `json:"seconds"`
			ImagesPerSec float64 `json:"images_per_second"`
		}
		var eps []epoch
		for _, e := range hist.Epochs {
			eps = append(eps, epoch{e.Epoch, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, e.Seconds, e.ImagesPerSec})
		}
		return printJSON(final, map[string]any{"model": *arch, "data": *dataset, "epochs": eps, "test_accuracy": hist.Last().ValAcc,
			"seconds": secs, "images_per_second": float64(images) / secs, "checkpoint": *outPath})
	}
	fmt.Fprintf(out, "test accuracy %.4f after %d epochs; %.1f s in all, %.0f training images/s\n", last.ValAcc, len(hist.Epochs), secs, float64(images)/secs)
	if *outPath != "" {
		fmt.Fprintf(out, "wrote %s\n", *outPath)
	}
	return nil
}
