//go:build !amd64 || purego

package tensor

// Without assembly every slice kernel runs its plain Go loop.

func addFast(kn *gemmKernel, z, x, y []float32) int                         { return 0 }
func mulFast(kn *gemmKernel, z, x, y []float32) int                         { return 0 }
func scaleFast(kn *gemmKernel, y []float32, alpha float32, x []float32) int { return 0 }
func axpyFast(kn *gemmKernel, y []float32, alpha float32, x []float32) int  { return 0 }
func reluFast(kn *gemmKernel, y, x []float32) int                           { return 0 }
func clampFast(kn *gemmKernel, y, x []float32, lo, hi float32) int          { return 0 }
func reluGradFast(kn *gemmKernel, dx, x, dy []float32) int                  { return 0 }
func sumFast(kn *gemmKernel, x []float32) (float32, int)                    { return 0, 0 }
func fmaFast(kn *gemmKernel, z, x, y []float32) int                         { return 0 }
func subFast(kn *gemmKernel, z, x, y []float32) int                         { return 0 }
func maxFast(kn *gemmKernel, z, x, y []float32) int                         { return 0 }
func colSumFast(kn *gemmKernel, acc, x []float32, rows, ldx int) int        { return 0 }
