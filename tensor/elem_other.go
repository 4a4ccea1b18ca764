//go:build !amd64 || purego

package tensor

// Without assembly every slice kernel runs its plain Go loop.

func addFast(z, x, y []float32) int                         { return 0 }
func mulFast(z, x, y []float32) int                         { return 0 }
func scaleFast(y []float32, alpha float32, x []float32) int { return 0 }
func axpyFast(y []float32, alpha float32, x []float32) int  { return 0 }
func reluFast(y, x []float32) int                           { return 0 }
func clampFast(y, x []float32, lo, hi float32) int          { return 0 }
func reluGradFast(dx, x, dy []float32) int                  { return 0 }
func sumFast(x []float32) (float32, int)                    { return 0, 0 }
func fmaFast(z, x, y []float32) int                         { return 0 }
func subFast(z, x, y []float32) int                         { return 0 }
func maxFast(z, x, y []float32) int                         { return 0 }
func depthwiseTilesOK() bool                                { return false }
func sgdFast(w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) int {
	return 0
}
func adamFast(w, g, m, v []float32, c *adamConsts, decoupled bool) int { return 0 }
func depthwiseTile(ng, nt int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32) {
	panic("tensor: no assembly kernels in this build")
}

func depthwiseWGrad(nt, np int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	panic("tensor: no assembly kernels in this build")
}

func colSumFast(acc, x []float32, rows, ldx int) int { return 0 }
