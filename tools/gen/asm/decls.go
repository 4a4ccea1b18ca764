package main

import (
	"bytes"
	"fmt"
	"slices"
)

func genDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("//go:build !purego\n\npackage amd64\n")
	gemmDecls(&b, gemmKernels, variants)
	gemmDecls(&b, shortKernels, shortVariants)
	for _, e := range elementwiseKernels {
		fmt.Fprintf(&b, "\n// %s\n//\n//go:noescape\nfunc %s(%s)\n", e.doc, e.name, e.sig)
	}
	b.WriteString(`
// SumAVX2 returns the sum of x[i] for i < n, n a multiple of 8, accumulated
// in 32 lanes (four vectors) and reduced in a fixed order.
//
//go:noescape
func SumAVX2(n int, x *float32) float32
`)
	b.WriteString(`
// DepthwiseTileAVX2 computes ng ≥ 1 depthwise convolution tiles of 4
// output pixels × 16 channels, each in registers over nt taps, the tiles
// 4 pixels apart. With all offsets and strides in bytes, for q < 4·ng and
// j < 16:
//
//	y[q·ys + j] = s + Σ_{t<nt} x[xoff[t] + q·xs + j] · w[woff[t] + j]
//
// with s = b[j], or the old y[q·ys + j] when b is nil (fused
// multiply-adds in t order).
//
//go:noescape
func DepthwiseTileAVX2(ng, nt int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32)
`)
	b.WriteString(`
// DepthwiseWGradAVX2 accumulates the depthwise weight gradient of np
// pixels for nt ≤ 9 taps × 8 channels in registers. With all offsets and
// strides in bytes, for t < nt and j < 8:
//
//	acc[aoff[t] + j] += Σ_{p<np} x[xoff[t] + p·xs + j] · dy[p·dys + j]
//
// (fused multiply-adds in p order). It does nothing for nt outside 1..9.
//
//go:noescape
func DepthwiseWGradAVX2(nt, np int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)
`)
	b.WriteString(`
// SgemmIndirectBAVX2x6x16 computes, for i < 6 and j < 16, with toff in
// bytes,
//
//	c[i*ldc+j] = Σ_{t<nt} a[t*6+i] · x[toff[t] + j]   (fused multiply-adds in t order)
//
// a 6-filter × 16-pixel convolution tile whose taps are shifted rows of
// padded input planes, from an offset table (no im2col copy); a is a
// 6-row panel of weights packed tap-major.
//
//go:noescape
func SgemmIndirectBAVX2x6x16(nt int, a, x *float32, toff *int, c *float32, ldc int)
`)
	b.WriteString(`
// SdotIndirectAVX2x6x2 computes, for i < 6 and j < 2, with n a multiple
// of 8 and the offsets in bytes,
//
//	c[i*ldc+j] += Σ_{v<n} a[i*lda+v] · x[offj + v]
//
// (8 lanes accumulated by fused multiply-adds, then reduced): a 6-filter ×
// 2-tap block of a convolution's weight gradient over shifted rows of
// padded input planes.
//
//go:noescape
func SdotIndirectAVX2x6x2(n int, a *float32, lda int, x *float32, off0, off1 int, c *float32, ldc int)
`)
	b.WriteString(`
// MaxPoolBackAVX2 adds a max pool's output gradient to the first position
// of each window's maximum. For nw windows w, each with nt ≥ 1 taps at
// byte offsets w·xs + toff[t] from x and from dx (laid out alike), and
// channels i < n (any n ≥ 1; the last n mod 8 use masked loads and
// stores), with X_t = x[(w·xs + toff[t])/4 + i]:
//
//	a := 0; for t := 1; t < nt; t++ { if X_t > X_a || (X_t is NaN && X_a is not) { a = t } }
//	dx[(w·xs + toff[a])/4 + i] += dy[w·n + i]
//
// so ties and later NaNs keep the earlier tap. Every other tap's dx gets
// +0 added, which changes no value but −0 (dx that starts at +0 never
// holds −0). Windows are done in order, so overlapping windows add up as
// in a scalar loop.
//
//go:noescape
func MaxPoolBackAVX2(nw, nt, n int, x, dx *float32, xs int, toff *int, dy *float32)

// MaxPoolBackStoreAVX2 is MaxPoolBackAVX2 storing instead of adding, for
// windows that share no position:
//
//	dx[(w·xs + toff[t])/4 + i] = (t == a ? dy[w·n + i] : 0) + 0
//
// (the +0 turns a −0 into +0, what adding dy to a cleared dx gives).
//
//go:noescape
func MaxPoolBackStoreAVX2(nw, nt, n int, x, dx *float32, xs int, toff *int, dy *float32)
`)
	// Tile shapes, for the Go side's blocking.
	b.WriteString("\n// Tile shapes of the SGEMM microkernels.\nconst (\n")
	for _, k := range slices.Concat(gemmKernels, shortKernels) {
		fmt.Fprintf(&b, "\t%sMR = %d\n\t%sNR = %d\n", k.name, k.mr, k.name, k.nr)
	}
	b.WriteString(")\n")
	return b.Bytes()
}

// gemmDecls writes the declarations of kernels ks in variants vs.
func gemmDecls(b *bytes.Buffer, ks []gemmKernel, vs []variant) {
	for _, k := range ks {
		for _, v := range vs {
			al, bl := "a[i*lda+p] (A row-major, read in place)", "b[p*ldb+j] (B row-major, read in place)"
			switch v.a {
			case 'P':
				al = fmt.Sprintf("a[p*%d+i] (an MR-row panel packed k-major; lda unused)", k.mr)
			case 'T':
				al = "a[p*lda+i] (Aᵀ row-major, read in place)"
			}
			if v.bPacked {
				bl = fmt.Sprintf("b[p*%d+j] (an NR-column panel packed k-major; ldb unused)", k.nr)
			}
			fmt.Fprintf(b, `
// %[1]s%[2]s is the %[3]d×%[4]d SGEMM microkernel (%[5]s registers) reading
// A[i,p] = %[6]s and
// B[p,j] = %[7]s.
// For i < %[3]d and j < %[4]d it computes
//
//	s := sum over p < kc of A[i,p]·B[p,j]     (fused multiply-adds in p order)
//	c[i*ldc+j] = alpha·s                    if beta == 0 (C is not read)
//	c[i*ldc+j] = alpha·s + beta·c[i*ldc+j]  otherwise (two products, then one sum)
//
//go:noescape
func %[1]s%[2]s(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
`, k.name, v.suffix, k.mr, k.nr, k.reg+"MM", al, bl)
		}
	}
}
