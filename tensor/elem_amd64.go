//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/amd64"
)

// The fast paths return how many leading elements they handled: all of
// them on the AVX-512 tier (16 lanes, the last n mod 16 under a mask), a
// multiple of 8 on the AVX2 tier, 0 below it. Every lane computes what the
// plain Go loop computes for its element, bit for bit, so the AVX-512
// kernels' stand-ins are the AVX2 kernels and the Go loop (see
// wide512).

func vecLen(n int) int {
	if kernels.Current() < kernels.AVX2 {
		return 0
	}
	return n &^ 7
}

// wide512 reports whether the AVX-512 streaming kernels
// (kernels/amd64/stream512_amd64.s) run: on the AVX-512 tier, unless it
// runs its stand-ins.
func wide512(n int) bool {
	return n > 0 && kernels.Current() >= kernels.AVX512 && !kernels.StandIns()
}

func addFast(z, x, y []float32) int {
	if n := len(z); wide512(n) {
		amd64.AddAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(len(z))
	if n > 0 {
		amd64.AddAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func mulFast(z, x, y []float32) int {
	if n := len(z); wide512(n) {
		amd64.MulAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(len(z))
	if n > 0 {
		amd64.MulAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func scaleFast(y []float32, alpha float32, x []float32) int {
	if n := len(y); wide512(n) {
		amd64.ScaleAVX512(n, alpha, &x[0], &y[0])
		return n
	}
	n := vecLen(len(y))
	if n > 0 {
		amd64.ScaleAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func axpyFast(y []float32, alpha float32, x []float32) int {
	if n := len(y); wide512(n) {
		amd64.AxpyAVX512(n, alpha, &x[0], &y[0])
		return n
	}
	n := vecLen(len(y))
	if n > 0 {
		amd64.AxpyAVX2(n, alpha, &x[0], &y[0])
	}
	return n
}

func reluFast(y, x []float32) int {
	if n := len(y); wide512(n) {
		amd64.ReluAVX512(n, &x[0], &y[0])
		return n
	}
	n := vecLen(len(y))
	if n > 0 {
		amd64.ReluAVX2(n, &x[0], &y[0])
	}
	return n
}

func clampFast(y, x []float32, lo, hi float32) int {
	if n := len(y); wide512(n) {
		amd64.ClampAVX512(n, lo, hi, &x[0], &y[0])
		return n
	}
	n := vecLen(len(y))
	if n > 0 {
		amd64.ClampAVX2(n, lo, hi, &x[0], &y[0])
	}
	return n
}

func reluGradFast(dx, x, dy []float32) int {
	if n := len(dx); wide512(n) {
		amd64.ReluGradAVX512(n, &x[0], &dy[0], &dx[0])
		return n
	}
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
	if n := len(z); wide512(n) {
		amd64.FmaAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(len(z))
	if n > 0 {
		amd64.FmaAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func subFast(z, x, y []float32) int {
	if n := len(z); wide512(n) {
		amd64.SubAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
	n := vecLen(len(z))
	if n > 0 {
		amd64.SubAVX2(n, &x[0], &y[0], &z[0])
	}
	return n
}

func maxFast(z, x, y []float32) int {
	if n := len(z); wide512(n) {
		amd64.MaxAVX512(n, &x[0], &y[0], &z[0])
		return n
	}
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

// sgdFast runs the SGD kernel for SGDUpdate's variant over all of w
// (AVX-512) or its leading multiple of 8 (AVX2); buf nil: no momentum.
func sgdFast(w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) int {
	if n := len(w); wide512(n) {
		_ = g[n-1]
		if buf == nil {
			amd64.SGDAVX512(n, &w[0], &g[0], nil, lr, momentum, wd)
			return n
		}
		_ = buf[n-1]
		switch {
		case nesterov && first:
			amd64.SGDNesterovFirstAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		case nesterov:
			amd64.SGDNesterovAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		case first:
			amd64.SGDMomentumFirstAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		default:
			amd64.SGDMomentumAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		}
		return n
	}
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

// adamFast runs the Adam (or AdamW) kernel over all of w (AVX-512) or its
// leading multiple of 8 (AVX2).
func adamFast(w, g, m, v []float32, c *adamConsts, decoupled bool) int {
	n, wide := vecLen(len(w)), wide512(len(w))
	if wide {
		n = len(w)
	}
	if n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	switch {
	case wide && decoupled:
		amd64.AdamWAVX512(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	case wide:
		amd64.AdamAVX512(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	case decoupled:
		amd64.AdamWAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	default:
		amd64.AdamAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	}
	return n
}

// colSumFast adds to acc[j] the sum over rows of x[r·ldx + j] for the
// leading columns it handles: all of them in strips of 64 (AVX-512, the
// last strip masked), or strips of 32, then of 8 (AVX2). Both sum even
// and odd rows apart, so they give the same bits.
func colSumFast(acc, x []float32, rows, ldx int) int {
	if n := len(acc); n > 0 && rows > 0 && kernels.Current() >= kernels.AVX512 {
		_ = x[(rows-1)*ldx+n-1]
		if kernels.StandIns() {
			colSumStandIn(acc, x, rows, ldx)
			return n
		}
		for j := 0; j < n; j += 64 {
			amd64.ColSumAVX512(rows, &x[j], ldx, &acc[j], min(64, n-j))
		}
		return n
	}
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
