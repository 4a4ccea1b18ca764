//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels/amd64"
)

// The fast paths return how many leading elements they handled: all of
// them on the AVX-512 tier (16 lanes, the last n mod 16 under a mask), a
// multiple of 8 on the AVX2 tier, 0 below it. Every lane computes what the
// plain Go loop computes for its element, bit for bit, so the AVX-512
// kernels' stand-ins are the AVX2 kernels and the Go loop (see
// wide512).

func vecLen(kn *gemmKernel, n int) int {
	if kn.id == kidGeneric {
		return 0
	}
	return n &^ 7
}

// wide512 reports whether the AVX-512 streaming kernels
// (kernels/amd64/stream512_amd64.s) run: on the AVX-512 tier, unless it
// runs its stand-ins.
func wide512(kn *gemmKernel, n int) bool {
	return n > 0 && kn.id == kidAVX512
}

func addFast(kn *gemmKernel, z, x, y []float32) int {
	if n := len(z); wide512(kn, n) {
		amd64.AddAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(kn, len(z))
	if n > 0 {
		amd64.AddAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func mulFast(kn *gemmKernel, z, x, y []float32) int {
	if n := len(z); wide512(kn, n) {
		amd64.MulAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(kn, len(z))
	if n > 0 {
		amd64.MulAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func scaleFast(kn *gemmKernel, y []float32, alpha float32, x []float32) int {
	if n := len(y); wide512(kn, n) {
		amd64.ScaleAVX512(n, alpha, &x[0], &y[0])
		return n
	}
	n := vecLen(kn, len(y))
	if n > 0 {
		amd64.ScaleAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func axpyFast(kn *gemmKernel, y []float32, alpha float32, x []float32) int {
	if n := len(y); wide512(kn, n) {
		amd64.AxpyAVX512(n, alpha, &x[0], &y[0])
		return n
	}
	n := vecLen(kn, len(y))
	if n > 0 {
		amd64.AxpyAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func reluFast(kn *gemmKernel, y, x []float32) int {
	if n := len(y); wide512(kn, n) {
		amd64.ReluAVX512(n, &x[0], &y[0])
		return n
	}
	n := vecLen(kn, len(y))
	if n > 0 {
		amd64.ReluAVX2(n, &x[0], &y[0])
	}
	return n
}

func clampFast(kn *gemmKernel, y, x []float32, lo, hi float32) int {
	if n := len(y); wide512(kn, n) {
		amd64.ClampAVX512(n, lo, hi, &x[0], &y[0])
		return n
	}
	n := vecLen(kn, len(y))
	if n > 0 {
		amd64.ClampAVX2(n, lo, hi, &x[0], &y[0])
	}
	return n
}

func reluGradFast(kn *gemmKernel, dx, x, dy []float32) int {
	if n := len(dx); wide512(kn, n) {
		amd64.ReluGradAVX512(n, &x[0], &dy[0], &dx[0])
		return n
	}
	n := vecLen(kn, len(dx))
	if n > 0 {
		amd64.ReluGradAVX2(n, &x[0], &dy[0], &dx[0])
	}
	return n
}

func sumFast(kn *gemmKernel, x []float32) (float32, int) {
	n := vecLen(kn, len(x))
	if n > 0 {
		return amd64.SumAVX2(n, &x[0]), n
	}
	return 0, 0
}

func fmaFast(kn *gemmKernel, z, x, y []float32) int {
	if n := len(z); wide512(kn, n) {
		amd64.FmaAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(kn, len(z))
	if n > 0 {
		amd64.FmaAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func subFast(kn *gemmKernel, z, x, y []float32) int {
	if n := len(z); wide512(kn, n) {
		amd64.SubAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(kn, len(z))
	if n > 0 {
		amd64.SubAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func maxFast(kn *gemmKernel, z, x, y []float32) int {
	if n := len(z); wide512(kn, n) {
		amd64.MaxAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(kn, len(z))
	if n > 0 {
		amd64.MaxAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

// colSumFast adds to acc[j] the sum over rows of x[r·ldx + j] for the
// leading columns it handles: all of them in strips of 64 (AVX-512, the
// last strip masked), or strips of 32, then of 8 (AVX2). Both sum even
// and odd rows apart, so they give the same bits.
func colSumFast(kn *gemmKernel, acc, x []float32, rows, ldx int) int {
	if n := len(acc); n > 0 && rows > 0 && (kn.id == kidAVX512 || kn.id == kidStandIn) {
		_ = x[(rows-1)*ldx+n-1]
		if kn.id == kidStandIn {
			colSumStandIn(acc, x, rows, ldx)
			return n
		}
		for j := 0; j < n; j += 64 {
			amd64.ColSumAVX512(rows, &x[j], ldx, &acc[j], min(64, n-j))
		}
		return n
	}
	n := vecLen(kn, len(acc))
	if n == 0 || rows == 0 {
		return 0
	}
	_ = x[(rows-1)*ldx+n-1]
	j := 0
	for ; j+32 <= n; j += 32 {
		amd64.ColSumAVX2x32(rows, &x[j], ldx, &acc[j])
	}
	for ; j < n; j += 8 {
		amd64.ColSumAVX2x8(rows, &x[j], ldx, &acc[j])
	}
	return n
}
