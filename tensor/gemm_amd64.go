//go:build amd64 && !purego

package tensor

import (
	"slices"
	"sync"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/amd64"
)

var (
	avx2Kernel, avx512Kernel, avx512StandIns *gemmKernel
	asmKernelsOnce                           sync.Once
)

func makeAsmKernels() {
	cs := kernels.CacheSizes()
	avx2Kernel = blockFor(kidAVX2, amd64.SgemmAVX2x6x16MR, amd64.SgemmAVX2x6x16NR, cs)
	avx2Kernel.conv16 = true
	avx2Kernel.tapWGradMaxKWC = 4 * gatherBelow
	// The AVX-512 tier: its own 12×32 SGEMM; the AVX2 convolution
	// kernels, borrowed.
	avx512Kernel = blockFor(kidAVX512, amd64.SgemmAVX512x12x32MR, amd64.SgemmAVX512x12x32NR, cs)
	avx512Kernel.conv16 = true
	// Zen 5, weight gradients through im2col and the 12×32 SGEMM against
	// the tap kernels (GFLOP/s, medians of 3): r18_l1 (KW·C = 192) 132
	// against 93 on the AVX2 ones, 120 against 143 on ConvWGradAVX512;
	// mnist_c2 (160) 125 against 156, r18_l2 (384) 162 against 177,
	// r18_l3 (768) 176 against 157, r18_l4 (1536) 155 against 102.
	avx512Kernel.tapWGradMaxKWC = 8 * gatherBelow
	// and forward (mnist_c2, KW·C = 160): 107 GFLOP/s on the AVX2 gather
	// kernel, 162 as 12×32 tiles.
	avx512Kernel.tilesOverGather = true
	avx512Kernel.rowNR = 32
	avx512Kernel.wgradNR = 64
	avx512Kernel.dotRows12 = true
	s := *avx512Kernel
	s.id = kidStandIn
	avx512StandIns = &s
}

// gemmKernelFor returns the kernel set of tier t.
func gemmKernelFor(t kernels.Tier) *gemmKernel {
	asmKernelsOnce.Do(makeAsmKernels)
	switch t {
	case kernels.AVX512:
		return avx512Kernel
	case kernels.AVX2:
		return avx2Kernel
	}
	return genericGemmKernel()
}

// standInKernelFor returns tier t's kernel set with its own kernels
// replaced by their pure-Go stand-ins (the same geometry and blocking).
func standInKernelFor(t kernels.Tier) *gemmKernel {
	asmKernelsOnce.Do(makeAsmKernels)
	if t == kernels.AVX512 {
		return avx512StandIns
	}
	return gemmKernelFor(t)
}

// callAsmKernel calls the assembly microkernel id, in the variant for the
// operand layouts, directly (not through a func value).
func callAsmKernel(id kernelID, kc int, a []float32, aMode int, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	v := aMode << 1
	if !bPacked {
		v++
	}
	pa, pb, pc := &a[0], &b[0], &c[0]
	switch int(id)<<3 | v {
	case int(kidAVX2)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX2x6x16PP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX2x6x16PR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX2x6x16RP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16RR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX2x6x16TP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16TR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX512x12x32PP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX512x12x32PR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX512x12x32RP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32RR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX512x12x32TP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32TR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	default:
		panic("tensor: unknown SGEMM kernel")
	}
}

// callAsmKernelEpi is callAsmKernel with the epilogue (the Sgemm…E
// kernels): bias[j] added to column j (bias nil: none; else it holds nr
// floats), then act, in registers before the store.
func callAsmKernelEpi(id kernelID, nr, kc int, a []float32, aMode int, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32, bias []float32, act FusedAct) {
	v := aMode << 1
	if !bPacked {
		v++
	}
	pbias, flags := epiArgs(bias, nr, &c[0], act)
	lo, hi := act.Lo, act.Hi
	pa, pb, pc := &a[0], &b[0], &c[0]
	switch int(id)<<3 | v {
	case int(kidAVX2)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX2x6x16PPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX2)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX2x6x16PRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX2)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX2x6x16RPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX2)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16RRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX2)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX2x6x16TPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX2)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16TRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX512x12x32PPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX512x12x32PRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX512x12x32RPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32RRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX512x12x32TPE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	case int(kidAVX512)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32TRE(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta, pbias, lo, hi, flags)
	default:
		panic("tensor: unknown SGEMM kernel")
	}
}

// epiArgs returns the bias pointer (c0, unread, without a bias; else the
// bias holds nr floats) and the flags of an epilogue kernel call.
func epiArgs(bias []float32, nr int, c0 *float32, act FusedAct) (*float32, int) {
	flags, pbias := 0, c0
	if bias != nil {
		_ = bias[nr-1]
		pbias, flags = &bias[0], amd64.EpiBias
	}
	switch act.Kind {
	case FuseClamp:
		flags |= amd64.EpiClamp
	case FuseReLU:
		flags |= amd64.EpiReLU
	}
	return pbias, flags
}

// callAsmKernelMasked runs the AVX-512 masked epilogue kernel
// (SgemmAVX512x12x32{P,R,T}PM, or SgemmAVX512x12x16{P,R,T}PM for nr ≤
// 16) on the first nr < 32 columns of a 12×32 tile, B packed (zero
// columns past nr): C, and bias (nil: none), read and written only there;
// act as callAsmKernelEpi.
func callAsmKernelMasked(kc int, a []float32, aMode int, lda int, b []float32, c []float32, ldc int, alpha, beta float32, bias []float32, act FusedAct, nr int) {
	_ = b[kc*32-1]
	_ = c[11*ldc+nr-1]
	pbias, flags := epiArgs(bias, nr, &c[0], act)
	pa, pb, pc := &a[0], &b[0], &c[0]
	if nr <= 16 {
		switch aMode {
		case aPackedPanel:
			amd64.SgemmAVX512x12x16PPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
		case aRowsInPlace:
			amd64.SgemmAVX512x12x16RPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
		default:
			amd64.SgemmAVX512x12x16TPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
		}
		return
	}
	switch aMode {
	case aPackedPanel:
		amd64.SgemmAVX512x12x32PPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
	case aRowsInPlace:
		amd64.SgemmAVX512x12x32RPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
	default:
		amd64.SgemmAVX512x12x32TPM(kc, pa, lda, pb, 32, pc, ldc, alpha, beta, pbias, act.Lo, act.Hi, flags, nr)
	}
}

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

// callMaxPoolBack runs MaxPoolBackAVX2, or MaxPoolBackStoreAVX2 when
// store is set: for nw windows xs bytes apart, each with the nt taps at
// byte offsets toff (ascending from ≥ 0) from x and dx, and n channels,
// it adds dy to dx at the first tap holding each channel's maximum (+0 at
// the other taps), or stores there dy and +0 elsewhere.
func callMaxPoolBack(store bool, nw, nt, n int, x, dx []float32, xs int, toff []int, dy []float32) {
	_ = toff[nt-1]
	last := (nw-1)*xs/4 + toff[nt-1]/4 + n - 1
	_ = x[last]
	_ = dx[last]
	_ = dy[nw*n-1]
	if store {
		amd64.MaxPoolBackStoreAVX2(nw, nt, n, &x[0], &dx[0], xs, &toff[0], &dy[0])
		return
	}
	amd64.MaxPoolBackAVX2(nw, nt, n, &x[0], &dx[0], xs, &toff[0], &dy[0])
}

// winogradInputKernels runs WinogradInputAVX2 on the leading channels of
// c it takes (multiples of 8), when kn has it, and returns how many (the
// arguments as for winogradInputGo). WinogradInputAVX512 (the same
// kernel widened to 16 lanes) did not pay on Zen 5: r18_l1 and r18_l2
// forward and backward data within ±4%.
func winogradInputKernels(kn *gemmKernel, c int, x []float32, xs, rs int, v []float32, vs int) int {
	n := c &^ 7
	if !kn.conv16 || n == 0 {
		return 0
	}
	callWinogradInput(n, x, xs, rs, v, vs)
	return n
}

// winogradOutputKernels is winogradInputKernels for the output transform
// (WinogradOutputAVX2).
func winogradOutputKernels(kn *gemmKernel, o int, m []float32, ms int, y []float32, ys, rs int, b []float32) int {
	n := o &^ 7
	if !kn.conv16 || n == 0 {
		return 0
	}
	callWinogradOutput(n, m, ms, y, ys, rs, b)
	return n
}

// callWinogradInput runs WinogradInputAVX2 on channels i < n (n ≥ 8, a
// multiple of 8): the 4×4 patch d[a][b] = x[a·rs + b·xs + i] to V element
// e at v[e·vs + i] (strides in floats).
func callWinogradInput(n int, x []float32, xs, rs int, v []float32, vs int) {
	_ = x[3*rs+3*xs+n-1]
	_ = v[15*vs+n-1]
	amd64.WinogradInputAVX2(n, &x[0], xs*4, rs*4, &v[0], vs*4)
}

// callWinogradOutput runs WinogradOutputAVX2 on channels i < n (n ≥ 8, a
// multiple of 8): the 4×4 products M[e] = m[e·ms + i] to the 2×2 outputs
// y[r·rs + c·ys + i], plus b[i] (strides in floats).
func callWinogradOutput(n int, m []float32, ms int, y []float32, ys, rs int, b []float32) {
	_ = m[15*ms+n-1]
	_ = y[rs+ys+n-1]
	_ = b[n-1]
	amd64.WinogradOutputAVX2(n, &m[0], ms*4, &y[0], ys*4, rs*4, &b[0])
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
	var bp *float32
	if bias != nil {
		_ = bias[nr-1]
		bp = &bias[0]
	}
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
	var bp *float32
	if bias != nil {
		_ = bias[15]
		bp = &bias[0]
	}
	amd64.ConvGatherAVX2x6x16(nkr, kc, &x[0], &poff[0], &roff[0], &b[0], bp, &y[0], ldy, np)
}
