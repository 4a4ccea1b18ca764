package main

import (
	"fmt"
	"strings"
)

// elementwise describes one AVX2 streaming kernel over n floats, n a
// multiple of 8. The body is emitted for one vector at byte offset off,
// using registers from base upward; zero is Y15 (all zero) and s is Y14
// (the broadcast scalar, when the kernel has one).
type elementwise struct {
	name, sig, frame, doc string
	load                  []string // MOVQ lines loading pointer arguments
	setup                 []string
	body                  func(a *asm, off int, r string)
}

var elementwiseKernels = []elementwise{
	{
		name: "AxpyAVX2", sig: "n int, alpha float32, x, y *float32", frame: "$0-32",
		doc:   "AxpyAVX2 computes y[i] += alpha·x[i] (one fused multiply-add) for i < n; n must be a multiple of 8.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS alpha+8(FP), Y14"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(DI), %s", off, r)
			a.f("VFMADD231PS %d(SI), Y14, %s", off, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "AddAVX2", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "AddAVX2 computes z[i] = x[i] + y[i] for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VADDPS %d(DX), %s, %s", off, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "FmaAVX2", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "FmaAVX2 computes z[i] += x[i] · y[i] (one fused multiply-add) for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(DI), %s", off, r)
			a.f("VMOVUPS %d(SI), Y14", off)
			a.f("VFMADD231PS %d(DX), Y14, %s", off, r) // r += x·y
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "SubAVX2", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "SubAVX2 computes z[i] = x[i] − y[i] for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VSUBPS %d(DX), %s, %s", off, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "MaxAVX2", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "MaxAVX2 computes z[i] = max(x[i], y[i]), NaN if either is NaN, for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			var u int
			fmt.Sscanf(r, "Y%d", &u)
			t, m := fmt.Sprintf("Y%d", u+4), fmt.Sprintf("Y%d", u+8)
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VMAXPS %d(DX), %s, %s", off, r, t) // x > y ? x : y, y when unordered
			a.f("VCMPPS $3, %s, %s, %s", r, r, m)   // x is NaN
			a.f("VBLENDVPS %s, %s, %s, %s", m, r, t, t)
			a.f("VMOVUPS %s, %d(DI)", t, off)
		},
	},
	{
		name: "MulAVX2", sig: "n int, x, y, z *float32", frame: "$0-32",
		doc:  "MulAVX2 computes z[i] = x[i] · y[i] for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DX", "MOVQ z+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VMULPS %d(DX), %s, %s", off, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "ScaleAVX2", sig: "n int, alpha float32, x, y *float32", frame: "$0-32",
		doc:   "ScaleAVX2 computes y[i] = alpha · x[i] for i < n; n must be a multiple of 8.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS alpha+8(FP), Y14"},
		body: func(a *asm, off int, r string) {
			a.f("VMULPS %d(SI), Y14, %s", off, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "ReluAVX2", sig: "n int, x, y *float32", frame: "$0-24",
		doc:  "ReluAVX2 computes y[i] = 0 if x[i] < 0, else x[i] (NaN passes through) for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ y+16(FP), DI"},
		body: func(a *asm, off int, r string) {
			// MAXPS returns its second source when either is NaN, and
			// the first only when it is strictly greater: 0 > x ? 0 : x.
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VMAXPS %s, Y15, %s", r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "ClampAVX2", sig: "n int, lo, hi float32, x, y *float32", frame: "$0-32",
		doc:   "ClampAVX2 computes y[i] = min(max(x[i], lo), hi) with Go's min and max (NaN passes through; of two equal zeros max gives +0, min −0) for i < n; lo and hi must not be NaN; n must be a multiple of 8.",
		load:  []string{"MOVQ x+16(FP), SI", "MOVQ y+24(FP), DI"},
		setup: []string{"VBROADCASTSS lo+8(FP), Y14", "VBROADCASTSS hi+12(FP), Y13"},
		body: func(a *asm, off int, r string) {
			var u int
			fmt.Sscanf(r, "Y%d", &u)
			t, m := fmt.Sprintf("Y%d", u+4), fmt.Sprintf("Y%d", u+8)
			// MAXPS and MINPS return their second source when either is
			// NaN or the two are equal; equal zeros then take the AND
			// (max) or OR (min) of the two, as Go's max and min do.
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VMAXPS %s, Y14, %s", r, t)     // t = lo > x ? lo : x
			a.f("VCMPPS $0, Y14, %s, %s", r, m) // x == lo, ordered
			a.f("VANDPS Y14, %s, %s", r, r)
			a.f("VBLENDVPS %s, %s, %s, %s", m, r, t, t)
			a.f("VMINPS %s, Y13, %s", t, r)     // r = hi < t ? hi : t
			a.f("VCMPPS $0, Y13, %s, %s", t, m) // t == hi, ordered
			a.f("VORPS Y13, %s, %s", t, t)
			a.f("VBLENDVPS %s, %s, %s, %s", m, t, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
	{
		name: "ReluGradAVX2", sig: "n int, x, dy, dx *float32", frame: "$0-32",
		doc:  "ReluGradAVX2 computes dx[i] = dy[i] if x[i] > 0, else 0, for i < n; n must be a multiple of 8.",
		load: []string{"MOVQ x+8(FP), SI", "MOVQ dy+16(FP), DX", "MOVQ dx+24(FP), DI"},
		body: func(a *asm, off int, r string) {
			a.f("VMOVUPS %d(SI), %s", off, r)
			a.f("VCMPPS $0x1e, Y15, %s, %s", r, r) // x > 0, ordered
			a.f("VANDPS %d(DX), %s, %s", off, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, off)
		},
	},
}

func genElementwiseAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, e := range elementwiseKernels {
		fmt.Fprintf(&a.Buffer, "\n// func %s(%s)\n", e.name, e.sig)
		fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, %s\n", e.name, e.frame)
		a.f("MOVQ n+0(FP), CX")
		for _, s := range e.load {
			a.f("%s", s)
		}
		for _, s := range e.setup {
			a.f("%s", s)
		}
		a.f("VXORPS Y15, Y15, Y15")
		l := e.name
		a.f("CMPQ CX, $32")
		a.f("JLT %s_tail", l)
		a.label(l + "_loop")
		for u := 0; u < 4; u++ {
			e.body(&a, u*32, fmt.Sprintf("Y%d", u))
		}
		advance(&a, e, 128)
		a.f("SUBQ $32, CX")
		a.f("CMPQ CX, $32")
		a.f("JGE %s_loop", l)
		a.label(l + "_tail")
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_done", l)
		a.label(l + "_one")
		e.body(&a, 0, "Y0")
		advance(&a, e, 32)
		a.f("SUBQ $8, CX")
		a.f("JNE %s_one", l)
		a.label(l + "_done")
		a.f("VZEROUPPER")
		a.f("RET")
	}
	genSum(&a)
	genDepthwiseTile(&a)
	genDepthwiseWGrad(&a)
	genIndirectB(&a)
	genDotIndirect(&a)
	genMaxPoolBack(&a)
	return a.Bytes()
}

// advance moves every pointer register an elementwise kernel loaded.
func advance(a *asm, e elementwise, by int) {
	for _, s := range e.load {
		reg := s[strings.LastIndex(s, " ")+1:]
		a.f("ADDQ $%d, %s", by, reg)
	}
}

// genSum writes func SumAVX2(n int, x *float32) float32, four vector
// accumulators then a fixed-order horizontal reduction.
func genSum(a *asm) {
	a.raw("\n// func SumAVX2(n int, x *float32) float32\n")
	a.raw("TEXT ·SumAVX2(SB), NOSPLIT, $0-20\n")
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ x+8(FP), SI")
	for r := 0; r < 4; r++ {
		a.f("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	a.f("CMPQ CX, $32")
	a.f("JLT sum_tail")
	a.label("sum_loop")
	for r := 0; r < 4; r++ {
		a.f("VADDPS %d(SI), Y%d, Y%d", r*32, r, r)
	}
	a.f("ADDQ $128, SI")
	a.f("SUBQ $32, CX")
	a.f("CMPQ CX, $32")
	a.f("JGE sum_loop")
	a.label("sum_tail")
	a.f("TESTQ CX, CX")
	a.f("JEQ sum_reduce")
	a.label("sum_one")
	a.f("VADDPS (SI), Y0, Y0")
	a.f("ADDQ $32, SI")
	a.f("SUBQ $8, CX")
	a.f("JNE sum_one")
	a.label("sum_reduce")
	a.f("VADDPS Y1, Y0, Y0")
	a.f("VADDPS Y3, Y2, Y2")
	a.f("VADDPS Y2, Y0, Y0")
	a.f("VEXTRACTF128 $1, Y0, X1")
	a.f("VADDPS X1, X0, X0")
	a.f("VMOVHLPS X0, X0, X1")
	a.f("VADDPS X1, X0, X0")
	a.f("VMOVSHDUP X0, X1")
	a.f("VADDSS X1, X0, X0")
	a.f("VMOVSS X0, ret+16(FP)")
	a.f("VZEROUPPER")
	a.f("RET")
}
