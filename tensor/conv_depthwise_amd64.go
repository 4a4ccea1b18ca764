//go:build amd64 && !purego

package tensor

import (
	"fmt"

	"github.com/graftml/graft/kernels/amd64"
)

// depthwiseTilesOK reports whether DepthwiseTileAVX2 may run.
func depthwiseTilesOK(kn *gemmKernel) bool { return kn.conv16 }

// depthwiseTile runs DepthwiseTileAVX2 on ng ≥ 1 tiles of 4 pixels in a
// row; x and y start at the first tile's first pixel's window and channel
// (offsets, ascending, and strides in bytes); b (16 floats) starts the
// sums, or y itself when b is nil.
func depthwiseTile(ng, nt int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32) {
	_ = x[(4*ng-1)*xs/4+xoff[nt-1]/4+15]
	_ = y[(4*ng-1)*ys/4+15]
	_ = w[woff[nt-1]/4+15]
	bp := biasPtr(b, 16)
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

// depthwiseRow runs kn's row kernel (DepthwiseRowAVX512, or its stand-in)
// on np ≥ 1 pixels × nc ≥ 1 channels: x, w and y start at the first
// pixel's window and channel (offsets, ascending, and strides in bytes);
// b holds the nc biases, or is nil for none; act is applied before the
// store. noPrefetch, for an x already in cache, turns the kernel's
// prefetches off.
func depthwiseRow(kn *gemmKernel, np, nt, nc int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32, act FusedAct, noPrefetch bool) {
	var xp, wp *float32
	var xo, wo *int
	if nt > 0 {
		_ = x[(np-1)*xs/4+xoff[nt-1]/4+nc-1]
		_ = w[woff[nt-1]/4+nc-1]
		xp, wp, xo, wo = &x[0], &w[0], &xoff[0], &woff[0]
	}
	_ = y[(np-1)*ys/4+nc-1]
	bp := biasPtr(b, nc)
	if kn.id == kidStandIn {
		depthwiseRowStandIn(np, nt, nc, x, xs, xoff, w, woff, y, ys, b, act)
		return
	}
	flags := actFlags(act)
	if noPrefetch {
		flags |= amd64.DWNoPrefetch
	}
	amd64.DepthwiseRowAVX512(np, nt, nc, xp, xs, xo, wp, wo, &y[0], ys, bp, act.Lo, act.Hi, flags)
}

// depthwiseRow3 runs kn's row kernel for taps in rows of three at stride
// 1 or 2 (DepthwiseRow3AVX512 or DepthwiseRow3S2AVX512, or their
// stand-in): depthwiseRow with pixel stride stride·xs for the 3·nr taps
// xoff[r] + k·xs, woff[r] + k·ws (k < 3), bit for bit; np ≥ 1 pixels, nc
// ≥ 1 channels, xoff and woff ascending, xs, ws ≥ 0 (all in bytes).
func depthwiseRow3(kn *gemmKernel, stride, np, nr, nc int, x []float32, xs int, xoff []int, w []float32, ws int, woff []int, y []float32, ys int, b []float32, act FusedAct) {
	if stride != 1 && stride != 2 {
		panic(fmt.Sprintf("tensor: DepthwiseRow3AVX512 takes stride 1 or 2, not %d", stride))
	}
	var xp, wp *float32
	var xo, wo *int
	if nr > 0 {
		_ = x[(stride*(np-1)+2)*xs/4+xoff[nr-1]/4+nc-1]
		_ = w[2*ws/4+woff[nr-1]/4+nc-1]
		xp, wp, xo, wo = &x[0], &w[0], &xoff[0], &woff[0]
	}
	_ = y[(np-1)*ys/4+nc-1]
	bp := biasPtr(b, nc)
	if kn.id == kidStandIn {
		depthwiseRow3StandIn(stride, np, nr, nc, x, xs, xoff, w, ws, woff, y, ys, b, act)
		return
	}
	if stride == 2 {
		amd64.DepthwiseRow3S2AVX512(np, nr, nc, xp, xs, xo, wp, ws, wo, &y[0], ys, bp, act.Lo, act.Hi, actFlags(act))
		return
	}
	amd64.DepthwiseRow3AVX512(np, nr, nc, xp, xs, xo, wp, ws, wo, &y[0], ys, bp, act.Lo, act.Hi, actFlags(act))
}

// biasPtr returns &b[0] after checking that b holds n floats, or nil for
// a nil b: a kernel's optional bias argument.
func biasPtr(b []float32, n int) *float32 {
	if b == nil {
		return nil
	}
	_ = b[n-1]
	return &b[0]
}

// depthwiseWGrad512 runs kn's AVX-512 weight-gradient kernel
// (DepthwiseWGradAVX512, or its stand-in): nt ≤ 9 taps, np ≥ 1 pixels, nc
// ≤ 16 channels; x, dy and acc start at the first pixel's window and the
// first tap's channel (offsets, ascending, and strides in bytes).
func depthwiseWGrad512(kn *gemmKernel, nt, np, nc int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	if nt < 1 || nt > 9 || nc < 1 || nc > 16 {
		panic(fmt.Sprintf("tensor: DepthwiseWGradAVX512 takes 1..9 taps and 1..16 channels, not %d and %d", nt, nc))
	}
	_ = x[(np-1)*xs/4+xoff[nt-1]/4+nc-1]
	_ = acc[aoff[nt-1]/4+nc-1]
	_ = dy[(np-1)*dys/4+nc-1]
	if kn.id == kidStandIn {
		depthwiseWGradStandIn(nt, np, nc, x, xs, xoff, dy, dys, acc, aoff)
		return
	}
	amd64.DepthwiseWGradAVX512(nt, np, nc, &x[0], xs, &xoff[0], &dy[0], dys, &acc[0], &aoff[0])
}
