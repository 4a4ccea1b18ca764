package main

import (
	"bytes"
	"fmt"
	"strings"
)

// Convolution kernels for layers with few input channels (conv_amd64.s):
// a forward kernel that walks a whole output row, and weight-gradient
// kernels that keep up to 6 taps × 16 filters of sums in registers over
// rows of pixels.

// convRowMaxTaps is the largest tap group of the weight-gradient kernels.
const convRowMaxTaps = 6

func genConvAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, k := range convRowKernels {
		genConvRow(&a, k)
	}
	for _, k := range convWGradKernels {
		for r := 1; r <= convRowMaxTaps; r++ {
			genConvWGrad(&a, k, r)
		}
	}
	genColSum(&a, 4)
	genColSum(&a, 1)
	genDotRows(&a)
	genDotRows512(&a)
	genConvGather(&a)
	return a.Bytes()
}

// genConvGather writes
//
//	func ConvGatherAVX2x6x16(nkr, kc int, x *float32, poff, roff *int, b, bias, y *float32, ldy, np int)
//
// Registers: AX, BX, SI, R8, R9, R10 the six pixels' windows in x; R11 the
// offset in them (kernel row start, then +4 per step); R12 the kernel row
// table; R13 kernel rows left; CX steps left in the row; DX the weight
// panel; DI y and R14 ldy at the end. Y0–Y11 accumulate.
func genConvGather(a *asm) {
	a.raw("\n// func ConvGatherAVX2x6x16(nkr, kc int, x *float32, poff, roff *int, b, bias, y *float32, ldy, np int)\n")
	a.raw("TEXT ·ConvGatherAVX2x6x16(SB), NOSPLIT, $0-80\n")
	pix := []string{"AX", "BX", "SI", "R8", "R9", "R10"}
	a.f("MOVQ x+16(FP), DX")
	a.f("MOVQ poff+24(FP), R12")
	for i, r := range pix {
		a.f("MOVQ %d(R12), %s", 8*i, r)
		a.f("ADDQ DX, %s", r)
	}
	a.f("MOVQ bias+48(FP), DI")
	a.f("TESTQ DI, DI")
	a.f("JEQ cg_zero")
	a.f("VMOVUPS (DI), Y0")
	a.f("VMOVUPS 32(DI), Y1")
	for i := 1; i < 6; i++ {
		a.f("VMOVAPS Y0, Y%d", 2*i)
		a.f("VMOVAPS Y1, Y%d", 2*i+1)
	}
	a.f("JMP cg_start")
	a.label("cg_zero")
	for r := 0; r < 12; r++ {
		a.f("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	a.label("cg_start")
	a.f("MOVQ b+40(FP), DX")
	a.f("MOVQ roff+32(FP), R12")
	a.f("MOVQ nkr+0(FP), R13")
	a.f("TESTQ R13, R13")
	a.f("JLE cg_store")
	a.f("CMPQ kc+8(FP), $0")
	a.f("JLE cg_store")
	a.label("cg_krow")
	a.f("MOVQ (R12), R11")
	a.f("MOVQ kc+8(FP), CX")
	a.label("cg_k")
	addrs := make([]string, 6)
	for i, r := range pix {
		addrs[i] = fmt.Sprintf("(%s)(R11*1)", r)
	}
	bcastFMA16(a, "DX", addrs)
	a.f("ADDQ $4, R11")
	a.f("ADDQ $64, DX")
	a.f("DECQ CX")
	a.f("JNE cg_k")
	a.f("ADDQ $8, R12")
	a.f("DECQ R13")
	a.f("JNE cg_krow")
	a.label("cg_store")
	a.f("MOVQ y+56(FP), DI")
	a.f("MOVQ ldy+64(FP), R14")
	a.f("SHLQ $2, R14")
	a.f("MOVQ np+72(FP), BX")
	for i := 0; i < 6; i++ {
		a.f("VMOVUPS Y%d, (DI)", 2*i)
		a.f("VMOVUPS Y%d, 32(DI)", 2*i+1)
		if i < 5 {
			a.f("CMPQ BX, $%d", i+1)
			a.f("JLE cg_done")
			a.f("ADDQ R14, DI")
		}
	}
	a.label("cg_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genDotRows writes
//
//	func DotRowsAVX2x6(np, nk, n int, a *float32, lda int, aoff *int, w *float32, y *float32, ys int)
//
// Registers: BX pixels left; SI the tile's first row of a; R9 lda, R11
// 3·lda, R13 5·lda; CX kernel rows left; R10 the row offset; DX w; R12
// the kernel row's address; AX floats left in it; DI the tile's first y,
// R14 one of them; R8 ys. Pixel i sums into Y(2i) and Y(2i+1) (even and
// odd 8-float steps), reduced at the end.
func genDotRows(a *asm) {
	dotRowsHead(a, "DotRowsAVX2x6", "drow", "VXORPS Y%d, Y%d, Y%d", 12)
	a.f("MOVQ n+16(FP), AX")
	a.f("TESTQ AX, AX")
	a.f("JEQ drow_knext")
	rows := []string{"(R12)", "(R12)(R9*1)", "(R12)(R9*2)", "(R12)(R11*1)", "(R12)(R9*4)", "(R12)(R13*1)"}
	a.label("drow_v")
	a.f("VMOVUPS (DX), Y12")
	a.f("VMOVUPS 32(DX), Y13")
	for i, addr := range rows {
		a.f("VFMADD231PS %s, Y12, Y%d", addr, 2*i)
		a.f("VFMADD231PS 32%s, Y13, Y%d", addr, 2*i+1)
	}
	a.f("ADDQ $64, R12")
	a.f("ADDQ $64, DX")
	a.f("SUBQ $16, AX")
	a.f("JNE drow_v")
	a.label("drow_knext")
	a.f("ADDQ $8, R10")
	a.f("DECQ CX")
	a.f("JNE drow_krow")
	a.label("drow_reduce")
	for i := 0; i < 6; i++ {
		a.f("VADDPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 2*i)
		a.f("VEXTRACTF128 $1, Y%d, X14", 2*i)
		a.f("VADDPS X14, X%d, X%d", 2*i, 2*i)
		a.f("VHADDPS X%d, X%d, X%d", 2*i, 2*i, 2*i)
		a.f("VHADDPS X%d, X%d, X%d", 2*i, 2*i, 2*i)
	}
	a.f("MOVQ DI, R14")
	for i := 0; i < 6; i++ {
		a.f("VMOVSS X%d, (R14)", 2*i)
		if i < 5 {
			a.f("CMPQ BX, $%d", i+1)
			a.f("JLE drow_next")
			a.f("ADDQ R8, R14")
		}
	}
	a.label("drow_next")
	a.f("SUBQ $6, BX")
	a.f("JLE drow_done")
	a.f("ADDQ R13, SI") // a += 6·lda
	a.f("ADDQ R9, SI")
	a.f("LEAQ (R8)(R8*2), R14") // y += 6·ys
	a.f("LEAQ (DI)(R14*2), DI")
	a.f("JMP drow_tile")
	a.label("drow_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// dotRowsHead writes the start of dot-row kernel name, shared by its
// widths: the arguments loaded, label prefix p's tile loop zeroing nacc
// accumulators with instruction zero, and its kernel-row loop up to R12
// holding the kernel row's address.
func dotRowsHead(a *asm, name, p, zero string, nacc int) {
	a.raw("\n// func " + name + "(np, nk, n int, a *float32, lda int, aoff *int, w *float32, y *float32, ys int)\n")
	a.raw("TEXT ·" + name + "(SB), NOSPLIT, $0-72\n")
	a.f("MOVQ np+0(FP), BX")
	a.f("MOVQ a+24(FP), SI")
	a.f("MOVQ lda+32(FP), R9")
	a.f("MOVQ y+56(FP), DI")
	a.f("MOVQ ys+64(FP), R8")
	a.f("LEAQ (R9)(R9*2), R11")
	a.f("LEAQ (R9)(R9*4), R13")
	a.f("TESTQ BX, BX")
	a.f("JLE " + p + "_done")
	a.label(p + "_tile")
	for r := 0; r < nacc; r++ {
		a.f(zero, r, r, r)
	}
	a.f("MOVQ nk+8(FP), CX")
	a.f("MOVQ aoff+40(FP), R10")
	a.f("MOVQ w+48(FP), DX")
	a.f("TESTQ CX, CX")
	a.f("JEQ " + p + "_reduce")
	a.label(p + "_krow")
	a.f("MOVQ (R10), R12")
	a.f("ADDQ SI, R12")
}

// genDotRows512 writes DotRowsAVX2x6 at 16 lanes and 12 pixels:
//
//	func DotRowsAVX512x12(np, nk, n int, a *float32, lda int, aoff *int, w *float32, y *float32, ys int)
//
// Registers as in genDotRows, with R15 the kernel row's address 6 pixels
// on. Pixel i sums into Z(2i) and Z(2i+1) (even and odd 16-float steps; a
// last odd step of 16 goes to the even one), reduced at the end by a
// fixed tree of EVEX instructions (VHADDPS has no EVEX form for Z16 and
// up): halves of 512, 256 and 128 bits, then lanes 2 apart, then 1.
func genDotRows512(a *asm) {
	dotRowsHead(a, "DotRowsAVX512x12", "drz", "VPXORD Z%d, Z%d, Z%d", 24)
	a.f("LEAQ (R12)(R11*2), R15")
	a.f("MOVQ n+16(FP), AX")
	six := []string{"(R12)", "(R12)(R9*1)", "(R12)(R9*2)", "(R12)(R11*1)", "(R12)(R9*4)", "(R12)(R13*1)"}
	var rows []string
	for i := 0; i < 12; i++ {
		r := six[i%6]
		switch {
		case i >= 12:
			r = strings.ReplaceAll(r, "(R12)", "(AX)")
		case i >= 6:
			r = strings.ReplaceAll(r, "(R12)", "(R15)")
		}
		rows = append(rows, r)
	}
	a.label("drz_v")
	a.f("CMPQ AX, $32")
	a.f("JLT drz_half")
	a.f("VMOVUPS (DX), Z24")
	a.f("VMOVUPS 64(DX), Z25")
	for i, addr := range rows {
		a.f("VFMADD231PS %s, Z24, Z%d", addr, 2*i)
		a.f("VFMADD231PS 64%s, Z25, Z%d", addr, 2*i+1)
	}
	a.f("ADDQ $128, R12")
	a.f("ADDQ $128, R15")
	a.f("ADDQ $128, DX")
	a.f("SUBQ $32, AX")
	a.f("JMP drz_v")
	a.label("drz_half")
	a.f("TESTQ AX, AX")
	a.f("JEQ drz_knext")
	a.f("VMOVUPS (DX), Z24")
	for i, addr := range rows {
		a.f("VFMADD231PS %s, Z24, Z%d", addr, 2*i)
	}
	a.f("ADDQ $64, DX")
	a.label("drz_knext")
	a.f("ADDQ $8, R10")
	a.f("DECQ CX")
	a.f("JNE drz_krow")
	a.label("drz_reduce")
	for i := 0; i < 12; i++ {
		e, o := 2*i, 2*i+1
		a.f("VADDPS Z%d, Z%d, Z%d", o, e, e)
		a.f("VEXTRACTF64X4 $1, Z%d, Y%d", e, o)
		a.f("VADDPS Y%d, Y%d, Y%d", o, e, e)
		a.f("VEXTRACTF32X4 $1, Y%d, X%d", e, o)
		a.f("VADDPS X%d, X%d, X%d", o, e, e)
		a.f("VPERMILPS $0x4e, X%d, X%d", e, o)
		a.f("VADDPS X%d, X%d, X%d", o, e, e)
		a.f("VPERMILPS $0xb1, X%d, X%d", e, o)
		a.f("VADDPS X%d, X%d, X%d", o, e, e)
	}
	a.f("MOVQ DI, R14")
	for i := 0; i < 12; i++ {
		a.f("VMOVSS X%d, (R14)", 2*i)
		if i < 11 {
			a.f("CMPQ BX, $%d", i+1)
			a.f("JLE drz_next")
			a.f("ADDQ R8, R14")
		}
	}
	a.label("drz_next")
	a.f("SUBQ $12, BX")
	a.f("JLE drz_done")
	a.f("LEAQ (SI)(R11*4), SI") // a += 12·lda
	a.f("LEAQ (R8)(R8*2), R14") // y += 12·ys
	a.f("LEAQ (DI)(R14*4), DI")
	a.f("JMP drz_tile")
	a.label("drz_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genColSum writes, for v vectors (8·v columns),
//
//	func ColSumAVX2x<8v>(rows int, x *float32, ldx int, acc *float32)
//
// Rows go in pairs into two sets of v accumulators (Y0.. and Y8..), added
// at the end and then to acc. Registers: CX rows left, SI the row, R8 ldx
// in bytes, DI acc.
func genColSum(a *asm, v int) {
	name := fmt.Sprintf("ColSumAVX2x%d", 8*v)
	lbl := fmt.Sprintf("csum%d", 8*v)
	a.raw(fmt.Sprintf("\n// func %s(rows int, x *float32, ldx int, acc *float32)\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-32\n", name))
	a.f("MOVQ rows+0(FP), CX")
	a.f("MOVQ x+8(FP), SI")
	a.f("MOVQ ldx+16(FP), R8")
	a.f("SHLQ $2, R8")
	a.f("MOVQ acc+24(FP), DI")
	for i := 0; i < v; i++ {
		a.f("VXORPS Y%d, Y%d, Y%d", i, i, i)
		a.f("VXORPS Y%d, Y%d, Y%d", 8+i, 8+i, 8+i)
	}
	a.f("CMPQ CX, $2")
	a.f("JLT %s_one", lbl)
	a.label(lbl + "_two")
	for i := 0; i < v; i++ {
		a.f("VADDPS %d(SI), Y%d, Y%d", 32*i, i, i)
		a.f("VADDPS %d(SI)(R8*1), Y%d, Y%d", 32*i, 8+i, 8+i)
	}
	a.f("LEAQ (SI)(R8*2), SI")
	a.f("SUBQ $2, CX")
	a.f("CMPQ CX, $2")
	a.f("JGE %s_two", lbl)
	a.label(lbl + "_one")
	a.f("TESTQ CX, CX")
	a.f("JEQ %s_done", lbl)
	for i := 0; i < v; i++ {
		a.f("VADDPS %d(SI), Y%d, Y%d", 32*i, i, i)
	}
	a.label(lbl + "_done")
	for i := 0; i < v; i++ {
		a.f("VADDPS Y%d, Y%d, Y%d", 8+i, i, i)
		a.f("VADDPS %d(DI), Y%d, Y%d", 32*i, i, i)
		a.f("VMOVUPS Y%d, %d(DI)", i, 32*i)
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

// bcastFMA16 writes the step shared by the 6×16-style kernels: load 16
// floats at (vec) into Y12, Y13, then for each i broadcast the float at
// addrs[i] and accumulate its products with them into Y(2i), Y(2i+1).
func bcastFMA16(a *asm, vec string, addrs []string) { bcastFMA(a, "Y", 8, 2, 12, vec, addrs) }

// convRowKernel is one shape of the row kernel: pix pixels × 16·nv
// filters in reg registers of lanes floats (nv vectors per pixel).
type convRowKernel struct {
	name  string
	reg   string // "Y" or "Z"
	lanes int
	pix   int // 6, 7, 12 or 14
	nv    int
	zero  string
}

var convRowKernels = []convRowKernel{
	{name: "ConvRowAVX2x6x16", reg: "Y", lanes: 8, pix: 6, nv: 2, zero: "VXORPS"},
	{name: "ConvRowAVX512x12x32", reg: "Z", lanes: 16, pix: 12, nv: 2, zero: "VPXORD"},
	// Rows of 14 and 7 pixels (ResNet's 14×14 and 7×7 stages, MNIST's
	// 14×14) in whole tiles: no pixel computed for nothing.
	{name: "ConvRowAVX512x14x32", reg: "Z", lanes: 16, pix: 14, nv: 2, zero: "VPXORD"},
	{name: "ConvRowAVX512x7x32", reg: "Z", lanes: 16, pix: 7, nv: 2, zero: "VPXORD"},
}

func (k convRowKernel) filters() int { return k.lanes * k.nv }

// genConvRow writes
//
//	func <name>(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)
//
// Registers: BX pixels left; SI the tile's first pixel in x; R9 xs, R11
// 3·xs, R13 5·xs; CX taps left; R10 the tap offset; DX the weight panel;
// R12 the tap address (R15 the same 6 pixels on, for 12-pixel tiles);
// R14 bias; DI the tile's first row of y, AX a row of it; R8 ldy in
// bytes. Registers 0..pix·nv−1 accumulate pixel i in i·nv.., the next nv
// hold the weights, the rest take broadcasts in turn.
func genConvRow(a *asm, k convRowKernel) {
	nv, vb := k.nv, k.lanes*4
	nacc := k.pix * nv
	l := strings.ToLower(strings.TrimPrefix(k.name, "Conv"))
	if k.name == "ConvRowAVX2x6x16" {
		l = "crow" // the labels of the first generator
	}
	reg := func(i int) string { return fmt.Sprintf("%s%d", k.reg, i) }
	fmt.Fprintf(&a.Buffer, "\n// func %s(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)\n", k.name)
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-72\n", k.name)
	a.f("MOVQ np+0(FP), BX")
	a.f("MOVQ x+16(FP), SI")
	a.f("MOVQ xs+24(FP), R9")
	a.f("MOVQ bias+48(FP), R14")
	a.f("MOVQ y+56(FP), DI")
	a.f("MOVQ ldy+64(FP), R8")
	a.f("SHLQ $2, R8")
	a.f("LEAQ (R9)(R9*2), R11") // 3·xs
	a.f("LEAQ (R9)(R9*4), R13") // 5·xs
	a.f("TESTQ BX, BX")
	a.f("JLE %s_done", l)
	a.label(l + "_tile")
	a.f("MOVQ nt+8(FP), CX")
	a.f("MOVQ toff+32(FP), R10")
	a.f("MOVQ b+40(FP), DX")
	a.f("TESTQ R14, R14")
	a.f("JEQ %s_zero", l)
	for v := 0; v < nv; v++ {
		a.f("VMOVUPS %s, %s", off(v*vb, "R14"), reg(v))
	}
	for i := 1; i < k.pix; i++ {
		for v := 0; v < nv; v++ {
			a.f("VMOVAPS %s, %s", reg(v), reg(i*nv+v))
		}
	}
	a.f("JMP %s_taps", l)
	a.label(l + "_zero")
	for r := 0; r < nacc; r++ {
		a.f("%s %s, %s, %s", k.zero, reg(r), reg(r), reg(r))
	}
	a.label(l + "_taps")
	a.f("TESTQ CX, CX")
	a.f("JEQ %s_store", l)
	six := []string{"(R12)", "(R12)(R9*1)", "(R12)(R9*2)", "(R12)(R11*1)", "(R12)(R9*4)", "(R12)(R13*1)"}
	var rows []string
	for i := 0; i < k.pix; i++ {
		r := six[i%6]
		switch {
		case i >= 12:
			r = strings.ReplaceAll(r, "(R12)", "(AX)")
		case i >= 6:
			r = strings.ReplaceAll(r, "(R12)", "(R15)")
		}
		rows = append(rows, r)
	}
	a.label(l + "_tap")
	a.f("MOVQ (R10), R12")
	a.f("ADDQ SI, R12")
	if k.pix > 6 {
		a.f("LEAQ (R12)(R11*2), R15") // 6 pixels on
	}
	if k.pix > 12 {
		a.f("LEAQ (R15)(R11*2), AX") // 12 pixels on (AX is free until the store)
	}
	bcastFMA(a, k.reg, k.lanes, nv, nacc, "DX", rows)
	a.f("ADDQ $8, R10")
	a.f("ADDQ $%d, DX", nv*vb)
	a.f("DECQ CX")
	a.f("JNE %s_tap", l)
	// Store the tile's rows that exist (BX of them, at most pix).
	a.label(l + "_store")
	a.f("MOVQ DI, AX")
	for i := 0; i < k.pix; i++ {
		for v := 0; v < nv; v++ {
			a.f("VMOVUPS %s, %s", reg(i*nv+v), off(v*vb, "AX"))
		}
		if i < k.pix-1 {
			a.f("CMPQ BX, $%d", i+1)
			a.f("JLE %s_next", l)
			a.f("ADDQ R8, AX")
		}
	}
	a.label(l + "_next")
	a.f("SUBQ $%d, BX", k.pix)
	a.f("JLE %s_done", l)
	switch k.pix {
	case 6:
		a.f("ADDQ R13, SI") // x += 6·xs
		a.f("ADDQ R9, SI")
		a.f("LEAQ (R8)(R8*2), AX") // y += 6·ldy
		a.f("LEAQ (DI)(AX*2), DI")
	case 7:
		a.f("ADDQ R13, SI") // x += 7·xs
		a.f("LEAQ (SI)(R9*2), SI")
		a.f("LEAQ (R8)(R8*2), AX") // y += 7·ldy
		a.f("LEAQ (DI)(AX*2), DI")
		a.f("ADDQ R8, DI")
	case 12:
		a.f("LEAQ (SI)(R11*4), SI") // x += 12·xs
		a.f("LEAQ (R8)(R8*2), AX")  // y += 12·ldy
		a.f("LEAQ (DI)(AX*4), DI")
	case 14:
		a.f("LEAQ (SI)(R11*4), SI") // x += 14·xs
		a.f("LEAQ (SI)(R9*2), SI")
		a.f("LEAQ (R8)(R8*2), AX") // y += 14·ldy
		a.f("LEAQ (DI)(AX*4), DI")
		a.f("LEAQ (DI)(R8*2), DI")
	default:
		panic("genConvRow: no tile step for this pixel count")
	}
	a.f("JMP %s_tile", l)
	a.label(l + "_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// off writes the address n(r), or (r) for n = 0.
func off(n int, r string) string {
	if n == 0 {
		return "(" + r + ")"
	}
	return fmt.Sprintf("%d(%s)", n, r)
}

// bcastFMA writes one step of a broadcast kernel: load nv vectors of
// weights at (vec) into the registers after the nacc accumulators, then
// for each i broadcast the float at addrs[i] and accumulate its products
// with them into i·nv... Broadcasts take the registers after those in
// turn (two for YMM, all that are left for ZMM).
func bcastFMA(a *asm, reg string, lanes, nv, nacc int, vec string, addrs []string) {
	vb := lanes * 4
	nb := 2
	if reg == "Z" {
		nb = 32 - nacc - nv
	}
	for v := 0; v < nv; v++ {
		a.f("VMOVUPS %s, %s%d", off(v*vb, vec), reg, nacc+v)
	}
	for i, addr := range addrs {
		bc := fmt.Sprintf("%s%d", reg, nacc+nv+i%nb)
		a.f("VBROADCASTSS %s, %s", addr, bc)
		for v := 0; v < nv; v++ {
			a.f("VFMADD231PS %s%d, %s, %s%d", reg, nacc+v, bc, reg, i*nv+v)
		}
	}
}

// convWGradKernel is one width of the weight-gradient kernels: 16·nv
// filters in reg registers of lanes floats.
type convWGradKernel struct {
	prefix string // name without the shape
	lbl    string // label prefix
	reg    string
	lanes  int
	nv     int
	zero   string
}

var convWGradKernels = []convWGradKernel{
	{prefix: "ConvWGradAVX2", lbl: "cwg", reg: "Y", lanes: 8, nv: 2, zero: "VXORPS"},
	{prefix: "ConvWGradAVX512", lbl: "cwgz", reg: "Z", lanes: 16, nv: 2, zero: "VPXORD"},
	// 64 filters: 24 accumulators for 6 taps, 10 loads a pixel for 24
	// fused multiply-adds against 8 for 12 at 32 filters.
	{prefix: "ConvWGradAVX512", lbl: "cwgq", reg: "Z", lanes: 16, nv: 4, zero: "VPXORD"},
}

func (k convWGradKernel) name(r int) string {
	return fmt.Sprintf("%sx%dx%d", k.prefix, r, k.lanes*k.nv)
}

// genConvWGrad writes, for r taps,
//
//	func <prefix>x<r>x<filters>(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int)
//
// Registers: SI, R9, R10, R11, R12, R13 the taps' first pixel in x; AX the
// pixel's byte offset from them; R8 xs; BX the step from a row's end to
// the next row's start (xrs − np·xs); DX dy and R14 dys; CX pixels left in
// the row; the row count is decremented in its argument slot. Registers
// 0..nv·r−1 accumulate r taps × the filters; nv·6.. hold dy.
func genConvWGrad(a *asm, k convWGradKernel, r int) {
	name := k.name(r)
	lbl := fmt.Sprintf("%s%d", k.lbl, r)
	nv, vb := k.nv, k.lanes*4
	reg := func(i int) string { return fmt.Sprintf("%s%d", k.reg, i) }
	a.raw(fmt.Sprintf("\n// func %s(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int)\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-80\n", name))
	taps := []string{"SI", "R9", "R10", "R11", "R12", "R13"}[:r]
	a.f("MOVQ x+16(FP), AX")
	a.f("MOVQ toff+40(FP), DX")
	for i, t := range taps {
		a.f("MOVQ %d(DX), %s", 8*i, t)
		a.f("ADDQ AX, %s", t)
	}
	a.f("MOVQ xs+24(FP), R8")
	a.f("MOVQ np+0(FP), BX")
	a.f("IMULQ R8, BX")
	a.f("NEGQ BX")
	a.f("ADDQ xrs+32(FP), BX")
	a.f("MOVQ dy+48(FP), DX")
	a.f("MOVQ dys+56(FP), R14")
	a.f("XORQ AX, AX")
	for i := 0; i < nv*r; i++ {
		a.f("%s %s, %s, %s", k.zero, reg(i), reg(i), reg(i))
	}
	a.f("CMPQ nr+8(FP), $0")
	a.f("JLE %s_store", lbl)
	a.f("CMPQ np+0(FP), $0")
	a.f("JLE %s_store", lbl)
	a.label(lbl + "_row")
	a.f("MOVQ np+0(FP), CX")
	a.label(lbl + "_pix")
	addrs := make([]string, r)
	for i, t := range taps {
		addrs[i] = fmt.Sprintf("(%s)(AX*1)", t)
	}
	bcastFMA(a, k.reg, k.lanes, nv, nv*convRowMaxTaps, "DX", addrs)
	a.f("ADDQ R8, AX")
	a.f("ADDQ R14, DX")
	a.f("DECQ CX")
	a.f("JNE %s_pix", lbl)
	a.f("ADDQ BX, AX")
	a.f("DECQ nr+8(FP)")
	a.f("JNE %s_row", lbl)
	a.label(lbl + "_store")
	a.f("MOVQ c+64(FP), DI")
	a.f("MOVQ ldc+72(FP), R8")
	a.f("SHLQ $2, R8")
	for i := 0; i < r; i++ {
		for v := 0; v < nv; v++ {
			a.f("VADDPS %s, %s, %s", off(v*vb, "DI"), reg(nv*i+v), reg(nv*i+v))
		}
		for v := 0; v < nv; v++ {
			a.f("VMOVUPS %s, %s", reg(nv*i+v), off(v*vb, "DI"))
		}
		if i < r-1 {
			a.f("ADDQ R8, DI")
		}
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

func genConvDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString(`//go:build !purego

package amd64

// ConvRowAVX2x6x16 computes np output pixels × 16 filters of a
// convolution whose taps come from an offset table, 6 pixels at a time in
// registers. With xs and toff in bytes, for p < np and j < 16:
//
//	y[p·ldy + j] = s + Σ_{t<nt} x[toff[t] + p·xs] · b[t·16 + j]
//
// with s = bias[j], or 0 when bias is nil (fused multiply-adds in t
// order). It reads x for up to 6·⌈np/6⌉ pixels but writes only np rows of
// y; b is a 16-filter panel packed tap-major.
//
//go:noescape
func ConvRowAVX2x6x16(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)

// ConvRowAVX512x12x32 is ConvRowAVX2x6x16 at 12 pixels × 32 filters (ZMM
// registers): for p < np and j < 32, with xs and toff in bytes,
//
//	y[p·ldy + j] = s + Σ_{t<nt} x[toff[t] + p·xs] · b[t·32 + j]
//
// with s = bias[j], or 0 when bias is nil (fused multiply-adds in t
// order). It reads x for up to 12·⌈np/12⌉ pixels but writes only np rows
// of y; b is a 32-filter panel packed tap-major.
//
//go:noescape
func ConvRowAVX512x12x32(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)

// ConvRowAVX512x14x32 is ConvRowAVX512x12x32 in tiles of 14 pixels: it
// reads x for up to 14·⌈np/14⌉ pixels.
//
//go:noescape
func ConvRowAVX512x14x32(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)

// ConvRowAVX512x7x32 is ConvRowAVX512x12x32 in tiles of 7 pixels: it
// reads x for up to 7·⌈np/7⌉ pixels.
//
//go:noescape
func ConvRowAVX512x7x32(np, nt int, x *float32, xs int, toff *int, b, bias, y *float32, ldy int)
`)
	b.WriteString(`
// DotRowsAVX2x6 computes np dot products over nk kernel rows of n floats
// (n a multiple of 16), 6 at a time in registers. With lda, aoff and ys in
// bytes, for p < np:
//
//	y[p·ys] = Σ_{k<nk} Σ_{v<n} a[aoff[k] + p·lda + v] · w[k·n + v]
//
// (even and odd 8-float steps summed apart, then the lanes reduced). It
// reads a for up to 6·⌈np/6⌉ pixels but writes only np values of y: the
// backward-data pass of a convolution with few input channels, over
// rows of its padded output gradient.
//
//go:noescape
func DotRowsAVX2x6(np, nk, n int, a *float32, lda int, aoff *int, w *float32, y *float32, ys int)

// DotRowsAVX512x12 is DotRowsAVX2x6 at 12 pixels and 16 lanes (ZMM
// registers; n a multiple of 16): for p < np, with lda, aoff and ys in
// bytes,
//
//	y[p·ys] = Σ_{k<nk} Σ_{v<n} a[aoff[k] + p·lda + v] · w[k·n + v]
//
// with the products of lane l of even and odd 16-float steps summed
// apart by fused multiply-adds (a last step of 16 into the even sums),
// then, s_l = even_l + odd_l, t_l = s_l + s_(l+8), u_l = t_l + t_(l+4),
// y = (u_0 + u_2) + (u_1 + u_3). It reads a for up to 12·⌈np/12⌉ pixels
// but writes only np values of y.
//
//go:noescape
func DotRowsAVX512x12(np, nk, n int, a *float32, lda int, aoff *int, w *float32, y *float32, ys int)
`)
	b.WriteString(`
// ConvGatherAVX2x6x16 computes a convolution tile of 6 pixels × 16
// filters in registers over every tap: the pixels' windows start at byte
// offsets poff[i] from x (any 6 pixels: a tile may cross output rows), and
// kernel row r is kc consecutive floats at byte offset roff[r] in each
// window. For i < min(np, 6) and j < 16:
//
//	y[i·ldy + j] = s + Σ_{r<nkr} Σ_{q<kc} x[poff[i] + roff[r] + 4q] · b[(r·kc + q)·16 + j]
//
// with s = bias[j], or 0 when bias is nil (fused multiply-adds in r, q
// order); b is a 16-filter panel packed tap-major.
//
//go:noescape
func ConvGatherAVX2x6x16(nkr, kc int, x *float32, poff, roff *int, b, bias, y *float32, ldy, np int)
`)
	for _, w := range []int{32, 8} {
		fmt.Fprintf(&b, `
// ColSumAVX2x%[1]d adds to acc[j], for j < %[1]d, the column sum of rows
// rows of x (ldx floats apart): even rows and odd rows are summed apart,
// in row order, then added, then added to acc[j].
//
//go:noescape
func ColSumAVX2x%[1]d(rows int, x *float32, ldx int, acc *float32)
`, w)
	}
	for r := 1; r <= convRowMaxTaps; r++ {
		fmt.Fprintf(&b, `
// ConvWGradAVX2x%[1]dx16 accumulates a convolution's weight gradient for
// %[1]d taps × 16 filters in registers over nr rows of np pixels. With x
// strides, toff and dys in bytes, for i < %[1]d and j < 16:
//
//	c[i·ldc + j] += Σ_{q<nr} Σ_{p<np} x[toff[i] + q·xrs + p·xs] · dy[(q·np + p)·dys + j]
//
// (fused multiply-adds in q, p order, then one addition to c).
//
//go:noescape
func ConvWGradAVX2x%[1]dx16(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int)
`, r)
	}
	for r := 1; r <= convRowMaxTaps; r++ {
		fmt.Fprintf(&b, `
// ConvWGradAVX512x%[1]dx32 is ConvWGradAVX2x%[1]dx16 for 32 filters (ZMM
// registers): for i < %[1]d and j < 32,
//
//	c[i·ldc + j] += Σ_{q<nr} Σ_{p<np} x[toff[i] + q·xrs + p·xs] · dy[(q·np + p)·dys + j]
//
// (fused multiply-adds in q, p order, then one addition to c).
//
//go:noescape
func ConvWGradAVX512x%[1]dx32(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int)

// ConvWGradAVX512x%[1]dx64 is ConvWGradAVX512x%[1]dx32 for 64 filters:
// the same sums for j < 64.
//
//go:noescape
func ConvWGradAVX512x%[1]dx64(np, nr int, x *float32, xs, xrs int, toff *int, dy *float32, dys int, c *float32, ldc int)
`, r)
	}
	return b.Bytes()
}
