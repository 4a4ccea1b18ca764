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
func colSumFast(acc, x []float32, rows, ldx int) int        { return 0 }
