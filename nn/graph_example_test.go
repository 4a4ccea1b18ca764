package nn_test

import (
	"fmt"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// A Graph joins branches: here a residual sum and a squeeze-excitation
// gate that broadcasts [N, 1, 1, C] over [N, H, W, C]. Names nest: the
// convolution named "block.conv" owns block.conv.weight.
func ExampleGraph() {
	g := nn.NewGraph("x")
	for _, err := range []error{
		g.Add("block.conv", nn.NewConv2D(4, 4, 3, nn.ConvOpts{Padding: 1}, 1), "c", "x"),
		g.Add("block.add", nn.NewBinary(nn.OpAdd), "r", "c", "x"),
		g.Add("se.pool", &nn.GlobalAvgPool{KeepDims: true}, "p", "r"),
		g.Add("se.gate", nn.Sigmoid(), "s", "p"),
		g.Add("se.mul", nn.NewBinary(nn.OpMul), "y", "r", "s"),
		g.SetOutput("y"),
	} {
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, p := range nn.Parameters(g) {
		fmt.Println(p.Name)
	}
	nn.SetTraining(g, true)
	x := tensor.RandNormal(2, 0, 1, 2, 5, 5, 4)
	y := g.Forward(x)
	dx := g.Backward(tensor.Full(1, y.Shape()...), true) // x feeds two nodes: gradients add
	fmt.Println(y.Shape(), dx.Shape())
	// Output:
	// block.conv.weight
	// [2 5 5 4] [2 5 5 4]
}
