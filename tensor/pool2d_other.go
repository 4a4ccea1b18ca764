//go:build !amd64 || purego

package tensor

func callMaxPoolBack(bool, int, int, int, []float32, []float32, int, []int, []float32) {
	panic("tensor: no assembly kernels in this build")
}
