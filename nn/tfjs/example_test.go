package tfjs_test

import (
	"fmt"
	"log"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

// Example imports a Keras Sequential model saved by TF.js (model.json
// and weights.bin), lists its parameters by their Keras names and runs
// it on a batch of NHWC images.
func Example() {
	m, err := tfjs.Read(fixture("seq", "model.json"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input", m.InputShape, "output", m.OutputShape)
	for _, p := range nn.Parameters(m.Graph) {
		fmt.Println(p.Name, p.Value.Value.Shape())
	}
	y := m.Graph.Infer(tensor.Zeros(4, 9, 9, 2))
	fmt.Println("batch of 4 →", y.Shape())
	// Output:
	// input [9 9 2] output [3]
	// c1.weight [4 2 3 3]
	// c1.bias [4]
	// d.weight [3 36]
	// d.bias [3]
	// batch of 4 → [4 3]
}

// ExampleLoad imports a TF.js model as a transfer base: the trunk, the
// last Dense as the head, layer groups by resolution.
func ExampleLoad() {
	m, err := tfjs.Load(fixture("seq", "model.json"), tfjs.Options{Mean: []float32{0, 0}, Std: []float32{1, 1}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input", m.InputShape, "head", m.Head, "classes", m.Options.Classes)
	fmt.Println("groups", m.Groups)
	// Output:
	// input [9 9 2] head [d] classes 3
	// groups [[c1 c1/relu] [p1 f] [d]]
}
