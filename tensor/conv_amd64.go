//go:build amd64 && !purego

package tensor

import (
	"slices"

	"github.com/graftml/graft/kernels/amd64"
)

// callIndirectB runs SgemmIndirectBAVX2x6x16: a 6-filter × 16-pixel tile
// of c from the tap-major weight panel a and the input rows at byte
// offsets toff from x.
func callIndirectB(nt int, a, x []float32, toff []int, c []float32, ldc int) {
	_ = a[nt*6-1]
	_ = toff[nt-1]
	_ = c[5*ldc+15]
	amd64.SgemmIndirectBAVX2x6x16(nt, &a[0], &x[0], &toff[0], &c[0], ldc)
}

// callDotIndirect runs SdotIndirectAVX2x6x2: c[i·ldc + j] += Σ_{v<n}
// a[i·lda + v]·x[offj/4 + v] for 6 rows i and 2 taps j.
func callDotIndirect(n int, a []float32, lda int, x []float32, off0, off1 int, c []float32, ldc int) {
	_ = a[5*lda+n-1]
	_ = x[max(off0, off1)/4+n-1]
	_ = c[5*ldc+1]
	amd64.SdotIndirectAVX2x6x2(n, &a[0], lda, &x[0], off0, off1, &c[0], ldc)
}

// callConvRow runs kn's row kernel of nr filters in tiles of pix pixels
// (ConvRowAVX2x6x16 with pix 6, or ConvRowAVX512x{12,14,7}x32 or their
// stand-in; see convRowPixels): np output pixels (ldy floats apart) × nr
// filters from the taps at byte offsets toff of pixels xs bytes apart in
// x, the weight panel b (tap-major) and bias (or nil).
func callConvRow(kn *gemmKernel, nr, pix, np, nt int, x []float32, xs int, toff []int, b, bias, y []float32, ldy int) {
	_ = b[nt*nr-1]
	_ = toff[nt-1]
	_ = x[((np+pix-1)/pix*pix-1)*xs/4+toff[nt-1]/4] // toff ascends
	_ = y[(np-1)*ldy+nr-1]
	bp := biasPtr(bias, nr)
	switch {
	case nr == 16:
		amd64.ConvRowAVX2x6x16(np, nt, &x[0], xs, &toff[0], &b[0], bp, &y[0], ldy)
	case kn.id == kidStandIn:
		convRowStandIn(nr, np, nt, x, xs, toff, b, bias, y, ldy)
	case pix == 14:
		amd64.ConvRowAVX512x14x32(np, nt, &x[0], xs, &toff[0], &b[0], bp, &y[0], ldy)
	case pix == 7:
		amd64.ConvRowAVX512x7x32(np, nt, &x[0], xs, &toff[0], &b[0], bp, &y[0], ldy)
	default:
		amd64.ConvRowAVX512x12x32(np, nt, &x[0], xs, &toff[0], &b[0], bp, &y[0], ldy)
	}
}

// convWGradKernels are ConvWGradAVX2x<r>x16 by r − 1,
// convWGradKernels512 ConvWGradAVX512x<r>x32 and convWGradKernels64
// ConvWGradAVX512x<r>x64.
var (
	convWGradKernels = [...]func(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int){
		amd64.ConvWGradAVX2x1x16, amd64.ConvWGradAVX2x2x16, amd64.ConvWGradAVX2x3x16,
		amd64.ConvWGradAVX2x4x16, amd64.ConvWGradAVX2x5x16, amd64.ConvWGradAVX2x6x16,
	}
	convWGradKernels512 = [...]func(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int){
		amd64.ConvWGradAVX512x1x32, amd64.ConvWGradAVX512x2x32, amd64.ConvWGradAVX512x3x32,
		amd64.ConvWGradAVX512x4x32, amd64.ConvWGradAVX512x5x32, amd64.ConvWGradAVX512x6x32,
	}
	convWGradKernels64 = [...]func(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int){
		amd64.ConvWGradAVX512x1x64, amd64.ConvWGradAVX512x2x64, amd64.ConvWGradAVX512x3x64,
		amd64.ConvWGradAVX512x4x64, amd64.ConvWGradAVX512x5x64, amd64.ConvWGradAVX512x6x64,
	}
)

// callConvWGrad runs kn's tap weight-gradient kernel of f filters
// (ConvWGradAVX2x<len(toff)>x16, or ConvWGradAVX512x<len(toff)>x32 or x64
// or their stand-in): it adds to c (rows ldc floats apart) the products of
// len(toff) ≤ 6 taps (byte offsets toff) over nr rows (xrs bytes apart)
// of np pixels (xs bytes apart) in x with f filters of dy (pixels dys
// floats apart, rows contiguous).
func callConvWGrad(kn *gemmKernel, f, np, nr int, x []float32, xs, xrs int, toff []int, dy []float32, dys int, c []float32, ldc int) {
	r := len(toff)
	if np <= 0 || nr <= 0 {
		return
	}
	_ = x[((nr-1)*xrs+(np-1)*xs+slices.Max(toff))/4]
	_ = dy[(nr*np-1)*dys+f-1]
	_ = c[(r-1)*ldc+f-1]
	switch {
	case f == 16:
		convWGradKernels[r-1](np, nr, &x[0], xs, xrs, &toff[0], &dy[0], dys*4, &c[0], ldc)
	case kn.id == kidStandIn:
		convWGradStandIn(f, np, nr, x, xs, xrs, toff, dy, dys, c, ldc)
	case f == 64:
		convWGradKernels64[r-1](np, nr, &x[0], xs, xrs, &toff[0], &dy[0], dys*4, &c[0], ldc)
	default:
		convWGradKernels512[r-1](np, nr, &x[0], xs, xrs, &toff[0], &dy[0], dys*4, &c[0], ldc)
	}
}

// callDotRows runs kn's dot-row kernel (DotRowsAVX2x6, or
// DotRowsAVX512x12 or its stand-in): y[p·ys] = Σ_k Σ_{v<n} a[aoff[k]/4 +
// p·lda + v]·w[k·n + v] for p < np (lda, ys in floats, aoff in bytes, n
// a multiple of 16), reading a for whole tiles of kn.dotPixels() pixels.
func callDotRows(kn *gemmKernel, np, nk, n int, a []float32, lda int, aoff []int, w, y []float32, ys int) {
	P := kn.dotPixels()
	_ = w[nk*n-1]
	_ = a[((np+P-1)/P*P-1)*lda+slices.Max(aoff[:nk])/4+n-1]
	_ = y[(np-1)*ys]
	switch {
	case P == 6:
		amd64.DotRowsAVX2x6(np, nk, n, &a[0], lda*4, &aoff[0], &w[0], &y[0], ys*4)
	case kn.id == kidStandIn:
		dotRowsStandIn(np, nk, n, a, lda, aoff, w, y, ys)
	default:
		amd64.DotRowsAVX512x12(np, nk, n, &a[0], lda*4, &aoff[0], &w[0], &y[0], ys*4)
	}
}

// callConvGather runs ConvGatherAVX2x6x16: min(np, 6) pixels (ldy floats
// apart in y) × 16 filters, pixel i's window at byte offset poff[i] of x,
// kernel row r the kc floats at byte offset roff[r] in it, b the packed
// weight panel and bias (or nil) the start.
func callConvGather(kc int, x []float32, poff *[6]int, roff []int, b, bias, y []float32, ldy, np int) {
	nkr := len(roff)
	_ = b[nkr*kc*16-1]
	_ = x[(slices.Max(poff[:])+slices.Max(roff))/4+kc-1]
	_ = y[(min(np, 6)-1)*ldy+15]
	bp := biasPtr(bias, 16)
	amd64.ConvGatherAVX2x6x16(nkr, kc, &x[0], &poff[0], &roff[0], &b[0], bp, &y[0], ldy, np)
}
