package main

import (
	"bytes"
	"fmt"
)

// The SGEMM microkernels with an epilogue (sgemm_epi_amd64.s): the k loop
// of genGemmKernel, then, on the tile still in registers,
//
//	t := alpha·s (+ beta·C)          as the plain kernel rounds it
//	t += bias[j]                     when flags&EpiBias (one rounding)
//	t = min(max(t, lo), hi)          when flags&EpiClamp (Go's min and max)
//	t = 0 if t < 0                   when flags&EpiReLU (NaN and −0 kept)
//
// and one store: bit for bit the plain kernel followed by separate passes
// adding the bias (AddAVX2) and clamping (ClampAVX2) or rectifying
// (ReluAVX2), without reading C back. Conv→Clip and Conv→ReLU inference
// and GEMM bias use them.

// Epilogue flag bits (the flags argument); the Go declarations repeat them.
const (
	epiBias  = 1
	epiClamp = 2
	epiReLU  = 4
	// epiClampQuick (with epiClamp, where hi is not ±0) clamps in three
	// instructions instead of six or eight (see clampQuick). 8 is
	// DepthwiseRowAVX512's dwNoPrefetch.
	epiClampQuick = 16
)

// clampSignMask emits fix = lo AND −0 (the sign of lo, on a zero) into
// register fix, for clampQuick.
func clampSignMask(a *asm, reg, lo, fix string) {
	if reg == "Z" {
		a.f("VPTERNLOGD $0xff, %s, %s, %s", fix, fix, fix)
	} else {
		a.f("VPCMPEQD %s, %s, %s", fix, fix, fix)
	}
	a.f("VPSLLD $31, %s, %s", fix, fix)
	a.f("VANDPS %s, %s, %s", lo, fix, fix)
}

// clampQuick emits r = min(max(r, lo), hi) with Go's min and max, for hi
// not ±0, given fix = lo AND −0 (clampSignMask): MAXPS and MINPS return
// their second source (the first operand in Go's syntax) when either is
// NaN or the two are equal, so a NaN r stays r, and equal values are the
// same bits except for zeros. Only max(−0, +0) then goes wrong (−0, Go
// says +0), which happens only for lo = +0, and adding fix = +0 mends it
// (and changes no other t). For lo = −0 or below zero, fix = −0 and the
// addition changes nothing (t + −0 = t for every t, zeros included); for
// lo above zero, fix = +0 and t is above zero or NaN, which adding +0
// leaves. min(t, hi) meets no equal zeros, as hi is not zero.
func clampQuick(a *asm, r, lo, hi, fix string) {
	a.f("VMAXPS %s, %s, %s", r, lo, r)
	a.f("VADDPS %s, %s, %s", fix, r, r)
	a.f("VMINPS %s, %s, %s", r, hi, r)
}

func genSgemmEpiAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, k := range gemmKernels {
		for _, v := range variants {
			genGemmKernelEpi(&a, k, v, false)
		}
	}
	for _, k := range epiMaskedKernels {
		for _, v := range variants {
			if v.bPacked {
				genGemmKernelEpi(&a, k, v, true)
			}
		}
	}
	return a.Bytes()
}

// epiMaskedKernels have masked epilogue variants (nameM) for the edge
// tiles of C: the 12×32 kernel, and a 12×16 one reading the first 16
// columns of 32-wide B panels, for edges of at most 16 columns (half the
// work).
var epiMaskedKernels = []gemmKernel{
	gemmKernels[1],
	{name: "SgemmAVX512x12x16", reg: "Z", lanes: 16, mr: 12, nr: 16, zero: "VPXORD", unroll: 4, bStride: 32},
}

// genGemmKernelEpi writes
//
//	func nameE(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, bias *float32, lo, hi float32, flags int)
//
// with genGemmKernel's k loop (its text, renamed) and an epilogue store;
// masked (AVX-512 only), nameM, with an argument nr after flags, reads and
// writes only the first nr ≤ NR columns of C and of bias, under mask
// registers (K3 for the first vector of a row, K4 the second): the edge
// tiles of C, without a copy through a whole tile.
func genGemmKernelEpi(a *asm, k gemmKernel, vr variant, masked bool) {
	var body asm
	genGemmKernel(&body, k, vr)
	name := k.name + vr.suffix
	txt := body.String()
	// Keep the header and k loop of the plain kernel, up to its store.
	cut := bytes.Index(body.Bytes(), []byte(name+"_store:\n"))
	if cut < 0 {
		panic("gemm epilogue: no store label in " + name)
	}
	txt = txt[:cut]
	ename, frame, extra := name+"E", "$0-88", ""
	if masked {
		ename, frame, extra = name+"M", "$0-96", ", nr int"
	}
	txt = replaceAll(txt, "·"+name+"(SB), NOSPLIT, $0-64", "·"+ename+"(SB), NOSPLIT, "+frame)
	txt = replaceAll(txt, "// func "+name+"(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)",
		"// func "+ename+"(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, bias *float32, lo, hi float32, flags int"+extra+")")
	txt = replaceAll(txt, name+"_", ename+"_")
	a.raw(txt)

	nv := k.nv()
	nacc := k.mr * nv
	free := func(i int) string { return fmt.Sprintf("%s%d", k.reg, nacc+i) } // registers past the accumulators
	vb := k.lanes * 4
	l := ename
	alpha, beta, tmp := free(0), free(1), free(2)
	// mk returns the mask operand of vector v (", K3" or ", K4") and the
	// zeroing suffix of masked loads, or nothing unmasked.
	mk := func(v int) (string, string) {
		if !masked {
			return "", ""
		}
		return fmt.Sprintf(", K%d", 3+v), ".Z"
	}
	// 1. t = alpha·s (+ beta·C), in the accumulators.
	a.label(l + "_store")
	if masked {
		// K3:K4 = 2^nr − 1: the lanes of the first nr columns.
		a.f("MOVQ nr+88(FP), CX")
		a.f("MOVQ $1, BX")
		a.f("SHLQ CX, BX")
		a.f("DECQ BX")
		a.f("KMOVW BX, K3")
		a.f("SHRQ $16, BX")
		a.f("KMOVW BX, K4")
	}
	a.f("MOVL alpha+56(FP), AX")
	a.f("CMPL AX, $0x3f800000") // alpha = 1: 1·t = t
	a.f("JEQ %s_beta", l)
	a.f("VBROADCASTSS alpha+56(FP), %s", alpha)
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			a.f("VMULPS %s, %s, %s", alpha, k.acc(i, v), k.acc(i, v))
		}
	}
	a.label(l + "_beta")
	a.f("MOVL beta+60(FP), AX")
	a.f("SHLL $1, AX") // drop the sign: -0 is zero too
	a.f("JEQ %s_bias", l)
	a.f("VBROADCASTSS beta+60(FP), %s", beta)
	a.f("MOVQ DI, AX")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := k.acc(i, v)
			m, z := mk(v)
			a.f("VMULPS%s %d(AX), %s%s, %s", z, v*vb, beta, m, tmp)
			a.f("VADDPS %s, %s, %s", tmp, r, r)
		}
		if i < k.mr-1 {
			a.f("ADDQ R8, AX")
		}
	}
	// 2. + bias[j].
	a.label(l + "_bias")
	a.f("MOVQ flags+80(FP), BX")
	a.f("TESTQ $%d, BX", epiBias)
	a.f("JEQ %s_clamp", l)
	a.f("MOVQ bias+64(FP), AX")
	for v := 0; v < nv; v++ {
		m, z := mk(v)
		a.f("VMOVUPS%s %d(AX)%s, %s", z, v*vb, m, free(v))
	}
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			a.f("VADDPS %s, %s, %s", free(v), k.acc(i, v), k.acc(i, v))
		}
	}
	// 3. Clamp, with Go's min and max.
	a.label(l + "_clamp")
	a.f("TESTQ $%d, BX", epiClamp)
	a.f("JEQ %s_relu", l)
	lo, hi := free(0), free(1)
	a.f("VBROADCASTSS lo+72(FP), %s", lo)
	a.f("VBROADCASTSS hi+76(FP), %s", hi)
	a.f("TESTQ $%d, BX", epiClampQuick)
	a.f("JEQ %s_clampfull", l)
	clampSignMask(a, k.reg, lo, free(2))
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			clampQuick(a, k.acc(i, v), lo, hi, free(2))
		}
	}
	a.f("JMP %s_relu", l)
	a.label(l + "_clampfull")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := k.acc(i, v)
			// ClampAVX2's sequence: MAXPS and MINPS return their second
			// source when either is NaN or the two are equal; equal
			// zeros then take the AND (max) or OR (min) of the two.
			// (VRANGEPS, tried, turns a NaN into the bound on Zen 5.)
			t, m := free(2), free(3)
			if k.reg == "Z" { // the blends under mask registers
				a.f("VMAXPS %s, %s, %s", r, lo, t)
				a.f("VCMPPS $0, %s, %s, K1", lo, r)
				a.f("VANDPS %s, %s, K1, %s", lo, r, t)
				a.f("VMINPS %s, %s, %s", t, hi, r)
				a.f("VCMPPS $0, %s, %s, K2", hi, t)
				a.f("VORPS %s, %s, K2, %s", hi, t, r)
				continue
			}
			a.f("VMAXPS %s, %s, %s", r, lo, t)
			a.f("VCMPPS $0, %s, %s, %s", lo, r, m)
			a.f("VANDPS %s, %s, %s", lo, r, r)
			a.f("VBLENDVPS %s, %s, %s, %s", m, r, t, t)
			a.f("VMINPS %s, %s, %s", t, hi, r)
			a.f("VCMPPS $0, %s, %s, %s", hi, t, m)
			a.f("VORPS %s, %s, %s", hi, t, t)
			a.f("VBLENDVPS %s, %s, %s, %s", m, t, r, r)
		}
	}
	// 4. ReLU as ReluAVX2: 0 > t ? 0 : t.
	a.label(l + "_relu")
	a.f("TESTQ $%d, BX", epiReLU)
	a.f("JEQ %s_out", l)
	zero := free(0)
	a.f("VXORPS %s, %s, %s", zero, zero, zero)
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			a.f("VMAXPS %s, %s, %s", k.acc(i, v), zero, k.acc(i, v))
		}
	}
	// 5. One store.
	a.label(l + "_out")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			m, _ := mk(v)
			a.f("VMOVUPS %s%s, %d(DI)", k.acc(i, v), m, v*vb)
		}
		if i < k.mr-1 {
			a.f("ADDQ R8, DI")
		}
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

func replaceAll(s, old, new string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(old), []byte(new)))
}

// genSgemmEpiDecls writes the Go declarations of the epilogue kernels.
func genSgemmEpiDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("//go:build !purego\n\npackage amd64\n")
	fmt.Fprintf(&b, `
// Flag bits of the epilogue SGEMM kernels (Sgemm…E): what they do to the
// tile after alpha·s (+ beta·C), in this order.
const (
	// EpiBias adds bias[j] to column j (one rounding, as AddAVX2).
	EpiBias = %d
	// EpiClamp clamps to [lo, hi] with Go's min and max (as ClampAVX2).
	EpiClamp = %d
	// EpiReLU sets values below zero to +0, NaN and −0 kept (as ReluAVX2).
	EpiReLU = %d
	// EpiClampQuick, with EpiClamp where hi is not ±0, clamps in three
	// instructions a vector (max, adding lo's sign on a zero, min) instead
	// of six or eight: the same bits.
	EpiClampQuick = %d
)
`, epiBias, epiClamp, epiReLU, epiClampQuick)
	for _, k := range gemmKernels {
		for _, v := range variants {
			fmt.Fprintf(&b, `
// %[1]s%[2]sE is %[1]s%[2]s with an epilogue: the tile, computed as
// %[1]s%[2]s computes it, then gets bias[j] added (flags&EpiBias; bias
// holds %[3]d floats), is clamped to [lo, hi] (flags&EpiClamp; lo, hi not
// NaN) and rectified (flags&EpiReLU), in registers, before one store: bit
// for bit the plain kernel followed by AddAVX2, ClampAVX2 and ReluAVX2
// (a NaN stays a NaN, its payload unspecified).
//
//go:noescape
func %[1]s%[2]sE(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, bias *float32, lo, hi float32, flags int)
`, k.name, v.suffix, k.nr)
		}
	}
	for _, k := range epiMaskedKernels {
		for _, v := range variants {
			if !v.bPacked {
				continue
			}
			fmt.Fprintf(&b, `
// %[1]s%[2]sM is the %[4]d×%[3]d AVX-512 SGEMM microkernel with the epilogue of
// the Sgemm…E kernels, B a packed panel of %[5]d columns per k step, on the
// first nr columns (1 ≤ nr ≤ %[3]d) of the tile: it reads C (beta ≠ 0) and
// bias, and writes C, only there, under masks; the columns of B's panel
// past nr are read (zeros).
//
//go:noescape
func %[1]s%[2]sM(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, bias *float32, lo, hi float32, flags int, nr int)
`, k.name, v.suffix, k.nr, k.mr, k.bw())
		}
	}
	return b.Bytes()
}
