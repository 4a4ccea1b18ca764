//go:build !amd64 || purego

package tensor

func sgdFast(kn *gemmKernel, w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) int {
	return 0
}

func adamFast(kn *gemmKernel, w, g, m, v []float32, c *adamConsts, decoupled bool) int { return 0 }
