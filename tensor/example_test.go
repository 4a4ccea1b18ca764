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
