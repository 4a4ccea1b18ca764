package tensor

import "math"

// Pure-Go stand-ins for the kernels of a tier the CPU may lack (see
// tensor.NewCPU(tier, true)): the same contract, geometry and roundings as the
// assembly they replace, so that every test that walks the tiers runs the
// AVX-512 tier's tiling, panel widths and edge handling on an AVX2-only
// machine. They are slow (a fused multiply-add costs a few float64
// operations) and exist for tests.

// fma32 returns x·y + z rounded once to float32, as VFMADD231PS computes
// it. The product is exact in float64, so the float64 sum differs from
// the exact one only below float32's last bit; rounding it to float32 is
// then right unless it landed exactly halfway between two float32s (or in
// float32's subnormal range, where fewer bits remain): fma32Slow decides
// those.
func fma32(x, y, z float32) float32 {
	r := float64(x)*float64(y) + float64(z)
	if b := math.Float64bits(r); b&(1<<29-1) != 1<<28 && (b>>52)&0x7ff >= 1023-126 {
		return float32(r)
	}
	return fma32Slow(x, y, z)
}

// fma32Slow is fma32 for any operands: the float64 sum is rounded to odd
// (its last bit set when it is inexact), so that rounding it to float32
// gives the correctly rounded result, not a double rounding.
func fma32Slow(x, y, z float32) float32 {
	p, zz := float64(x)*float64(y), float64(z)
	r := p + zz
	bb := r - p
	e := (p - (r - bb)) + (zz - bb) // p + zz − r exactly (TwoSum)
	if e != 0 && e == e && !math.IsInf(r, 0) {
		if bits := math.Float64bits(r); bits&1 == 0 {
			if (e > 0) == (r > 0) {
				bits++
			} else {
				bits--
			}
			r = math.Float64frombits(bits)
		}
	}
	return float32(r)
}

// sgemmStandIn is the stand-in of an mr×nr assembly SGEMM microkernel
// (mr·nr ≤ 12·32), any variant of kernels/amd64's Sgemm<tier>x<mr>x<nr>:
// A read as aMode says (packed k-major, rows in place lda apart, or
// transposed in place), B packed k-major (bPacked) or rows ldb apart, and
//
//	s := Σ_{p<kc} A[i,p]·B[p,j]          (fused multiply-adds in p order)
//	c[i·ldc+j] = alpha·s                  if beta == 0 (C not read)
//	c[i·ldc+j] = alpha·s + beta·c[i·ldc+j] otherwise (two products, one sum)
func sgemmStandIn(mr, nr, kc int, a []float32, aMode, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	var acc [12 * 32]float32
	s := acc[:mr*nr]
	for p := 0; p < kc; p++ {
		var brow []float32
		if bPacked {
			brow = b[p*nr : p*nr+nr]
		} else {
			brow = b[p*ldb : p*ldb+nr]
		}
		for i := 0; i < mr; i++ {
			var av float32
			switch aMode {
			case aPackedPanel:
				av = a[p*mr+i]
			case aRowsInPlace:
				av = a[i*lda+p]
			default:
				av = a[p*lda+i]
			}
			row := s[i*nr : i*nr+nr]
			for j, bv := range brow[:len(row)] {
				row[j] = fma32(av, bv, row[j])
			}
		}
	}
	for i := 0; i < mr; i++ {
		dst := c[i*ldc : i*ldc+nr]
		for j, v := range s[i*nr : i*nr+nr] {
			t := float32(alpha * v)
			if beta != 0 {
				t += float32(beta * dst[j])
			}
			dst[j] = t
		}
	}
}

// convRowStandIn is the stand-in of the row kernel of nr filters
// (ConvRowAVX512x12x32 for nr = 32): with xs and toff in bytes, for
// p < np and j < nr,
//
//	y[p·ldy + j] = s + Σ_{t<nt} x[(toff[t] + p·xs)/4] · b[t·nr + j]
//
// with s = bias[j], or 0 when bias is nil (fused multiply-adds in t
// order).
func convRowStandIn(nr, np, nt int, x []float32, xs int, toff []int, b, bias, y []float32, ldy int) {
	for p := 0; p < np; p++ {
		row := y[p*ldy : p*ldy+nr]
		if bias != nil {
			copy(row, bias[:nr])
		} else {
			clear(row)
		}
		for t, o := range toff[:nt] {
			v := x[(o+p*xs)/4]
			for j, w := range b[t*nr : t*nr+nr] {
				row[j] = fma32(v, w, row[j])
			}
		}
	}
}

// convWGradStandIn is the stand-in of the tap weight-gradient kernels of
// f filters (ConvWGradAVX512x<r>x<f> for f = 32, 64, r = len(toff)): with x
// strides and toff in bytes, dys in floats, for i < r and j < f,
//
//	c[i·ldc + j] += Σ_{q<nr} Σ_{p<np} x[(toff[i] + q·xrs + p·xs)/4] · dy[(q·np + p)·dys + j]
//
// (fused multiply-adds in q, p order from 0, then one addition to c).
func convWGradStandIn(f, np, nr int, x []float32, xs, xrs int, toff []int, dy []float32, dys int, c []float32, ldc int) {
	var acc [64]float32
	for i, o := range toff {
		s := acc[:f]
		clear(s)
		for q := 0; q < nr; q++ {
			for p := 0; p < np; p++ {
				v := x[(o+q*xrs+p*xs)/4]
				d := dy[(q*np+p)*dys : (q*np+p)*dys+f]
				for j := range s {
					s[j] = fma32(v, d[j], s[j])
				}
			}
		}
		row := c[i*ldc : i*ldc+f]
		for j, v := range s {
			row[j] += v
		}
	}
}

// dotRowsStandIn is the stand-in of DotRowsAVX512x12: for p < np (lda, ys
// in floats, aoff in bytes, n a multiple of 16),
//
//	y[p·ys] = Σ_{k<nk} Σ_{v<n} a[aoff[k]/4 + p·lda + v] · w[k·n + v]
//
// with lane l of even and odd 16-float steps summed apart by fused
// multiply-adds (a last step of 16 into the even sums), then reduced as
// s_l = even_l + odd_l, t_l = s_l + s_(l+8), u_l = t_l + t_(l+4),
// y = (u_0 + u_2) + (u_1 + u_3).
func dotRowsStandIn(np, nk, n int, a []float32, lda int, aoff []int, w, y []float32, ys int) {
	for p := 0; p < np; p++ {
		var even, odd [16]float32
		for k := 0; k < nk; k++ {
			row := a[aoff[k]/4+p*lda:][:n]
			wk := w[k*n : (k+1)*n]
			for v := 0; v < n; v += 16 {
				acc := &even
				if v%32 == 16 {
					acc = &odd
				}
				for l := range acc {
					acc[l] = fma32(row[v+l], wk[v+l], acc[l])
				}
			}
		}
		var s [16]float32
		for l := range s {
			s[l] = even[l] + odd[l]
		}
		var u [4]float32
		for l := range u {
			u[l] = (s[l] + s[l+8]) + (s[l+4] + s[l+12])
		}
		y[p*ys] = (u[0] + u[2]) + (u[1] + u[3])
	}
}

// colSumStandIn is the stand-in of ColSumAVX512 over all of acc: for
// j < len(acc), acc[j] += even + odd, where even and odd sum x[r·ldx + j]
// over the even and the odd rows r < rows, each in r order from +0. (The
// AVX-512 elementwise and optimizer kernels need no stand-in of their own:
// every lane computes what the AVX2 kernels and the plain Go loops
// compute for that element, bit for bit.)
func colSumStandIn(acc, x []float32, rows, ldx int) {
	for j := range acc {
		var even, odd float32
		for r := 0; r < rows; r++ {
			if r%2 == 0 {
				even += x[r*ldx+j]
			} else {
				odd += x[r*ldx+j]
			}
		}
		acc[j] += even + odd
	}
}

// depthwiseRowStandIn is the stand-in of DepthwiseRowAVX512: y[q·ys + j]
// = b[j] + Σ_{t<nt} x[xoff[t] + q·xs + j]·w[woff[t] + j] for q < np and
// j < nc (b nil: +0; fused multiply-adds in t order; offsets and strides
// in bytes), act applied after.
func depthwiseRowStandIn(np, nt, nc int, x []float32, xs int, xoff []int, w []float32, woff []int, y []float32, ys int, b []float32, act FusedAct) {
	for q := 0; q < np; q++ {
		yq := y[q*ys/4 : q*ys/4+nc]
		if b != nil {
			copy(yq, b[:nc])
		} else {
			clear(yq)
		}
		for t := 0; t < nt; t++ {
			xq := x[(xoff[t]+q*xs)/4:]
			wt := w[woff[t]/4:]
			for j := range yq {
				yq[j] = fma32(xq[j], wt[j], yq[j])
			}
		}
		act.apply(genericGemmKernel(), yq)
	}
}

// depthwiseRow3StandIn is the stand-in of DepthwiseRow3AVX512 (stride 1)
// and DepthwiseRow3S2AVX512 (stride 2): depthwiseRowStandIn with pixel
// stride stride·xs for the 3·nr taps xoff[r] + k·xs, woff[r] + k·ws (k <
// 3).
func depthwiseRow3StandIn(stride, np, nr, nc int, x []float32, xs int, xoff []int, w []float32, ws int, woff []int, y []float32, ys int, b []float32, act FusedAct) {
	var xt, wt [depthwiseMaxTaps]int // 3·nr ≤ depthwiseMaxTaps
	for r := range nr {
		for k := range 3 {
			xt[3*r+k], wt[3*r+k] = xoff[r]+k*xs, woff[r]+k*ws
		}
	}
	depthwiseRowStandIn(np, 3*nr, nc, x, stride*xs, xt[:3*nr], w, wt[:3*nr], y, ys, b, act)
}

// depthwiseWGradStandIn is the stand-in of DepthwiseWGradAVX512:
// acc[aoff[t] + j] += Σ_{p<np} x[xoff[t] + p·xs + j]·dy[p·dys + j] for t <
// nt and j < nc (fused multiply-adds in p order; offsets and strides in
// bytes).
func depthwiseWGradStandIn(nt, np, nc int, x []float32, xs int, xoff []int, dy []float32, dys int, acc []float32, aoff []int) {
	for t := 0; t < nt; t++ {
		a := acc[aoff[t]/4 : aoff[t]/4+nc]
		for p := 0; p < np; p++ {
			xp, dp := x[(xoff[t]+p*xs)/4:], dy[p*dys/4:]
			for j := range a {
				a[j] = fma32(xp[j], dp[j], a[j])
			}
		}
	}
}
