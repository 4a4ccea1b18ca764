package main

import (
	"fmt"
)

// genIndirectB writes the 6×16 microkernel whose B rows come from an
// offset table
//
//	func SgemmIndirectBAVX2x6x16(nt int, a, x *float32, toff *int, c *float32, ldc int)
//
// c[i·ldc + j] = Σ_{t<nt} a[t·6 + i] · x[toff[t] + j] for i < 6, j < 16,
// toff in bytes: 6 filters × 16 pixels of a convolution whose taps are
// shifted rows of padded input planes (no im2col copy), a packed
// tap-major.
func genIndirectB(a *asm) {
	a.raw("\n// func SgemmIndirectBAVX2x6x16(nt int, a, x *float32, toff *int, c *float32, ldc int)\n")
	a.raw("TEXT ·SgemmIndirectBAVX2x6x16(SB), NOSPLIT, $0-48\n")
	a.f("MOVQ nt+0(FP), CX")
	a.f("MOVQ a+8(FP), DX")
	a.f("MOVQ x+16(FP), SI")
	a.f("MOVQ toff+24(FP), R10")
	a.f("MOVQ c+32(FP), DI")
	a.f("MOVQ ldc+40(FP), R8")
	a.f("SHLQ $2, R8")
	for r := 0; r < 12; r++ {
		a.f("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	a.f("TESTQ CX, CX")
	a.f("JEQ indb_store")
	a.label("indb_tap")
	a.f("MOVQ (R10), R12")
	a.f("ADDQ SI, R12")
	a.f("VMOVUPS (R12), Y12")
	a.f("VMOVUPS 32(R12), Y13")
	for i := 0; i < 6; i++ {
		bc := fmt.Sprintf("Y%d", 14+i%2)
		a.f("VBROADCASTSS %d(DX), %s", 4*i, bc)
		a.f("VFMADD231PS Y12, %s, Y%d", bc, 2*i)
		a.f("VFMADD231PS Y13, %s, Y%d", bc, 2*i+1)
	}
	a.f("ADDQ $8, R10")
	a.f("ADDQ $24, DX")
	a.f("DECQ CX")
	a.f("JNE indb_tap")
	a.label("indb_store")
	for i := 0; i < 6; i++ {
		a.f("VMOVUPS Y%d, (DI)", 2*i)
		a.f("VMOVUPS Y%d, 32(DI)", 2*i+1)
		a.f("ADDQ R8, DI")
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

// genDotIndirect writes the 6×2 dot-product kernel
//
//	func SdotIndirectAVX2x6x2(n int, a *float32, lda int, x *float32, off0, off1 int, c *float32, ldc int)
//
// c[i·ldc + j] += Σ_{v<n} a[i·lda + v] · x[offj + v] for i < 6, j < 2,
// n a multiple of 8, lda, ldc in elements and the offsets in bytes: the
// weight gradient of a convolution over shifted rows of padded input
// planes, 8 lanes per accumulator reduced at the end.
func genDotIndirect(a *asm) {
	a.raw("\n// func SdotIndirectAVX2x6x2(n int, a *float32, lda int, x *float32, off0, off1 int, c *float32, ldc int)\n")
	a.raw("TEXT ·SdotIndirectAVX2x6x2(SB), NOSPLIT, $0-64\n")
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ a+8(FP), DX")
	a.f("MOVQ lda+16(FP), R9")
	a.f("SHLQ $2, R9")
	a.f("MOVQ x+24(FP), SI")
	a.f("MOVQ SI, R10")
	a.f("ADDQ off0+32(FP), SI")
	a.f("ADDQ off1+40(FP), R10")
	a.f("MOVQ c+48(FP), DI")
	a.f("MOVQ ldc+56(FP), R8")
	a.f("SHLQ $2, R8")
	a.f("LEAQ (R9)(R9*2), R11") // 3·lda
	a.f("LEAQ (R9)(R9*4), R13") // 5·lda
	for r := 0; r < 12; r++ {
		a.f("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	a.f("SHRQ $3, CX")
	a.f("JEQ dot_reduce")
	rows := []string{"(DX)", "(DX)(R9*1)", "(DX)(R9*2)", "(DX)(R11*1)", "(DX)(R9*4)", "(DX)(R13*1)"}
	a.label("dot_loop")
	a.f("VMOVUPS (SI), Y12")
	a.f("VMOVUPS (R10), Y13")
	for i, addr := range rows {
		r := fmt.Sprintf("Y%d", 14+i%2)
		a.f("VMOVUPS %s, %s", addr, r)
		a.f("VFMADD231PS Y12, %s, Y%d", r, 2*i)
		a.f("VFMADD231PS Y13, %s, Y%d", r, 2*i+1)
	}
	a.f("ADDQ $32, SI")
	a.f("ADDQ $32, R10")
	a.f("ADDQ $32, DX")
	a.f("DECQ CX")
	a.f("JNE dot_loop")
	a.label("dot_reduce")
	for i := 0; i < 6; i++ {
		for j := 0; j < 2; j++ {
			r := 2*i + j
			a.f("VEXTRACTF128 $1, Y%d, X14", r)
			a.f("VADDPS X14, X%d, X%d", r, r)
			a.f("VHADDPS X%d, X%d, X%d", r, r, r)
			a.f("VHADDPS X%d, X%d, X%d", r, r, r)
			a.f("VADDSS %d(DI), X%d, X%d", 4*j, r, r)
			a.f("VMOVSS X%d, %d(DI)", r, 4*j)
		}
		a.f("ADDQ R8, DI")
	}
	a.f("VZEROUPPER")
	a.f("RET")
}
