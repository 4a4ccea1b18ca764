package main

import (
	"fmt"
	"math"
)

// The Winograd F(4×4, 3×3) transform kernels (see genWinograd4Decls for
// what they compute). Each works on 8 channels per step (n a multiple of
// 8) in two passes through a small scratch buffer t that the caller
// passes: a one-dimensional transform down every column of the patch
// into t, then one along every row of t into the output. Every product
// by 2, 4 or 8 is exact (unless it overflows, beyond about 1e37), so the
// fused multiply-adds that take them round once as the separate operations
// would; the products by other constants are separate multiplications. A
// Go loop doing the same operations in the same order therefore gives the
// same bits.

// f32 returns the assembly immediate of the float32 constant v.
func f32(v float32) string { return fmt.Sprintf("$0x%08x", math.Float32bits(v)) }

// broadcast loads the float32 constant v into all lanes of Yr (through AX).
func broadcast(a *asm, v float32, r int) {
	a.f("MOVL %s, AX", f32(v))
	a.f("VMOVD AX, X%d", r)
	a.f("VBROADCASTSS X%d, Y%d", r, r)
}

// wino4Plan is one F(4×4) transform kernel's loop, for wino4Loop.
type wino4Plan struct {
	prefix     string           // the labels' prefix
	loads      []string         // pass 1: a column's inputs, addressed from AX
	colStep    string           // moves AX to the next column
	cols       int              // the input's columns: pass 2's inputs a row
	oneD       func(*asm) []int // the 1-D transform, inputs in Y0…: its outputs' registers
	scratch    string           // the register holding t
	beforeRows string           // emitted between the passes, if not ""
	perOut     func(*asm, int)  // emitted on each output register before its store, if not nil
	stores     []string         // pass 2: a row's outputs, addressed from AX
	rowStep    []string         // move AX to the next row of outputs
	bumps      []string         // the pointers that advance 8 floats a step
}

// wino4Loop emits the loop of a two-pass transform kernel, 8 channels a
// step, CX counting them down: with AX at SI, the 1-D transform of every
// column of the input into t (its rows the transform's outputs, at (cols·r
// + col)·32 bytes); then, with AX at DI, the transform of every row of t
// into the outputs.
func wino4Loop(a *asm, p wino4Plan) {
	a.label(p.prefix + "_loop")
	a.f("MOVQ SI, AX")
	rows := 0
	for col := 0; col < p.cols; col++ {
		for i, ld := range p.loads {
			a.f("VMOVUPS %s, Y%d", ld, i)
		}
		out := p.oneD(a)
		rows = len(out)
		for r, y := range out {
			a.f("VMOVUPS Y%d, %d(%s)", y, (p.cols*r+col)*32, p.scratch)
		}
		if col < p.cols-1 {
			a.f(p.colStep)
		}
	}
	if p.beforeRows != "" {
		a.f(p.beforeRows)
	}
	a.f("MOVQ DI, AX")
	for r := 0; r < rows; r++ {
		for j := 0; j < p.cols; j++ {
			a.f("VMOVUPS %d(%s), Y%d", (p.cols*r+j)*32, p.scratch, j)
		}
		out := p.oneD(a)
		for q, y := range out {
			if p.perOut != nil {
				p.perOut(a, y)
			}
			a.f("VMOVUPS Y%d, %s", y, p.stores[q])
		}
		if r < rows-1 {
			for _, st := range p.rowStep {
				a.f(st)
			}
		}
	}
	for _, ptr := range p.bumps {
		a.f("ADDQ $32, %s", ptr)
	}
	a.f("SUBQ $8, CX")
	a.f("JNE %s_loop", p.prefix)
	a.label(p.prefix + "_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// wino4In1D emits the 1-D input transform Bᵀ·d of F(4×4, 3×3) on d0..d5
// in Y0–Y5, with 4 in Y13, 2 in Y14 and 5 in Y15:
//
//	t0 = (d4 − 5·d2) + 4·d0    t3 = (d4 − d2) + 2·(d3 − d1)
//	t1 = (d3 + d4) − 4·(d1 + d2)  t4 = (d4 − d2) − 2·(d3 − d1)
//	t2 = (d4 − d3) + 4·(d1 − d2)  t5 = (d5 − 5·d3) + 4·d1
//
// and returns the registers holding t0..t5.
func wino4In1D(a *asm) []int {
	a.f("VADDPS Y2, Y1, Y6")  // p = d1 + d2
	a.f("VADDPS Y4, Y3, Y7")  // q = d3 + d4
	a.f("VSUBPS Y2, Y1, Y8")  // r = d1 − d2
	a.f("VSUBPS Y3, Y4, Y9")  // s = d4 − d3
	a.f("VSUBPS Y1, Y3, Y10") // u = d3 − d1
	a.f("VSUBPS Y2, Y4, Y11") // w = d4 − d2
	a.f("VMULPS Y15, Y2, Y12")
	a.f("VSUBPS Y12, Y4, Y12")
	a.f("VFMADD231PS Y13, Y0, Y12") // t0
	a.f("VMULPS Y15, Y3, Y0")
	a.f("VSUBPS Y0, Y5, Y0")
	a.f("VFMADD231PS Y13, Y1, Y0")  // t5
	a.f("VFNMADD231PS Y13, Y6, Y7") // t1 = q − 4p
	a.f("VFMADD231PS Y13, Y8, Y9")  // t2 = s + 4r
	a.f("VMOVAPS Y11, Y1")
	a.f("VFMADD231PS Y14, Y10, Y1")   // t3 = w + 2u
	a.f("VFNMADD231PS Y14, Y10, Y11") // t4 = w − 2u
	return []int{12, 7, 9, 1, 11, 0}
}

// genWinograd4Input writes Winograd4InputAVX2.
//
// Registers: CX channels left; SI x; R8 xs; R9 rs, R14 3·rs, R15 5·rs; DI
// v; R10 vs, DX 3·vs, BX 5·vs; R11 t; AX the column or V row pointer.
func genWinograd4Input(a *asm) {
	a.raw("\n// func Winograd4InputAVX2(n int, x *float32, xs, rs int, v *float32, vs int, t *float32)\n")
	a.raw("TEXT ·Winograd4InputAVX2(SB), NOSPLIT, $0-56\n")
	broadcast(a, 4, 13)
	broadcast(a, 2, 14)
	broadcast(a, 5, 15)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ x+8(FP), SI")
	a.f("MOVQ xs+16(FP), R8")
	a.f("MOVQ rs+24(FP), R9")
	a.f("MOVQ v+32(FP), DI")
	a.f("MOVQ vs+40(FP), R10")
	a.f("MOVQ t+48(FP), R11")
	a.f("LEAQ (R9)(R9*2), R14")
	a.f("LEAQ (R9)(R9*4), R15")
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("LEAQ (R10)(R10*4), BX")
	a.f("TESTQ CX, CX")
	a.f("JEQ wi4_done")
	wino4Loop(a, wino4Plan{
		prefix:  "wi4",
		loads:   []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(AX)(R14*1)", "(AX)(R9*4)", "(AX)(R15*1)"},
		colStep: "ADDQ R8, AX",
		cols:    6,
		oneD:    wino4In1D,
		scratch: "R11",
		stores:  []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)", "(AX)(DX*1)", "(AX)(R10*4)", "(AX)(BX*1)"},
		rowStep: []string{"LEAQ (AX)(BX*1), AX", "ADDQ R10, AX"},
		bumps:   []string{"SI", "DI"},
	})
}

// wino4Out1D emits the 1-D output transform Aᵀ·m of F(4×4, 3×3) on m0..m5
// in Y0–Y5, with 2 in Y12, 4 in Y13 and 8 in Y14:
//
//	a = m1 + m2, b = m1 − m2, c = m3 + m4, d = m3 − m4
//	y0 = (m0 + a) + c, y1 = b + 2·d, y2 = a + 4·c, y3 = (b + 8·d) + m5
//
// and returns the registers holding y0..y3.
func wino4Out1D(a *asm) []int {
	a.f("VADDPS Y2, Y1, Y6")
	a.f("VSUBPS Y2, Y1, Y7")
	a.f("VADDPS Y4, Y3, Y8")
	a.f("VSUBPS Y4, Y3, Y9")
	a.f("VADDPS Y6, Y0, Y10")
	a.f("VADDPS Y8, Y10, Y10")      // y0
	a.f("VMOVAPS Y7, Y11")          //
	a.f("VFMADD231PS Y12, Y9, Y11") // y1
	a.f("VFMADD231PS Y13, Y8, Y6")  // y2
	a.f("VFMADD231PS Y14, Y9, Y7")  //
	a.f("VADDPS Y5, Y7, Y7")        // y3
	return []int{10, 11, 6, 7}
}

// outputTransformArgs loads the arguments of an output transform kernel
// (n, m, ms, y, ys, rs, b, t) into CX, SI, R13, DI, R10, BX, DX and R14,
// and 6·ms, 18·ms and 30·ms into R8, R9 and R12.
func outputTransformArgs(a *asm) {
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ m+8(FP), SI")
	a.f("MOVQ ms+16(FP), R13")
	a.f("MOVQ y+24(FP), DI")
	a.f("MOVQ ys+32(FP), R10")
	a.f("MOVQ rs+40(FP), BX")
	a.f("MOVQ b+48(FP), DX")
	a.f("MOVQ t+56(FP), R14")
	a.f("LEAQ (R13)(R13*2), R8") // 3·ms
	a.f("ADDQ R8, R8")           // 6·ms
	a.f("LEAQ (R8)(R8*2), R9")   // 18·ms
	a.f("LEAQ (R8)(R8*4), R12")  // 30·ms
}

// genWinograd4Output writes Winograd4OutputAVX2.
//
// Registers: CX channels left; SI m; R13 ms, R8 6·ms, R9 18·ms, R12
// 30·ms; DI y; R10 ys, R11 3·ys; BX rs; DX b; R14 t; AX the column or
// output row pointer; Y15 the bias.
func genWinograd4Output(a *asm) {
	a.raw("\n// func Winograd4OutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32, t *float32)\n")
	a.raw("TEXT ·Winograd4OutputAVX2(SB), NOSPLIT, $0-64\n")
	broadcast(a, 2, 12)
	broadcast(a, 4, 13)
	broadcast(a, 8, 14)
	outputTransformArgs(a)
	a.f("LEAQ (R10)(R10*2), R11")
	a.f("TESTQ CX, CX")
	a.f("JEQ wo4_done")
	wino4Loop(a, wino4Plan{
		prefix:     "wo4",
		loads:      []string{"(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)", "(AX)(R8*4)", "(AX)(R12*1)"},
		colStep:    "ADDQ R13, AX",
		cols:       6,
		oneD:       wino4Out1D,
		scratch:    "R14",
		beforeRows: "VMOVUPS (DX), Y15",
		perOut:     func(a *asm, y int) { a.f("VADDPS Y15, Y%d, Y%d", y, y) },
		stores:     []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)", "(AX)(R11*1)"},
		rowStep:    []string{"ADDQ BX, AX"},
		bumps:      []string{"SI", "DI", "DX"},
	})
}

// The constants of the weight transform (G: its rows are ¼·g0, −⅙·(g0 +
// g1 + g2), −⅙·(g0 − g1 + g2), (1/24)·((g0 + 4·g2) + 2·g1), (1/24)·((g0 +
// 4·g2) − 2·g1) and g2) and of its transpose, rounded to float32.
var (
	wino4G6  = float32(1.0 / 6)
	wino4G12 = float32(1.0 / 12)
	wino4G24 = float32(1.0 / 24)
)

// wino4W1D emits the 1-D weight transform G·g of F(4×4, 3×3) on g0..g2 in
// Y0–Y2, with ¼ in Y10, −⅙ in Y11, 4 in Y12, 2 in Y13 and 1/24 in Y14:
//
//	u0 = ¼·g0, s = g0 + g2, u1 = (s + g1)·(−⅙), u2 = (s − g1)·(−⅙),
//	r = g0 + 4·g2, u3 = (r + 2·g1)·(1/24), u4 = (r − 2·g1)·(1/24), u5 = g2
//
// and returns the registers holding u0..u5.
func wino4W1D(a *asm) []int {
	a.f("VMULPS Y10, Y0, Y3")
	a.f("VADDPS Y2, Y0, Y4")
	a.f("VADDPS Y1, Y4, Y5")
	a.f("VMULPS Y11, Y5, Y5")
	a.f("VSUBPS Y1, Y4, Y4")
	a.f("VMULPS Y11, Y4, Y4")
	a.f("VMOVAPS Y0, Y6")
	a.f("VFMADD231PS Y12, Y2, Y6")
	a.f("VMOVAPS Y6, Y7")
	a.f("VFMADD231PS Y13, Y1, Y7")
	a.f("VMULPS Y14, Y7, Y7")
	a.f("VFNMADD231PS Y13, Y1, Y6")
	a.f("VMULPS Y14, Y6, Y6")
	return []int{3, 5, 4, 7, 6, 2}
}

// genWinograd4Weight writes Winograd4WeightAVX2.
//
// Registers: CX lanes left; SI k; R8 ks; DI u; R10 us, DX 3·us, BX 5·us;
// R11 t; AX the tap or U row pointer.
func genWinograd4Weight(a *asm) {
	a.raw("\n// func Winograd4WeightAVX2(n int, k *float32, ks int, u *float32, us int, t *float32)\n")
	a.raw("TEXT ·Winograd4WeightAVX2(SB), NOSPLIT, $0-48\n")
	broadcast(a, 0.25, 10)
	broadcast(a, -wino4G6, 11)
	broadcast(a, 4, 12)
	broadcast(a, 2, 13)
	broadcast(a, wino4G24, 14)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ k+8(FP), SI")
	a.f("MOVQ ks+16(FP), R8")
	a.f("MOVQ u+24(FP), DI")
	a.f("MOVQ us+32(FP), R10")
	a.f("MOVQ t+40(FP), R11")
	a.f("LEAQ (R8)(R8*2), R9") // 3·ks: the next kernel row
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("LEAQ (R10)(R10*4), BX")
	a.f("TESTQ CX, CX")
	a.f("JEQ ww4_done")
	wino4Loop(a, wino4Plan{
		prefix:  "ww4",
		loads:   []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)"}, // taps j, 3 + j, 6 + j
		colStep: "ADDQ R8, AX",
		cols:    3,
		oneD:    wino4W1D,
		scratch: "R11",
		stores:  []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)", "(AX)(DX*1)", "(AX)(R10*4)", "(AX)(BX*1)"},
		rowStep: []string{"LEAQ (AX)(BX*1), AX", "ADDQ R10, AX"},
		bumps:   []string{"SI", "DI"},
	})
}

// genWinograd4Decls writes the Go declarations of the F(4×4, 3×3)
// kernels, appended to genWinogradDecls.
func genWinograd4Decls() string {
	return `
// Winograd4InputAVX2 is the input transform of Winograd F(4×4, 3×3): for
// channels i < n (n a multiple of 8) of a 6×6 patch d[a][b] = x[(a·rs +
// b·xs)/4 + i] (strides in bytes), it writes V = Bᵀ·d·B, element e = 6r + q
// at v[(e·vs)/4 + i], with
//
//	Bᵀ = | 4  0 −5  0  1  0 |
//	     | 0 −4 −4  1  1  0 |
//	     | 0  4 −4 −1  1  0 |
//	     | 0 −2 −1  2  1  0 |
//	     | 0  2 −1 −2  1  0 |
//	     | 0  4  0 −5  0  1 |
//
// each row of Bᵀ applied as t0 = (d4 − 5·d2) + 4·d0, t1 = (d3 + d4) −
// 4·(d1 + d2), t2 = (d4 − d3) + 4·(d1 − d2), t3 = (d4 − d2) + 2·(d3 − d1),
// t4 = (d4 − d2) − 2·(d3 − d1), t5 = (d5 − 5·d3) + 4·d1: first down the
// columns of d into t (36·8 floats of scratch), then along the rows of t.
//
//go:noescape
func Winograd4InputAVX2(n int, x *float32, xs, rs int, v *float32, vs int, t *float32)

// Winograd4OutputAVX2 is the output transform of Winograd F(4×4, 3×3): for
// channels i < n (n a multiple of 8) of the 6×6 products M[e] = m[(e·ms)/4
// + i], it writes Y = Aᵀ·M·A + b[i], output (r, c) at y[(r·rs + c·ys)/4 +
// i] (strides in bytes), with
//
//	Aᵀ = | 1  1  1  1  1  0 |
//	     | 0  1 −1  2 −2  0 |
//	     | 0  1  1  4  4  0 |
//	     | 0  1 −1  8 −8  1 |
//
// applied as a = m1 + m2, b = m1 − m2, c = m3 + m4, d = m3 − m4, y0 = (m0 +
// a) + c, y1 = b + 2·d, y2 = a + 4·c, y3 = (b + 8·d) + m5: first down the
// columns of M into t (24·8 floats of scratch), then along the rows of t,
// the bias added last.
//
//go:noescape
func Winograd4OutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32, t *float32)

// Winograd4WeightAVX2 is the weight transform of Winograd F(4×4, 3×3): for
// lanes i < n (n a multiple of 8) of the 3×3 kernels g[a][b] = k[((3a +
// b)·ks)/4 + i] (stride in bytes), it writes U = G·g·Gᵀ, element e = 6r +
// q at u[(e·us)/4 + i], with
//
//	G = |  1/4     0     0  |
//	    | −1/6  −1/6  −1/6  |
//	    | −1/6   1/6  −1/6  |
//	    | 1/24  1/12   1/6  |
//	    | 1/24 −1/12   1/6  |
//	    |    0     0     1  |
//
// applied as u0 = ¼·g0, s = g0 + g2, u1 = (s + g1)·(−⅙), u2 = (s −
// g1)·(−⅙), r = g0 + 4·g2, u3 = (r + 2·g1)·(1/24), u4 = (r − 2·g1)·(1/24),
// u5 = g2 (−⅙ and 1/24 rounded to float32): first down the columns of g
// into t (18·8 floats of scratch), then along the rows of t.
//
//go:noescape
func Winograd4WeightAVX2(n int, k *float32, ks int, u *float32, us int, t *float32)
`
}

// wino4DY1D emits A·y, the transpose of the output transform, on y0..y3
// in Y0–Y3, with 2 in Y13, 4 in Y14 and 8 in Y15:
//
//	a = y0 + y2, b = y1 + y3, c = y0 + 4·y2, d = 2·y1 + 8·y3
//	z0 = y0, z1 = a + b, z2 = a − b, z3 = c + d, z4 = c − d, z5 = y3
//
// and returns the registers holding z0..z5.
func wino4DY1D(a *asm) []int {
	a.f("VADDPS Y2, Y0, Y4")
	a.f("VADDPS Y3, Y1, Y5")
	a.f("VMOVAPS Y0, Y6")
	a.f("VFMADD231PS Y14, Y2, Y6")
	a.f("VMULPS Y13, Y1, Y7")
	a.f("VFMADD231PS Y15, Y3, Y7")
	a.f("VADDPS Y5, Y4, Y8")
	a.f("VSUBPS Y5, Y4, Y9")
	a.f("VADDPS Y7, Y6, Y10")
	a.f("VSUBPS Y7, Y6, Y11")
	return []int{0, 8, 9, 10, 11, 3}
}

// genWinograd4DY writes Winograd4DYAVX2.
//
// Registers: CX channels left; SI dy; R8 ys; R9 rs, R14 3·rs; DI m; R10
// ms, DX 3·ms, BX 5·ms; R11 t; AX the column or M row pointer.
func genWinograd4DY(a *asm) {
	a.raw("\n// func Winograd4DYAVX2(n int, y *float32, ys, rs int, m *float32, ms int, t *float32)\n")
	a.raw("TEXT ·Winograd4DYAVX2(SB), NOSPLIT, $0-56\n")
	broadcast(a, 2, 13)
	broadcast(a, 4, 14)
	broadcast(a, 8, 15)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ y+8(FP), SI")
	a.f("MOVQ ys+16(FP), R8")
	a.f("MOVQ rs+24(FP), R9")
	a.f("MOVQ m+32(FP), DI")
	a.f("MOVQ ms+40(FP), R10")
	a.f("MOVQ t+48(FP), R11")
	a.f("LEAQ (R9)(R9*2), R14")
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("LEAQ (R10)(R10*4), BX")
	a.f("TESTQ CX, CX")
	a.f("JEQ wd4_done")
	wino4Loop(a, wino4Plan{
		prefix:  "wd4",
		loads:   []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(AX)(R14*1)"},
		colStep: "ADDQ R8, AX",
		cols:    4,
		oneD:    wino4DY1D,
		scratch: "R11",
		stores:  []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)", "(AX)(DX*1)", "(AX)(R10*4)", "(AX)(BX*1)"},
		rowStep: []string{"LEAQ (AX)(BX*1), AX", "ADDQ R10, AX"},
		bumps:   []string{"SI", "DI"},
	})
}

// wino4GT1D emits Gᵀ·z, the transpose of the weight transform, on z0..z5
// in Y0–Y5, with ¼ in Y12, ⅙ in Y13, 1/12 in Y14 and 1/24 in Y15:
//
//	p = z1 + z2, q = z3 + z4, r = z2 − z1, s = z3 − z4
//	g0 = (¼·z0 − p·⅙) + q·(1/24)
//	g1 = r·⅙ + s·(1/12)
//	g2 = (q·⅙ − p·⅙) + z5
//
// (each product by ⅙, 1/12 or 1/24 rounded on its own) and returns the
// registers holding g0..g2.
func wino4GT1D(a *asm) []int {
	a.f("VADDPS Y2, Y1, Y6")   // p
	a.f("VADDPS Y4, Y3, Y7")   // q
	a.f("VSUBPS Y1, Y2, Y8")   // r
	a.f("VSUBPS Y4, Y3, Y9")   // s
	a.f("VMULPS Y13, Y6, Y6")  // p·⅙
	a.f("VMULPS Y15, Y7, Y10") // q·(1/24)
	a.f("VMULPS Y13, Y7, Y7")  // q·⅙
	a.f("VMULPS Y12, Y0, Y0")  // ¼·z0
	a.f("VSUBPS Y6, Y0, Y0")
	a.f("VADDPS Y10, Y0, Y0") // g0
	a.f("VMULPS Y13, Y8, Y8")
	a.f("VMULPS Y14, Y9, Y9")
	a.f("VADDPS Y9, Y8, Y8") // g1
	a.f("VSUBPS Y6, Y7, Y7")
	a.f("VADDPS Y5, Y7, Y7") // g2
	return []int{0, 8, 7}
}

// genWinograd4GT writes Winograd4WGradAVX2.
//
// Registers: CX lanes left; SI u; R8 us, R9 6·us, R12 18·us, R13 30·us; DI
// w; R10 ws, DX 3·ws; R11 t; AX the column or output row pointer.
func genWinograd4GT(a *asm) {
	a.raw("\n// func Winograd4WGradAVX2(n int, u *float32, us int, w *float32, ws int, t *float32)\n")
	a.raw("TEXT ·Winograd4WGradAVX2(SB), NOSPLIT, $0-48\n")
	broadcast(a, 0.25, 12)
	broadcast(a, wino4G6, 13)
	broadcast(a, wino4G12, 14)
	broadcast(a, wino4G24, 15)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ u+8(FP), SI")
	a.f("MOVQ us+16(FP), R8")
	a.f("MOVQ w+24(FP), DI")
	a.f("MOVQ ws+32(FP), R10")
	a.f("MOVQ t+40(FP), R11")
	a.f("LEAQ (R8)(R8*2), R9")
	a.f("ADDQ R9, R9")          // 6·us
	a.f("LEAQ (R9)(R9*2), R12") // 18·us
	a.f("LEAQ (R9)(R9*4), R13") // 30·us
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("TESTQ CX, CX")
	a.f("JEQ wg4_done")
	wino4Loop(a, wino4Plan{
		prefix:  "wg4",
		loads:   []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(AX)(R12*1)", "(AX)(R9*4)", "(AX)(R13*1)"},
		colStep: "ADDQ R8, AX",
		cols:    6,
		oneD:    wino4GT1D,
		scratch: "R11",
		stores:  []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)"},
		rowStep: []string{"ADDQ DX, AX"},
		bumps:   []string{"SI", "DI"},
	})
}

// genWinograd4GradDecls writes the Go declarations of the F(4×4, 3×3)
// weight-gradient kernels.
func genWinograd4GradDecls() string {
	return `
// Winograd4DYAVX2 is the transpose of Winograd4OutputAVX2, for weight
// gradients: for channels i < n (n a multiple of 8) of a 4×4 tile of
// output gradients y[r][c] = y[(r·rs + c·ys)/4 + i] (strides in bytes), it
// writes A·y·Aᵀ (6×6), element e = 6r + q at m[(e·ms)/4 + i], each
// column and then each row as a = y0 + y2, b = y1 + y3, c = y0 + 4·y2,
// d = 2·y1 + 8·y3, z = (y0, a + b, a − b, c + d, c − d, y3) (t: 24·8
// floats of scratch).
//
//go:noescape
func Winograd4DYAVX2(n int, y *float32, ys, rs int, m *float32, ms int, t *float32)

// Winograd4WGradAVX2 is the transpose of Winograd4WeightAVX2, for weight
// gradients: for lanes i < n (n a multiple of 8) of the 6×6 blocks
// z[e] = u[(e·us)/4 + i] it writes Gᵀ·z·G (3×3), tap k = 3a + b at
// w[(k·ws)/4 + i], each column and then each row as p = z1 + z2, q = z3 +
// z4, r = z2 − z1, s = z3 − z4, g = ((¼·z0 − p·⅙) + q·(1/24), r·⅙ +
// s·(1/12), (q·⅙ − p·⅙) + z5), every product by ⅙, 1/12 and 1/24 (rounded
// to float32) rounded on its own (t: 18·8 floats of scratch).
//
//go:noescape
func Winograd4WGradAVX2(n int, u *float32, us int, w *float32, ws int, t *float32)
`
}

// Winograd F(2×2, 5×5) uses the same six points as F(4×4, 3×3): the same
// input transform Bᵀ (Winograd4InputAVX2), its own output transform (the
// first two rows of powers of the points) and weight transform (five
// powers, the same normalisation).

// wino25Out1D emits Aᵀ·m of F(2×2, 5×5) on m0..m5 in Y0–Y5, with 2 in Y12:
//
//	a = m1 + m2, b = m1 − m2, c = m3 + m4, d = m3 − m4
//	y0 = (m0 + a) + c, y1 = (b + 2·d) + m5
//
// and returns the registers holding y0 and y1.
func wino25Out1D(a *asm) []int {
	a.f("VADDPS Y2, Y1, Y6")
	a.f("VSUBPS Y2, Y1, Y7")
	a.f("VADDPS Y4, Y3, Y8")
	a.f("VSUBPS Y4, Y3, Y9")
	a.f("VADDPS Y6, Y0, Y10")
	a.f("VADDPS Y8, Y10, Y10")
	a.f("VFMADD231PS Y12, Y9, Y7")
	a.f("VADDPS Y5, Y7, Y7")
	return []int{10, 7}
}

// genWinograd25Output writes Winograd25OutputAVX2.
//
// Registers as genWinograd4Output's: CX channels left; SI m; R13 ms, R8
// 6·ms, R9 18·ms, R12 30·ms; DI y; R10 ys; BX rs; DX b; R14 t; Y15 the
// bias.
func genWinograd25Output(a *asm) {
	a.raw("\n// func Winograd25OutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32, t *float32)\n")
	a.raw("TEXT ·Winograd25OutputAVX2(SB), NOSPLIT, $0-64\n")
	broadcast(a, 2, 12)
	outputTransformArgs(a)
	a.f("TESTQ CX, CX")
	a.f("JEQ wo25_done")
	wino4Loop(a, wino4Plan{
		prefix:     "wo25",
		loads:      []string{"(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)", "(AX)(R8*4)", "(AX)(R12*1)"},
		colStep:    "ADDQ R13, AX",
		cols:       6,
		oneD:       wino25Out1D,
		scratch:    "R14",
		beforeRows: "VMOVUPS (DX), Y15",
		perOut:     func(a *asm, y int) { a.f("VADDPS Y15, Y%d, Y%d", y, y) },
		stores:     []string{"(AX)", "(AX)(R10*1)"},
		rowStep:    []string{"ADDQ BX, AX"},
		bumps:      []string{"SI", "DI", "DX"},
	})
}

// wino25W1D emits G·g of F(2×2, 5×5) on g0..g4 in Y0–Y4, with −⅙ in Y10,
// 8 in Y11, 4 in Y12, 16 in Y13, 1/24 in Y14 and ¼ in Y15:
//
//	s = (g0 + g2) + g4, t = g1 + g3, q = (g1 + g1) + 8·g3,
//	p = (g0 + 4·g2) + 16·g4
//	u = (¼·g0, (s + t)·(−⅙), (s − t)·(−⅙), (p + q)·(1/24), (p − q)·(1/24), g4)
//
// and returns the registers holding u0..u5.
func wino25W1D(a *asm) []int {
	a.f("VADDPS Y2, Y0, Y5")
	a.f("VADDPS Y4, Y5, Y5") // s
	a.f("VADDPS Y3, Y1, Y6") // t
	a.f("VADDPS Y6, Y5, Y7")
	a.f("VSUBPS Y6, Y5, Y5")
	a.f("VMULPS Y10, Y7, Y7") // u1
	a.f("VMULPS Y10, Y5, Y5") // u2
	a.f("VADDPS Y1, Y1, Y6")
	a.f("VFMADD231PS Y11, Y3, Y6") // q
	a.f("VMOVAPS Y0, Y8")
	a.f("VFMADD231PS Y12, Y2, Y8")
	a.f("VFMADD231PS Y13, Y4, Y8") // p
	a.f("VADDPS Y6, Y8, Y9")
	a.f("VMULPS Y14, Y9, Y9") // u3
	a.f("VSUBPS Y6, Y8, Y8")
	a.f("VMULPS Y14, Y8, Y8") // u4
	a.f("VMULPS Y15, Y0, Y0") // u0
	return []int{0, 7, 5, 9, 8, 4}
}

// genWinograd25Weight writes Winograd25WeightAVX2.
//
// Registers: CX lanes left; SI k; R8 ks, R9 5·ks, R12 15·ks; DI u; R10 us,
// DX 3·us, BX 5·us; R11 t; AX the tap or U row pointer.
func genWinograd25Weight(a *asm) {
	a.raw("\n// func Winograd25WeightAVX2(n int, k *float32, ks int, u *float32, us int, t *float32)\n")
	a.raw("TEXT ·Winograd25WeightAVX2(SB), NOSPLIT, $0-48\n")
	broadcast(a, -wino4G6, 10)
	broadcast(a, 8, 11)
	broadcast(a, 4, 12)
	broadcast(a, 16, 13)
	broadcast(a, wino4G24, 14)
	broadcast(a, 0.25, 15)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ k+8(FP), SI")
	a.f("MOVQ ks+16(FP), R8")
	a.f("MOVQ u+24(FP), DI")
	a.f("MOVQ us+32(FP), R10")
	a.f("MOVQ t+40(FP), R11")
	a.f("LEAQ (R8)(R8*4), R9")  // 5·ks: the next kernel row
	a.f("LEAQ (R9)(R9*2), R12") // 15·ks
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("LEAQ (R10)(R10*4), BX")
	a.f("TESTQ CX, CX")
	a.f("JEQ ww25_done")
	wino4Loop(a, wino4Plan{
		prefix:  "ww25",
		loads:   []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(AX)(R12*1)", "(AX)(R9*4)"}, // taps j, 5 + j, …, 20 + j
		colStep: "ADDQ R8, AX",
		cols:    5,
		oneD:    wino25W1D,
		scratch: "R11",
		stores:  []string{"(AX)", "(AX)(R10*1)", "(AX)(R10*2)", "(AX)(DX*1)", "(AX)(R10*4)", "(AX)(BX*1)"},
		rowStep: []string{"LEAQ (AX)(BX*1), AX", "ADDQ R10, AX"},
		bumps:   []string{"SI", "DI"},
	})
}

// genWinograd25Decls writes the Go declarations of the F(2×2, 5×5)
// kernels.
func genWinograd25Decls() string {
	return `
// Winograd25OutputAVX2 is the output transform of Winograd F(2×2, 5×5),
// which shares F(4×4, 3×3)'s six points and input transform
// (Winograd4InputAVX2): for channels i < n (n a multiple of 8) of the 6×6
// products M[e] = m[(e·ms)/4 + i], it writes Y = Aᵀ·M·A + b[i], output
// (r, c) at y[(r·rs + c·ys)/4 + i] (strides in bytes), with
//
//	Aᵀ = | 1  1  1  1  1  0 |
//	     | 0  1 −1  2 −2  1 |
//
// applied as a = m1 + m2, b = m1 − m2, c = m3 + m4, d = m3 − m4, y0 = (m0 +
// a) + c, y1 = (b + 2·d) + m5, down the columns of M into t (12·8 floats
// of scratch) and then along its rows, the bias added last.
//
//go:noescape
func Winograd25OutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32, t *float32)

// Winograd25WeightAVX2 is the weight transform of Winograd F(2×2, 5×5):
// for lanes i < n (n a multiple of 8) of the 5×5 kernels g[a][b] =
// k[((5a + b)·ks)/4 + i] (stride in bytes), it writes U = G·g·Gᵀ, element
// e = 6r + q at u[(e·us)/4 + i], with
//
//	G = |  1/4     0     0     0     0  |
//	    | −1/6  −1/6  −1/6  −1/6  −1/6  |
//	    | −1/6   1/6  −1/6   1/6  −1/6  |
//	    | 1/24  1/12   1/6   1/3   2/3  |
//	    | 1/24 −1/12   1/6  −1/3   2/3  |
//	    |    0     0     0     0     1  |
//
// applied as s = (g0 + g2) + g4, t = g1 + g3, q = (g1 + g1) + 8·g3, p =
// (g0 + 4·g2) + 16·g4, u = (¼·g0, (s + t)·(−⅙), (s − t)·(−⅙), (p +
// q)·(1/24), (p − q)·(1/24), g4) (−⅙ and 1/24 rounded to float32), down
// the columns of g into t (30·8 floats of scratch) and then along its
// rows.
//
//go:noescape
func Winograd25WeightAVX2(n int, k *float32, ks int, u *float32, us int, t *float32)
`
}
