//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/amd64"
)

// The fast paths return how many leading elements they handled (a multiple
// of 8, or 0 below the AVX2 tier). The AVX-512 tier uses the AVX2 kernels:
// these loops are bound by memory, not by vector width.

func vecLen(n int) int {
	if kernels.Current() < kernels.AVX2 {
		return 0
	}
	return n &^ 7
}

func addFast(z, x, y []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		amd64.AddAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func mulFast(z, x, y []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		amd64.MulAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func scaleFast(y []float32, alpha float32, x []float32) int {
	n := vecLen(len(y))
	if n > 0 {
		amd64.ScaleAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func axpyFast(y []float32, alpha float32, x []float32) int {
	n := vecLen(len(y))
	if n > 0 {
		amd64.AxpyAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func reluFast(y, x []float32) int {
	n := vecLen(len(y))
	if n > 0 {
		amd64.ReluAVX2(n, &x[0], &y[0])
	}
	return n
}

func clampFast(y, x []float32, lo, hi float32) int {
	n := vecLen(len(y))
	if n > 0 {
		amd64.ClampAVX2(n, lo, hi, &x[0], &y[0])
	}
	return n
}

func reluGradFast(dx, x, dy []float32) int {
	n := vecLen(len(dx))
	if n > 0 {
		amd64.ReluGradAVX2(n, &x[0], &dy[0], &dx[0])
	}
	return n
}

func sumFast(x []float32) (float32, int) {
	n := vecLen(len(x))
	if n > 0 {
		return amd64.SumAVX2(n, &x[0]), n
	}
	return 0, 0
}

func fmaFast(z, x, y []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		amd64.FmaAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func subFast(z, x, y []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		amd64.SubAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func maxFast(z, x, y []float32) int {
	n := vecLen(len(z))
	if n > 0 {
		amd64.MaxAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

// depthwiseTilesOK reports whether DepthwiseTileAVX2 may run.
func depthwiseTilesOK() bool { return kernels.Current() >= kernels.AVX2 }

// depthwiseTile runs DepthwiseTileAVX2 on ng ≥ 1 tiles of 4 pixels in a
// row; x and y start at the first tile's first pixel's window and channel
// (offsets, ascending, and strides in bytes); b (16 floats) starts the
// sums, or y itself when b is nil.
func depthwiseTile(ng, nt int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32) {
	_ = x[(4*ng-1)*xs/4+xoff[nt-1]/4+15]
	_ = y[(4*ng-1)*ys/4+15]
	_ = w[woff[nt-1]/4+15]
	var bp *float32
	if b != nil {
		_ = b[15]
		bp = &b[0]
	}
	amd64.DepthwiseTileAVX2(ng, nt, &x[0], xs, &xoff[0], &w[0], &woff[0], &y[0], ys, bp)
}

// depthwiseWGrad runs DepthwiseWGradAVX2 (nt ≤ 9 taps, np ≥ 1 pixels, 8
// channels); x, dy and acc start at the first pixel's window and the
// first tap's channel (offsets, ascending, and strides in bytes).
func depthwiseWGrad(nt, np int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	_ = x[(np-1)*xs/4+xoff[nt-1]/4+7]
	_ = acc[aoff[nt-1]/4+7]
	_ = dy[(np-1)*dys/4+7]
	amd64.DepthwiseWGradAVX2(nt, np, &x[0], xs, &xoff[0], &dy[0], dys, &acc[0], &aoff[0])
}

// sgdFast runs the AVX2 SGD kernel for SGDUpdate's variant over the
// leading multiple of 8 of w (buf nil: no momentum).
func sgdFast(w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) int {
	n := vecLen(len(w))
	if n == 0 {
		return 0
	}
	_ = g[n-1]
	if buf == nil {
		amd64.SGDAVX2(n, &w[0], &g[0], nil, lr, momentum, wd)
		return n
	}
	_ = buf[n-1]
	switch {
	case nesterov && first:
		amd64.SGDNesterovFirstAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	case nesterov:
		amd64.SGDNesterovAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	case first:
		amd64.SGDMomentumFirstAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	default:
		amd64.SGDMomentumAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	}
	return n
}

// adamFast runs the AVX2 Adam (or AdamW) kernel over the leading multiple
// of 8 of w.
func adamFast(w, g, m, v []float32, c *adamConsts, decoupled bool) int {
	n := vecLen(len(w))
	if n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	if decoupled {
		amd64.AdamWAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	} else {
		amd64.AdamAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	}
	return n
}

// colSumFast adds to acc[j] the sum over rows of x[r·ldx + j] for the
// leading columns it handles (strips of 32, then of 8).
func colSumFast(acc, x []float32, rows, ldx int) int {
	n := vecLen(len(acc))
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
