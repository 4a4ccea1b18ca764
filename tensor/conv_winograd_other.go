//go:build !amd64 || purego

package tensor

func winogradInputKernels(*gemmKernel, int, []float32, int, int, []float32, int) int { return 0 }

func winogradOutputKernels(*gemmKernel, int, []float32, int, []float32, int, int, []float32) int {
	return 0
}

func callWinogradInput(int, []float32, int, int, []float32, int) {
	panic("tensor: no assembly kernels in this build")
}

func callWinogradOutput(int, []float32, int, []float32, int, int, []float32) {
	panic("tensor: no assembly kernels in this build")
}

func winograd4InputKernels(*gemmKernel, int, []float32, int, int, []float32, int, []float32) int {
	return 0
}

func winograd4OutputKernels(*gemmKernel, int, []float32, int, []float32, int, int, []float32, []float32) int {
	return 0
}

func winograd4WeightKernels(*gemmKernel, int, []float32, int, []float32, int, []float32) int {
	return 0
}

func winograd4DYKernels(*gemmKernel, int, []float32, int, int, []float32, int, []float32) int {
	return 0
}

func winograd4WGradKernels(*gemmKernel, int, []float32, int, []float32, int, []float32) int {
	return 0
}

func winograd25OutputKernels(*gemmKernel, int, []float32, int, []float32, int, int, []float32, []float32) int {
	return 0
}

func winograd25WeightKernels(*gemmKernel, int, []float32, int, []float32, int, []float32) int {
	return 0
}
