//go:build !amd64 || purego

package tensor

func callIndirectB(int, []float32, []float32, []int, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callDotIndirect(int, []float32, int, []float32, int, int, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callConvRow(*gemmKernel, int, int, int, int, []float32, int, []int, []float32, []float32, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callConvWGrad(*gemmKernel, int, int, int, []float32, int, int, []int, []float32, int, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callDotRows(*gemmKernel, int, int, int, []float32, int, []int, []float32, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callConvGather(int, []float32, *[6]int, []int, []float32, []float32, []float32, int, int) {
	panic("tensor: no assembly kernels in this build")
}
