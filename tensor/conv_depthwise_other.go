//go:build !amd64 || purego

package tensor

func depthwiseTilesOK(kn *gemmKernel) bool { return false }

func depthwiseTile(ng, nt int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32) {
	panic("tensor: no assembly kernels in this build")
}

func depthwiseWGrad(nt, np int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	panic("tensor: no assembly kernels in this build")
}

func depthwiseRow(kn *gemmKernel, np, nt, nc int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32, act FusedAct, noPrefetch bool) {
	panic("tensor: no assembly kernels in this build")
}

func depthwiseRow3(kn *gemmKernel, stride, np, nr, nc int, x []float32, xs int, xoff []int, w []float32, ws int, woff []int, y []float32, ys int, b []float32, act FusedAct) {
	panic("tensor: no assembly kernels in this build")
}

func depthwiseWGrad512(kn *gemmKernel, nt, np, nc int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	panic("tensor: no assembly kernels in this build")
}
