package models_test

import (
	"fmt"
	"log"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
)

// Summarize lists a model's layers with their output shapes, parameters
// and FLOPs (2 per multiply-add of the convolutions and dense layers).
func ExampleLeNet5() {
	m := models.LeNet5(models.Options{Seed: 1})
	s, err := nn.Summarize(m, []int{1, 28, 28, 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(s)
	fmt.Println("groups:", m.Groups, "head:", m.Head)
	// Output:
	// layer                        type           output                 params  fwd MFLOP  bwd MFLOP
	// conv1                        Conv2D         [1 28 28 6]               156       0.24       0.47
	// relu1                        Act(relu)      [1 28 28 6]                 0       0.00       0.00
	// pool1                        MaxPool2D      [1 14 14 6]                 0       0.00       0.00
	// conv2                        Conv2D         [1 10 10 16]             2416       0.48       0.96
	// relu2                        Act(relu)      [1 10 10 16]                0       0.00       0.00
	// pool2                        MaxPool2D      [1 5 5 16]                  0       0.00       0.00
	// flatten                      Flatten        [1 400]                     0       0.00       0.00
	// fc1                          Dense          [1 120]                 48120       0.10       0.19
	// relu3                        Act(relu)      [1 120]                     0       0.00       0.00
	// fc2                          Dense          [1 84]                  10164       0.02       0.04
	// relu4                        Act(relu)      [1 84]                      0       0.00       0.00
	// fc3                          Dense          [1 10]                    850       0.00       0.00
	// total                                       [1 28 28 1]             61706       0.83       1.67
	// trainable parameters: 61706 of 61706
	// groups: [[conv1] [conv2] [fc1 fc2] [fc3]] head: [fc3]
}

// Backends are values: a model moved to a backend runs there, whatever
// the default (and refuses an input of another backend). Here two copies
// of a model run on the generic CPU tier and on the process's tier.
func ExampleModel_moveTo() {
	generic, err := tensor.NewCPU(kernels.Generic, false)
	if err != nil {
		log.Fatal(err)
	}
	a := models.MNISTCNN(models.Options{Seed: 1})
	b := models.MNISTCNN(models.Options{Seed: 1})
	nn.MoveTo(a, generic)
	nn.MoveTo(b, tensor.CPU{})
	x := tensor.ZerosOn(generic, 2, 28, 28, 1)
	ya := a.Infer(x)
	fmt.Println("output on the generic tier:", ya.Backend() == tensor.Backend(generic))
	yb := b.Infer(tensor.ZerosOn(tensor.CPU{}, 2, 28, 28, 1))
	fmt.Println("same shape:", ya.SameShape(yb))
	// Output:
	// output on the generic tier: true
	// same shape: true
}
