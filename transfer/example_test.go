package transfer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/graftml/graft/data"
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
	// Output: top-k true true
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
