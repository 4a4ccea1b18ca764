package main

import (
	"bytes"
	"fmt"
)

// AVX-512 streaming kernels (elementwise512_amd64.s): the elementwise,
// column-sum and optimizer kernels of the AVX2 tier at 16 lanes, for any
// n. Full vectors run four to a loop step, then one at a time; the last
// n mod 16 floats run once more under an opmask (K1), which loads zeros
// in the lanes past the end and stores nothing there, so no caller needs a
// scalar edge. Every lane computes what the AVX2 kernel (and the plain Go
// loop it stands for) computes for that element, bit for bit: the
// operations are per element and in the same order.

// z512 emits the operand moves of a 16-lane kernel body, masked by K1 in
// the tail.
type z512 struct {
	a      *asm
	masked bool
}

// ld loads the 16 floats at addr into r (zeros past the mask in the tail).
func (z z512) ld(addr, r string) { vec512.ld(z.a, z.masked, addr, r) }

// st stores r's lanes (those under the mask in the tail) at addr.
func (z z512) st(r, addr string) { vec512.st(z.a, z.masked, r, addr) }

// stream512 is one AVX-512 streaming kernel over n floats, any n ≥ 0.
// body handles one vector at byte offset off in register r (Z0–Z3), with
// temporaries t1, t2 (Z4–Z11); Z15 is zero, Z12–Z14 hold the kernel's
// broadcast scalars.
type stream512 struct {
	name, sig, frame, doc string
	load                  []string // MOVQ lines loading pointer arguments
	setup                 []string
	body                  func(z z512, off int, r, t1, t2 string)
}

var stream512Kernels = []stream512{
	{
		name: "AxpyAVX512", sig: "n int, alpha float32, x, y *float32", frame: "$0-32",
		doc:   "AxpyAVX512 computes y[i] += alpha·x[i] (one fused multiply-add) for i < n.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS alpha+8(FP), Z14"},
		body: func(z z512, off int, r, t1, _ string) {
			z.ld(fmt.Sprintf("%d(DI)", off), r)
			z.ld(fmt.Sprintf("%d(SI)", off), t1)
			z.a.f("VFMADD231PS %s, Z14, %s", t1, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "AddAVX512", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "AddAVX512 computes z[i] = x[i] + y[i] for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(z z512, off int, r, t1, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.ld(fmt.Sprintf("%d(DX)", off), t1)
			z.a.f("VADDPS %s, %s, %s", t1, r, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "FmaAVX512", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "FmaAVX512 computes z[i] += x[i] · y[i] (one fused multiply-add) for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(z z512, off int, r, t1, t2 string) {
			z.ld(fmt.Sprintf("%d(DI)", off), r)
			z.ld(fmt.Sprintf("%d(SI)", off), t1)
			z.ld(fmt.Sprintf("%d(DX)", off), t2)
			z.a.f("VFMADD231PS %s, %s, %s", t2, t1, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "SubAVX512", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "SubAVX512 computes z[i] = x[i] − y[i] for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(z z512, off int, r, t1, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.ld(fmt.Sprintf("%d(DX)", off), t1)
			z.a.f("VSUBPS %s, %s, %s", t1, r, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "MaxAVX512", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "MaxAVX512 computes z[i] = max(x[i], y[i]), NaN if either is NaN (x's when both are), for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(z z512, off int, r, t1, t2 string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.ld(fmt.Sprintf("%d(DX)", off), t1)
			z.a.f("VMAXPS %s, %s, %s", t1, r, t2) // x > y ? x : y, y when unordered
			z.a.f("VCMPPS $3, %s, %s, K2", r, r)  // x is NaN
			z.a.f("VMOVAPS %s, K2, %s", r, t2)
			z.st(t2, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "MulAVX512", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "MulAVX512 computes z[i] = x[i] · y[i] for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(z z512, off int, r, t1, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.ld(fmt.Sprintf("%d(DX)", off), t1)
			z.a.f("VMULPS %s, %s, %s", t1, r, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "ScaleAVX512", sig: "n int, alpha float32, x, y *float32", frame: "$0-32",
		doc:   "ScaleAVX512 computes y[i] = alpha · x[i] for i < n.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS alpha+8(FP), Z14"},
		body: func(z z512, off int, r, _, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.a.f("VMULPS %s, Z14, %s", r, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "ReluAVX512", sig: "n int, x, y *float32", frame: "$0-24",
		doc:  "ReluAVX512 computes y[i] = 0 if x[i] < 0, else x[i] (NaN passes through) for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DI"},
		body: func(z z512, off int, r, _, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.a.f("VMAXPS %s, Z15, %s", r, r) // 0 > x ? 0 : x
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "ClampAVX512", sig: "n int, lo, hi float32, x, y *float32", frame: "$0-32",
		doc:   "ClampAVX512 computes y[i] = min(max(x[i], lo), hi) with Go's min and max (NaN passes through; of two equal zeros max gives +0, min −0) for i < n; lo and hi must not be NaN.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS lo+8(FP), Z14", "VBROADCASTSS hi+12(FP), Z13"},
		body: func(z z512, off int, r, t1, t2 string) {
			// As ClampAVX2: MAXPS and MINPS return their second source
			// when either is NaN or the two are equal; equal zeros then
			// take the AND (max) or OR (min) of the two.
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.a.f("VMAXPS %s, Z14, %s", r, t1)  // t1 = lo > x ? lo : x
			z.a.f("VCMPPS $0, Z14, %s, K2", r)  // x == lo, ordered
			z.a.f("VANDPS Z14, %s, %s", r, t2)  //
			z.a.f("VMOVAPS %s, K2, %s", t2, t1) //
			z.a.f("VMINPS %s, Z13, %s", t1, r)  // r = hi < t1 ? hi : t1
			z.a.f("VCMPPS $0, Z13, %s, K2", t1) // t1 == hi, ordered
			z.a.f("VORPS Z13, %s, %s", t1, t2)  //
			z.a.f("VMOVAPS %s, K2, %s", t2, r)  //
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
	{
		name: "ReluGradAVX512", sig: "n int, x, dy, dx *float32", frame: "$0-32",
		doc:  "ReluGradAVX512 computes dx[i] = dy[i] if x[i] > 0, else 0, for i < n.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ dy+16(FP), DX", "MOVQ dx+24(FP), DI"},
		body: func(z z512, off int, r, t1, _ string) {
			z.ld(fmt.Sprintf("%d(SI)", off), r)
			z.ld(fmt.Sprintf("%d(DX)", off), t1)
			z.a.f("VCMPPS $0x1e, Z15, %s, K2", r) // x > 0, ordered
			z.a.f("VMOVAPS.Z %s, K2, %s", t1, r)
			z.st(r, fmt.Sprintf("%d(DI)", off))
		},
	},
}

// tailMask512 sets K1 to the low CX (< 16) lanes.
func tailMask512(a *asm) {
	a.f("MOVL $1, AX")
	a.f("SHLL CX, AX")
	a.f("DECL AX")
	a.f("KMOVW AX, K1")
}

// genStream512 writes one kernel: a loop of four vectors, then one vector
// at a time, then the masked tail.
func genStream512(a *asm, e stream512) {
	fmt.Fprintf(&a.Buffer, "\n// func %s(%s)\n", e.name, e.sig)
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, %s\n", e.name, e.frame)
	a.f("MOVQ n+0(FP), CX")
	for _, s := range e.load {
		a.f("%s", s)
	}
	for _, s := range e.setup {
		a.f("%s", s)
	}
	a.f("VPXORD Z15, Z15, Z15")
	l := e.name
	full, tail := z512{a: a}, z512{a: a, masked: true}
	step := func(by int) {
		for _, s := range e.load {
			a.f("ADDQ $%d, %s", by, s[len(s)-2:])
		}
	}
	a.f("CMPQ CX, $64")
	a.f("JLT %s_one", l)
	a.label(l + "_loop")
	for u := 0; u < 4; u++ {
		e.body(full, 64*u, fmt.Sprintf("Z%d", u), fmt.Sprintf("Z%d", 4+u), fmt.Sprintf("Z%d", 8+u))
	}
	step(256)
	a.f("SUBQ $64, CX")
	a.f("CMPQ CX, $64")
	a.f("JGE %s_loop", l)
	a.label(l + "_one")
	a.f("CMPQ CX, $16")
	a.f("JLT %s_tail", l)
	e.body(full, 0, "Z0", "Z4", "Z8")
	step(64)
	a.f("SUBQ $16, CX")
	a.f("JMP %s_one", l)
	a.label(l + "_tail")
	a.f("TESTQ CX, CX")
	a.f("JEQ %s_done", l)
	tailMask512(a)
	e.body(tail, 0, "Z0", "Z4", "Z8")
	a.label(l + "_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genColSum512 writes
//
//	func ColSumAVX512(rows int, x *float32, ldx int, acc *float32, n int)
//
// acc[j] += (Σ_{even r} x[r·ldx+j] + Σ_{odd r} x[r·ldx+j]) for j < n ≤ 64
// (each sum in r order from +0, as ColSumAVX2x8 and x32 add them), four
// vectors whose lanes past n are masked off (K1–K4). Registers: CX rows
// left, SI x, R8 ldx in bytes, DI acc; Z0–Z3 even rows, Z4–Z7 odd rows.
func genColSum512(a *asm) {
	a.raw("\n// func ColSumAVX512(rows int, x *float32, ldx int, acc *float32, n int)\n")
	a.raw("TEXT ·ColSumAVX512(SB), NOSPLIT, $0-40\n")
	a.f("MOVQ rows+0(FP), CX")
	a.f("MOVQ x+8(FP), SI")
	a.f("MOVQ ldx+16(FP), R8")
	a.f("SHLQ $2, R8")
	a.f("MOVQ acc+24(FP), DI")
	// K(v+1) covers the lanes of vector v below n: min(max(n−16v, 0), 16) of them.
	a.f("MOVQ n+32(FP), DX")
	for v := 0; v < 4; v++ {
		a.f("MOVQ DX, BX")
		a.f("SUBQ $%d, BX", 16*v)
		a.f("MOVQ $0, AX")
		a.f("CMPQ BX, $0")
		a.f("CMOVQLT AX, BX")
		a.f("MOVQ $16, AX")
		a.f("CMPQ BX, AX")
		a.f("CMOVQGT AX, BX")
		a.f("MOVQ CX, R9")
		a.f("MOVQ BX, CX")
		a.f("MOVL $1, AX")
		a.f("SHLL CX, AX")
		a.f("DECL AX")
		a.f("KMOVW AX, K%d", v+1)
		a.f("MOVQ R9, CX")
	}
	for v := 0; v < 8; v++ {
		a.f("VPXORD Z%d, Z%d, Z%d", v, v, v)
	}
	a.f("CMPQ CX, $2")
	a.f("JLT cs512_one")
	a.label("cs512_two")
	for v := 0; v < 4; v++ {
		a.f("VMOVUPS.Z %d(SI), K%d, Z%d", 64*v, v+1, 8+v)
		a.f("VADDPS Z%d, Z%d, Z%d", 8+v, v, v)
		a.f("VMOVUPS.Z %d(SI)(R8*1), K%d, Z%d", 64*v, v+1, 12+v)
		a.f("VADDPS Z%d, Z%d, Z%d", 12+v, 4+v, 4+v)
	}
	a.f("LEAQ (SI)(R8*2), SI")
	a.f("SUBQ $2, CX")
	a.f("CMPQ CX, $2")
	a.f("JGE cs512_two")
	a.label("cs512_one")
	a.f("TESTQ CX, CX")
	a.f("JEQ cs512_done")
	for v := 0; v < 4; v++ {
		a.f("VMOVUPS.Z %d(SI), K%d, Z%d", 64*v, v+1, 8+v)
		a.f("VADDPS Z%d, Z%d, Z%d", 8+v, v, v)
	}
	a.label("cs512_done")
	for v := 0; v < 4; v++ {
		a.f("VADDPS Z%d, Z%d, Z%d", 4+v, v, v)
		a.f("VMOVUPS.Z %d(DI), K%d, Z%d", 64*v, v+1, 8+v)
		a.f("VADDPS Z%d, Z%d, Z%d", 8+v, v, v)
		a.f("VMOVUPS Z%d, K%d, %d(DI)", v, v+1, 64*v)
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

func genStream512Asm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, e := range stream512Kernels {
		genStream512(&a, e)
	}
	genColSum512(&a)
	genDepthwiseRow512(&a)
	genDepthwiseRow3512(&a, 1)
	genDepthwiseRow3512(&a, 2)
	genDepthwiseWGrad512(&a)
	for _, v := range sgdVariants {
		genSGD(&a, v, vec512)
	}
	genAdam(&a, false, vec512)
	genAdam(&a, true, vec512)
	return a.Bytes()
}

func genStream512Decls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("//go:build !purego\n\npackage amd64\n")
	for _, e := range stream512Kernels {
		fmt.Fprintf(&b, "\n// %s\n//\n//go:noescape\nfunc %s(%s)\n", e.doc, e.name, e.sig)
	}
	b.WriteString(`
// ColSumAVX512 adds to acc[j], for j < n ≤ 64, the sum over r < rows of
// x[r·ldx + j], summing even and odd rows apart (each in r order from +0)
// and adding acc[j] + (even + odd) as ColSumAVX2x8 does; lanes at n and
// beyond are neither read nor written.
//
//go:noescape
func ColSumAVX512(rows int, x *float32, ldx int, acc *float32, n int)
`)
	b.WriteString(`
// DepthwiseRowAVX512 computes np ≥ 0 output pixels × nc ≥ 1 channels
// of a depthwise convolution in tiles of 8, 4 or 1 pixels, each block of
// 16 channels in registers over nt taps. With all offsets and strides in
// bytes, for q < np and j < nc:
//
//	y[q·ys + j] = b[j] + Σ_{t<nt} x[xoff[t] + q·xs + j] · w[woff[t] + j]
//
// (b nil: +0 in place of b[j]; fused multiply-adds in t order), then
// clamped to [lo, hi] (flags&EpiClamp, lo and hi not NaN; in three
// instructions a vector with flags&EpiClampQuick, for hi not ±0) and
// rectified (flags&EpiReLU) before the store, bit for bit as ClampAVX2 and
// ReluAVX2 after it; lanes past nc in the last block of 16 are neither read nor
// written. flags&DWNoPrefetch turns off the prefetching of the next
// tile's pixels, for inputs already in cache.
//
//go:noescape
func DepthwiseRowAVX512(np, nt, nc int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)
`)
	b.WriteString(`
// DepthwiseRow3AVX512 is DepthwiseRowAVX512 for taps in rows of three
// that step one pixel (a 3×3 convolution at stride 1): with all offsets
// and strides in bytes, for q < np and j < nc,
//
//	y[q·ys + j] = b[j] + Σ_{r<nr} Σ_{k<3} x[xoff[r] + (q+k)·xs + j] · w[woff[r] + k·ws + j]
//
// in (r, k) order, then lo, hi and flags as DepthwiseRowAVX512's (but
// DWNoPrefetch: it prefetches nothing). The result is DepthwiseRowAVX512's
// for the 3·nr taps xoff[r] + k·xs, woff[r] + k·ws, bit for bit; each
// input vector is loaded once a row instead of three times.
//
//go:noescape
func DepthwiseRow3AVX512(np, nr, nc int, x *float32, xs int, xoff *int, w *float32, ws int, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)

// DepthwiseRow3S2AVX512 is DepthwiseRow3AVX512 at stride 2: with all
// offsets and strides in bytes, for q < np and j < nc,
//
//	y[q·ys + j] = b[j] + Σ_{r<nr} Σ_{k<3} x[xoff[r] + (2q+k)·xs + j] · w[woff[r] + k·ws + j]
//
// in (r, k) order, then the activation; each input vector is loaded once
// a row (2P+1 loads for 3P multiply-adds).
//
//go:noescape
func DepthwiseRow3S2AVX512(np, nr, nc int, x *float32, xs int, xoff *int, w *float32, ws int, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)
`)
	b.WriteString(`
// DepthwiseWGradAVX512 accumulates the depthwise weight gradient of np
// pixels for nt ≤ 9 taps × nc ≤ 16 channels in registers. With all
// offsets and strides in bytes, for t < nt and j < nc:
//
//	acc[aoff[t] + j] += Σ_{p<np} x[xoff[t] + p·xs + j] · dy[p·dys + j]
//
// (fused multiply-adds in p order); lanes at nc and beyond are neither
// read nor written. It does nothing for nt outside 1..9.
//
//go:noescape
func DepthwiseWGradAVX512(nt, np, nc int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)
`)
	fmt.Fprintf(&b, `
// DWNoPrefetch, in DepthwiseRowAVX512's flags, turns off its prefetches.
const DWNoPrefetch = %d
`, dwNoPrefetch)
	optimDecls(&b, vec512)
	return b.Bytes()
}
