package tensor_test

import (
	"fmt"

	"github.com/graftml/graft/tensor"
)

func ExampleMatMul() {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := tensor.FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	c := tensor.Zeros(2, 2)
	tensor.MatMul(c, a, b, false, false, 1, 0) // c = a·b
	fmt.Println(c.Data())
	// Output: [4 5 10 11]
}

func ExampleSgemm() {
	// C = 2·Aᵀ·B + C with A stored 2×3 (so op(A) is 3×2) and B 2×2.
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1}
	c := []float32{1, 1, 1, 1, 1, 1}
	tensor.Sgemm(true, false, 3, 2, 2, 2, a, 3, b, 2, 1, c, 2)
	fmt.Println(c)
	// Output: [3 9 5 11 7 13]
}

func ExampleSum() {
	x := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	rows := tensor.Zeros(2)
	tensor.Sum(rows, x, 1)
	cols := tensor.Zeros(3)
	tensor.Max(cols, x, 0)
	fmt.Println(rows.Data(), cols.Data())
	// Output: [6 15] [4 5 6]
}

// The device graft computes on is chosen on first use; DeviceStats counts
// the copies between host and GPU (all zero on the CPU).
func ExampleDeviceReport() {
	d := tensor.DeviceReport()
	// d.Device is "cpu" or "cuda", and d.Reason says why (GRAFT_DEVICE,
	// or what the probe for a GPU found).
	fmt.Println(d.Device == "cpu" || d.Device == "cuda", d.Reason != "")
	x := tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	y := tensor.Zeros(2, 2)
	tensor.MatMul(y, x, x, false, false, 1, 0) // on the GPU, if there is one
	fmt.Println(y.Data())                      // copied back from the GPU, if there is one
	s := tensor.DeviceStats()                  // copies between host and GPU: none on the CPU
	fmt.Println(d.Device == "cuda" || s.HostToDevice+s.DeviceToHost == 0)
	// Output:
	// true true
	// [7 10 15 22]
	// true
}

func ExampleConv2DAct() {
	// A 1×1 convolution of two channels into two, with a bias, clamped to
	// [0, 6] (ONNX's Clip, ReLU6) as the convolution stores its output.
	x := tensor.FromSlice([]float32{1, 2, -3, 4}, 1, 1, 2, 2) // N, H, W, C
	w := tensor.FromSlice([]float32{1, 1, 2, 0}, 2, 2, 1, 1)  // O, C, KH, KW
	b := tensor.FromSlice([]float32{0, 1}, 2)
	y := tensor.Zeros(1, 1, 2, 2)
	tensor.Conv2DAct(y, x, w, b, tensor.ConvParams{}, tensor.ClampAct(0, 6))
	fmt.Println(y.Data())
	// Output: [3 3 1 0]
}

// A CUDA backend is a value: open the device, move tensors (or, with
// nn.MoveTo, a model) to it, and fall back to a CPU backend where there
// is no GPU. (No output is checked: it depends on the machine.)
func ExampleNewCUDAWith() {
	var be tensor.Backend
	gpu, err := tensor.NewCUDAWith(tensor.CUDAOptions{Device: 0, MemoryLimit: 2 << 30})
	if err != nil {
		fmt.Println("no GPU, on the CPU:", err)
		be = tensor.CPU{}
	} else {
		be = gpu
	}
	a := tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	a.MoveTo(be)
	c := tensor.ZerosOn(be, 2, 2)
	be.MatMul(c, a, a, false, false, 1, 0)
	fmt.Println(c.Data(), c.Backend().Name())
}
