package pth_test

import (
	"fmt"
	"log"
	"path/filepath"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/pth"
)

// Example reads a PyTorch training checkpoint, torch.save({"epoch": 1,
// "model": model.state_dict()}) of a DataParallel-wrapped LeNet-5, and
// loads it into graft's lenet5 by name.
func Example() {
	sd, err := pth.ReadFile(filepath.Join("..", "..", "testdata", "pth", "lenet5.pth"), pth.Options{StripModule: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state_dict at", sd.Path, "with", len(sd.Tensors), "tensors")
	m := models.LeNet5(models.Options{Classes: 3})
	rep, err := nn.LoadState(sd.Tensors, m, nn.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep)
	// Output:
	// state_dict at ["model"] with 10 tensors
	// 10 tensors loaded
}
