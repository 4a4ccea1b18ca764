package onnx

import (
	"fmt"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// Decode imports a model from its bytes (Read does so from a file, Load
// makes the result a transferable models.Model). The graph keeps the
// initializers' names and takes NHWC images.
func ExampleDecode() {
	imp, err := Decode(smallModel()) // conv, BN, ReLU, squeeze-excitation, pool, Gemm, Softmax
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range nn.Parameters(imp.Graph) {
		fmt.Println(p.Name, p.Value.Value.Shape())
	}
	y := imp.Graph.Infer(tensor.Zeros(1, 8, 8, 3))
	fmt.Println("input", imp.InputShape, "output", y.Shape())
	// Output:
	// conv.weight [4 3 3 3]
	// conv.bias [4]
	// bn.weight [4]
	// bn.bias [4]
	// fc.weight [2 64]
	// fc.bias [2]
	// input [8 8 3] output [1 2]
}
