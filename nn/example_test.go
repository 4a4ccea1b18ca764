package nn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/graftml/graft/nn"
)

// Build a small CNN and list its parameters by their PyTorch names.
func ExampleParameters() {
	bn := nn.NewBatchNorm(8)
	bn.ReLU = true // fuse the ReLU that follows
	model := nn.NewSequential(
		nn.NewConv2D(3, 8, 3, nn.ConvOpts{Padding: 1}, 1),
		bn,
		nn.NewGlobalAvgPool(),
		nn.NewDense(8, 10, true, 2),
	)
	for _, p := range nn.Parameters(model) {
		fmt.Println(p.Name, p.Value.Value.Shape())
	}
	for _, b := range nn.Buffers(model) {
		fmt.Println(b.Name, b.Value.Value.Shape())
	}
	fmt.Println(nn.NumParams(model), "parameters")
	// Output:
	// 0.weight [8 3 3 3]
	// 1.weight [8]
	// 1.bias [8]
	// 3.weight [10 8]
	// 3.bias [10]
	// 1.running_mean [8]
	// 1.running_var [8]
	// 1.num_batches_tracked []
	// 322 parameters
}

// Train a small classifier on an in-memory dataset.
func ExampleFit() {
	train, val := newBlobsSigma(200, 1, 0.3), newBlobsSigma(100, 2, 0.3)
	model := nn.NewSequential(nn.NewDense(4, 8, true, 3), nn.ReLU(), nn.NewDense(8, 2, true, 4))
	hist, err := nn.Fit(context.Background(), model, train, val, nn.FitOptions{
		Epochs:    4,
		BatchSize: 16,
		Optimizer: nn.NewAdam(nn.NewGroup(nn.Parameters(model), 0.01, 0)),
		Seed:      5,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d epochs, validation accuracy %.2f\n", len(hist.Epochs), hist.Last().ValAcc)
	// Output:
	// 4 epochs, validation accuracy 1.00
}

// Save a model with its metadata and load it into a freshly built one.
func ExampleSave() {
	dir, err := os.MkdirTemp("", "graft-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	model := nn.NewSequential(nn.NewDense(4, 8, true, 1), nn.ReLU(), nn.NewDense(8, 3, true, 2))
	meta := nn.Meta{Arch: "mlp", Classes: []string{"cat", "dog", "bird"}, InputShape: []int{4}}
	if err := nn.Save(path, model, meta); err != nil {
		fmt.Println(err)
		return
	}

	fresh := nn.NewSequential(nn.NewDense(4, 8, true, 10), nn.ReLU(), nn.NewDense(8, 3, true, 11))
	got, report, err := nn.Load(path, fresh, nn.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report)
	fmt.Println(got.Arch, got.Classes, got.InputShape)

	// A model with another head loads leniently, reporting what differs.
	other := nn.NewSequential(nn.NewDense(4, 8, true, 10), nn.ReLU(), nn.NewDense(8, 5, true, 11))
	_, report, err = nn.Load(path, other, nn.LoadOptions{Lenient: true})
	fmt.Println(report, err)
	// Output:
	// 4 tensors loaded
	// mlp [cat dog bird] [4]
	// 2 wrong shape (2.bias: file [3], model [5], 2.weight: file [3 8], model [5 8]) <nil>
}
