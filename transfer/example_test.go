package transfer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// The advisor measures how well the MNIST network's features separate ten
// scikit-learn digits per class, compared with raw pixels, and picks a
// strategy: few examples, similar data, so only the top two layer groups
// fine-tune (on cached features of the frozen layers below).
func ExampleAdvise() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	digits, err := data.LoadDigits("../testdata/digits/digits.csv.gz")
	if err != nil {
		log.Fatal(err)
	}
	train, _, err := digits.FewShotSplit(10, 1)
	if err != nil {
		log.Fatal(err)
	}
	plan, err := transfer.Advise(context.Background(), base, train, transfer.AdviseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan.Strategy, plan.Small, plan.Similar)
	// Output: features true true
}

// Run carries out a strategy on a copy of the base: here a head trained
// on the frozen trunk's cached features of ten digits per class, tested on
// the other digits.
func ExampleRun() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	digits, err := data.LoadDigits("../testdata/digits/digits.csv.gz")
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := digits.FewShotSplit(10, 1)
	if err != nil {
		log.Fatal(err)
	}
	res, err := transfer.Run(context.Background(), base, train, test, transfer.Options{
		Strategy: transfer.StrategyFeatures, HeadEpochs: 10, Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Strategy, res.Accuracy > 0.9)
	// Output: features true
}

// Cut splits a model below its head (or at any named layer): the trunk
// maps images to features, the head features to class scores, and both
// share the model's weights.
func ExampleCut() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	trunk, head, err := transfer.Cut(base, "")
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.Zeros(1, 28, 28, 1)
	features, err := nn.Predict(trunk, x)
	if err != nil {
		log.Fatal(err)
	}
	scores, err := nn.Predict(head, features)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("head:", base.Head, "features:", features.Shape(), "scores:", scores.Shape())
	// Output: head: [fc2] features: [1 128] scores: [1 10]
}

// FreezeTo freezes the layer groups below group n (fastai's freeze_to):
// here every group but the top two, so only they train.
func ExampleFreezeTo() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	if err := transfer.FreezeTo(base, len(base.Groups)-2, transfer.FreezeOptions{}); err != nil {
		log.Fatal(err)
	}
	for _, p := range nn.Parameters(base) {
		if p.Value.Trainable {
			fmt.Println(p.Name)
		}
	}
	// Output:
	// fc1.weight
	// fc1.bias
	// fc2.weight
	// fc2.bias
}

// FineTune is fastai's fine_tune: a new head trained alone on cached
// features, then every layer group with discriminative rates.
func ExampleFineTune() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	digits, err := data.LoadDigits("../testdata/digits/digits.csv.gz")
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := digits.FewShotSplit(10, 1)
	if err != nil {
		log.Fatal(err)
	}
	res, err := transfer.FineTune(context.Background(), base, train, test, 5, 1, transfer.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Strategy, res.HeadEpochs, "head epochs,", len(res.Epochs)-res.HeadEpochs, "of every group; accuracy above 0.9:", res.Accuracy > 0.9)
	// Output: all 5 head epochs, 1 of every group; accuracy above 0.9: true
}

// SaveDelta writes only what a run trained, with the hash of the base's
// weights; LoadDelta applies it over that base, and refuses any other.
func ExampleSaveDelta() {
	base, _, err := transfer.FromCheckpoint("../testdata/mnistcnn/mnistcnn.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	digits, err := data.LoadDigits("../testdata/digits/digits.csv.gz")
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := digits.FewShotSplit(10, 1)
	if err != nil {
		log.Fatal(err)
	}
	res, err := transfer.Run(context.Background(), base, train, test, transfer.Options{Strategy: transfer.StrategyFeatures, HeadEpochs: 5, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "delta")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "digits.delta.safetensors")
	if err := transfer.SaveDelta(path, res, nn.Meta{}); err != nil {
		log.Fatal(err)
	}
	meta, err := nn.ReadMeta(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delta of", meta.Extra[transfer.MetaDelta], "over", meta.Extra[transfer.MetaBase], "holds", res.Trained)
	m, err := transfer.LoadDelta(path, base)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same weights as the run's model:", transfer.WeightsHash(m) == transfer.WeightsHash(res.Model))
	other, err := transfer.Scratch(base, 7)
	if err != nil {
		log.Fatal(err)
	}
	_, err = transfer.LoadDelta(path, other)
	fmt.Println("over another base:", err != nil)
	// Output:
	// delta of features over mnistcnn holds [fc2.bias fc2.weight]
	// same weights as the run's model: true
	// over another base: true
}
