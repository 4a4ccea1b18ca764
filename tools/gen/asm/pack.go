package main

import (
	"bytes"
	"fmt"
)

// genPackAsm writes PackA12AVX2, the transposition that packs 12 rows of
// A (a row-major block read in place) into the 12-row k-major panel of
// the AVX-512 tier's 12×32 SGEMM microkernel:
//
//	d[p·12 + i] = a[i·lda + p]   for i < 12, p < 8·np
//
// eight columns p at a time: twelve 8-float loads, an 8×8 transposition
// of rows 0–7 (unpack, shuffle, lane permute) and a 4×8 one of rows 8–11,
// then each p's 12 floats stored as one 8-float and one 4-float store.
// It moves floats, so its output equals packA's Go loop bit for bit.
// AVX2 only (Y registers), so that it also serves the AVX-512 tier's
// stand-ins on AVX2 machines.
func genPackAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	a.raw("\n// func PackA12AVX2(np int, a *float32, lda int, d *float32)\n")
	a.raw("TEXT ·PackA12AVX2(SB), NOSPLIT, $0-32\n")
	a.f("MOVQ np+0(FP), CX")
	a.f("MOVQ a+8(FP), SI")
	a.f("MOVQ lda+16(FP), R8")
	a.f("SHLQ $2, R8")
	a.f("MOVQ d+24(FP), DI")
	a.f("LEAQ (R8)(R8*2), R9")   // 3·lda
	a.f("LEAQ (SI)(R9*1), R10")  // row 3
	a.f("LEAQ (R10)(R9*1), R11") // row 6
	a.f("LEAQ (R11)(R9*1), R12") // row 9
	a.f("TESTQ CX, CX")
	a.f("JEQ pack12_done")
	a.label("pack12_loop")
	row := func(i int) string {
		base := [4]string{"SI", "R10", "R11", "R12"}[i/3]
		switch i % 3 {
		case 0:
			return fmt.Sprintf("(%s)", base)
		case 1:
			return fmt.Sprintf("(%s)(R8*1)", base)
		}
		return fmt.Sprintf("(%s)(R8*2)", base)
	}
	y := func(i int) string { return fmt.Sprintf("Y%d", i) }
	// rows 0–7 into Y0–Y7; pairs unpacked into Y8–Y15
	for i := 0; i < 8; i++ {
		a.f("VMOVUPS %s, %s", row(i), y(i))
	}
	for q := 0; q < 4; q++ {
		a.f("VUNPCKLPS %s, %s, %s", y(2*q+1), y(2*q), y(8+2*q))
		a.f("VUNPCKHPS %s, %s, %s", y(2*q+1), y(2*q), y(9+2*q))
	}
	// u[4h+c] (Y0–Y7): rows 4h..4h+3 of columns c and c+4, in the two lanes
	for h := 0; h < 2; h++ {
		t := 8 + 4*h // unpacked rows 4h,4h+1 (lo, hi) at t, t+1; rows 4h+2,4h+3 at t+2, t+3
		a.f("VSHUFPS $0x44, %s, %s, %s", y(t+2), y(t), y(4*h+0))
		a.f("VSHUFPS $0xEE, %s, %s, %s", y(t+2), y(t), y(4*h+1))
		a.f("VSHUFPS $0x44, %s, %s, %s", y(t+3), y(t+1), y(4*h+2))
		a.f("VSHUFPS $0xEE, %s, %s, %s", y(t+3), y(t+1), y(4*h+3))
	}
	// column c: rows 0–7 = lo lanes of u[c], u[4+c]; column c+4: hi lanes
	for c := 0; c < 4; c++ {
		a.f("VPERM2F128 $0x20, %s, %s, Y8", y(4+c), y(c))
		a.f("VPERM2F128 $0x31, %s, %s, Y9", y(4+c), y(c))
		a.f("VMOVUPS Y8, %d(DI)", 48*c)
		a.f("VMOVUPS Y9, %d(DI)", 48*(c+4))
	}
	// rows 8–11
	for i := 0; i < 4; i++ {
		a.f("VMOVUPS %s, %s", row(8+i), y(i))
	}
	a.f("VUNPCKLPS Y1, Y0, Y4")
	a.f("VUNPCKHPS Y1, Y0, Y5")
	a.f("VUNPCKLPS Y3, Y2, Y6")
	a.f("VUNPCKHPS Y3, Y2, Y7")
	a.f("VSHUFPS $0x44, Y6, Y4, Y0")
	a.f("VSHUFPS $0xEE, Y6, Y4, Y1")
	a.f("VSHUFPS $0x44, Y7, Y5, Y2")
	a.f("VSHUFPS $0xEE, Y7, Y5, Y3")
	for c := 0; c < 4; c++ {
		a.f("VMOVUPS X%d, %d(DI)", c, 48*c+32)
		a.f("VEXTRACTF128 $1, %s, %d(DI)", y(c), 48*(c+4)+32)
	}
	for _, r := range []string{"SI", "R10", "R11", "R12"} {
		a.f("ADDQ $32, %s", r)
	}
	a.f("ADDQ $384, DI")
	a.f("DECQ CX")
	a.f("JNE pack12_loop")
	a.label("pack12_done")
	a.f("VZEROUPPER")
	a.f("RET")
	return a.Bytes()
}

func genPackDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString(`//go:build !purego

package amd64

// PackA12AVX2 packs 8·np columns of 12 rows of a row-major block (row
// stride lda floats) into the k-major panel of a 12-row SGEMM
// microkernel: d[p·12+i] = a[i·lda+p] for i < 12, p < 8·np. It needs
// AVX2.
//
//go:noescape
func PackA12AVX2(np int, a *float32, lda int, d *float32)
`)
	return b.Bytes()
}
