package main

import (
	"bytes"
)

// genWinogradAsm writes the Winograd F(2×2, 3×3) transform kernels (see
// genWinogradDecls for what they compute). Both work on 8 channels per
// step, n a multiple of 8; every output is two (input) or three (output)
// roundings in a fixed order, so a Go loop doing the same operations gives
// the same bits.
func genWinogradAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	genWinogradInput(&a)
	genWinogradOutput(&a)
	genWinograd4Input(&a)
	genWinograd4Output(&a)
	genWinograd4Weight(&a)
	genWinograd4DY(&a)
	genWinograd4GT(&a)
	genWinograd25Output(&a)
	genWinograd25Weight(&a)
	return a.Bytes()
}

// genWinogradInput writes WinogradInputAVX2.
//
// Registers: CX channels left; SI, R11, R12, R13 input rows 0–3 of the
// patch; R8 xs, R14 3·xs; DI V; R10 vs, DX 3·vs, BX 4·vs; AX the V row.
// Row r of Bᵀ·d is one input row minus or plus another (the second a
// memory operand), into Y0–Y3 (or Y8–Y11); its four outputs go to Y4–Y7
// (or Y12–Y15) and are stored.
func genWinogradInput(a *asm) {
	a.raw("\n// func WinogradInputAVX2(n int, x *float32, xs, rs int, v *float32, vs int)\n")
	a.raw("TEXT ·WinogradInputAVX2(SB), NOSPLIT, $0-48\n")
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ x+8(FP), SI")
	a.f("MOVQ xs+16(FP), R8")
	a.f("MOVQ rs+24(FP), R9")
	a.f("MOVQ v+32(FP), DI")
	a.f("MOVQ vs+40(FP), R10")
	a.f("LEAQ (R8)(R8*2), R14")
	a.f("LEAQ (R10)(R10*2), DX")
	a.f("LEAQ (R10*4), BX")
	a.f("LEAQ (SI)(R9*1), R11")
	a.f("LEAQ (R11)(R9*1), R12")
	a.f("LEAQ (R12)(R9*1), R13")
	a.f("TESTQ CX, CX")
	a.f("JEQ wi_done")
	rows := []string{"SI", "R11", "R12", "R13"}
	col := func(row string, b int) string {
		switch b {
		case 0:
			return "(" + row + ")"
		case 1:
			return "(" + row + ")(R8*1)"
		case 2:
			return "(" + row + ")(R8*2)"
		}
		return "(" + row + ")(R14*1)"
	}
	// Bᵀ row r: rows[p] op rows[q]
	type comb struct {
		p, q int
		op   string
	}
	bt := []comb{{0, 2, "VSUBPS"}, {1, 2, "VADDPS"}, {2, 1, "VSUBPS"}, {1, 3, "VSUBPS"}}
	a.label("wi_loop")
	a.f("MOVQ DI, AX")
	for r, c := range bt {
		t, o := 0, 4 // Y registers of t_b and of the outputs
		if r%2 == 1 {
			t, o = 8, 12
		}
		for b := 0; b < 4; b++ {
			a.f("VMOVUPS %s, Y%d", col(rows[c.p], b), t+b)
			a.f("%s %s, Y%d, Y%d", c.op, col(rows[c.q], b), t+b, t+b)
		}
		// (t·B)[q]: t0 − t2, t1 + t2, t2 − t1, t1 − t3
		a.f("VSUBPS Y%d, Y%d, Y%d", t+2, t, o)
		a.f("VADDPS Y%d, Y%d, Y%d", t+2, t+1, o+1)
		a.f("VSUBPS Y%d, Y%d, Y%d", t+1, t+2, o+2)
		a.f("VSUBPS Y%d, Y%d, Y%d", t+3, t+1, o+3)
		a.f("VMOVUPS Y%d, (AX)", o)
		a.f("VMOVUPS Y%d, (AX)(R10*1)", o+1)
		a.f("VMOVUPS Y%d, (AX)(R10*2)", o+2)
		a.f("VMOVUPS Y%d, (AX)(DX*1)", o+3)
		if r < 3 {
			a.f("ADDQ BX, AX")
		}
	}
	for _, r := range append(rows, "DI") {
		a.f("ADDQ $32, %s", r)
	}
	a.f("SUBQ $8, CX")
	a.f("JNE wi_loop")
	a.label("wi_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genWinogradOutput writes WinogradOutputAVX2.
//
// Registers: CX channels left; SI M; R8 ms, R9 3·ms, BX 4·ms; DI y; R10
// ys; R11 rs; DX b; AX the M row, then the second output row. Y0–Y3 hold
// row 0 of Aᵀ·M, Y4–Y7 row 1, Y8 the bias, Y9–Y12 the outputs.
func genWinogradOutput(a *asm) {
	a.raw("\n// func WinogradOutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32)\n")
	a.raw("TEXT ·WinogradOutputAVX2(SB), NOSPLIT, $0-56\n")
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ m+8(FP), SI")
	a.f("MOVQ ms+16(FP), R8")
	a.f("MOVQ y+24(FP), DI")
	a.f("MOVQ ys+32(FP), R10")
	a.f("MOVQ rs+40(FP), R11")
	a.f("MOVQ b+48(FP), DX")
	a.f("LEAQ (R8)(R8*2), R9")
	a.f("LEAQ (R8*4), BX")
	a.f("TESTQ CX, CX")
	a.f("JEQ wo_done")
	col := func(j int) string {
		return [...]string{"(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)"}[j]
	}
	a.label("wo_loop")
	// s0_j = (M0j + M1j) + M2j, s1_j = (M1j − M2j) − M3j
	a.f("MOVQ SI, AX")
	for j := 0; j < 4; j++ {
		a.f("VMOVUPS %s, Y%d", col(j), j)
	}
	a.f("ADDQ BX, AX")
	for j := 0; j < 4; j++ {
		a.f("VADDPS %s, Y%d, Y%d", col(j), j, j)
		a.f("VMOVUPS %s, Y%d", col(j), 4+j)
	}
	a.f("ADDQ BX, AX")
	for j := 0; j < 4; j++ {
		a.f("VADDPS %s, Y%d, Y%d", col(j), j, j)
		a.f("VSUBPS %s, Y%d, Y%d", col(j), 4+j, 4+j)
	}
	a.f("ADDQ BX, AX")
	for j := 0; j < 4; j++ {
		a.f("VSUBPS %s, Y%d, Y%d", col(j), 4+j, 4+j)
	}
	a.f("VMOVUPS (DX), Y8")
	// y_r0 = ((s_r0 + s_r1) + s_r2) + b, y_r1 = ((s_r1 − s_r2) − s_r3) + b
	for r := 0; r < 2; r++ {
		s := 4 * r
		y0, y1 := 9+2*r, 10+2*r
		a.f("VADDPS Y%d, Y%d, Y%d", s+1, s, y0)
		a.f("VADDPS Y%d, Y%d, Y%d", s+2, y0, y0)
		a.f("VADDPS Y8, Y%d, Y%d", y0, y0)
		a.f("VSUBPS Y%d, Y%d, Y%d", s+2, s+1, y1)
		a.f("VSUBPS Y%d, Y%d, Y%d", s+3, y1, y1)
		a.f("VADDPS Y8, Y%d, Y%d", y1, y1)
	}
	a.f("VMOVUPS Y9, (DI)")
	a.f("VMOVUPS Y10, (DI)(R10*1)")
	a.f("LEAQ (DI)(R11*1), AX")
	a.f("VMOVUPS Y11, (AX)")
	a.f("VMOVUPS Y12, (AX)(R10*1)")
	for _, r := range []string{"SI", "DI", "DX"} {
		a.f("ADDQ $32, %s", r)
	}
	a.f("SUBQ $8, CX")
	a.f("JNE wo_loop")
	a.label("wo_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genWinogradDecls writes the Go declarations of the Winograd kernels.
func genWinogradDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString(`//go:build !purego

package amd64

// WinogradInputAVX2 is the input transform of Winograd F(2×2, 3×3): for
// channels i < n (n a multiple of 8) of a 4×4 patch d[a][b] = x[(a·rs +
// b·xs)/4 + i] (strides in bytes), it writes V = Bᵀ·d·B, element e = 4r + q
// at v[(e·vs)/4 + i], with
//
//	Bᵀ = | 1  0 −1  0 |
//	     | 0  1  1  0 |
//	     | 0 −1  1  0 |
//	     | 0  1  0 −1 |
//
// computed as t[b] = d[p][b] ± d[q][b] for Bᵀ's row r, then V[r][q] =
// t0 − t2, t1 + t2, t2 − t1, t1 − t3.
//
//go:noescape
func WinogradInputAVX2(n int, x *float32, xs, rs int, v *float32, vs int)

// WinogradOutputAVX2 is the output transform of Winograd F(2×2, 3×3): for
// channels i < n (n a multiple of 8) of the 4×4 products M[e] = m[(e·ms)/4
// + i], it writes Y = Aᵀ·M·A + b[i], output (r, c) at y[(r·rs + c·ys)/4 +
// i] (strides in bytes), with
//
//	Aᵀ = | 1  1  1  0 |
//	     | 0  1 −1 −1 |
//
// computed as s0_j = (M0j + M1j) + M2j, s1_j = (M1j − M2j) − M3j, then
// Y[r][0] = ((s_r0 + s_r1) + s_r2) + b, Y[r][1] = ((s_r1 − s_r2) − s_r3) + b.
//
//go:noescape
func WinogradOutputAVX2(n int, m *float32, ms int, y *float32, ys, rs int, b *float32)
`)
	b.WriteString(genWinograd4Decls())
	b.WriteString(genWinograd4GradDecls())
	b.WriteString(genWinograd25Decls())
	return b.Bytes()
}
