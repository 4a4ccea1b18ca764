package main

import (
	"fmt"
)

// genDepthwiseTile writes
//
//	func DepthwiseTileAVX2(ng, nt int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32)
//
// For ng ≥ 1 tiles g of 4 output pixels p and 16 channels j (two
// vectors), with byte offsets and strides (q = 4g + p):
//
//	y[q·ys + j] = s + Σ_{t<nt} x[xoff[t] + q·xs + j] · w[woff[t] + j]
//
// where s is b[j], or y[q·ys + j] itself when b is nil. The accumulators
// stay in registers over all taps of a tile; looping over the tiles here
// rather than in Go saves a call per tile (a 3×3 tile is ~72 FMAs).
func genDepthwiseTile(a *asm) {
	a.raw("\n// func DepthwiseTileAVX2(ng, nt int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32)\n")
	a.raw("TEXT ·DepthwiseTileAVX2(SB), NOSPLIT, $0-80\n")
	a.f("MOVQ ng+0(FP), BX")
	a.f("MOVQ x+16(FP), SI")
	a.f("MOVQ xs+24(FP), R8")
	a.f("MOVQ w+40(FP), DX")
	a.f("MOVQ y+56(FP), DI")
	a.f("MOVQ ys+64(FP), R9")
	a.label("dwt_group")
	a.f("MOVQ nt+8(FP), CX")
	a.f("MOVQ xoff+32(FP), R10")
	a.f("MOVQ woff+48(FP), R13")
	// start the accumulators from b (one bias vector for every pixel) or,
	// when b is nil, from y: pixel p at DI + p·ys
	a.f("MOVQ b+72(FP), AX")
	a.f("TESTQ AX, AX")
	a.f("JEQ dwt_fromy")
	a.f("VMOVUPS (AX), Y0")
	a.f("VMOVUPS 32(AX), Y1")
	for p := 1; p < 4; p++ {
		a.f("VMOVAPS Y0, Y%d", 2*p)
		a.f("VMOVAPS Y1, Y%d", 2*p+1)
	}
	a.f("JMP dwt_loaded")
	a.label("dwt_fromy")
	a.f("MOVQ DI, AX")
	for p := 0; p < 4; p++ {
		a.f("VMOVUPS (AX), Y%d", 2*p)
		a.f("VMOVUPS 32(AX), Y%d", 2*p+1)
		if p < 3 {
			a.f("ADDQ R9, AX")
		}
	}
	a.label("dwt_loaded")
	a.f("TESTQ CX, CX")
	a.f("JEQ dwt_store")
	a.label("dwt_tap")
	a.f("MOVQ (R13), R11")
	a.f("VMOVUPS (DX)(R11*1), Y8")
	a.f("VMOVUPS 32(DX)(R11*1), Y9")
	a.f("MOVQ (R10), R12")
	a.f("ADDQ SI, R12")
	// Each tap also prefetches its pixels of the tile 4 pixels on (the
	// next tile): without it, tiles over layers far larger than L2 wait
	// on memory (mbv2_dw forward 8 → 13–16 GFLOP/s).
	for p := 0; p < 4; p++ {
		a.f("PREFETCHT0 (R12)(R8*4)")
		a.f("VFMADD231PS (R12), Y8, Y%d", 2*p)
		a.f("VFMADD231PS 32(R12), Y9, Y%d", 2*p+1)
		if p < 3 {
			a.f("ADDQ R8, R12")
		}
	}
	a.f("ADDQ $8, R10")
	a.f("ADDQ $8, R13")
	a.f("DECQ CX")
	a.f("JNE dwt_tap")
	a.label("dwt_store")
	a.f("MOVQ DI, AX")
	// PREFETCHW (Go's assembler lacks it) of the next tile's output row:
	// the stores then find their lines owned.
	for p := 0; p < 4; p++ {
		a.raw("\tBYTE $0x42; BYTE $0x0F; BYTE $0x0D; BYTE $0x0C; BYTE $0x88 // PREFETCHW (AX)(R9*4)\n")
		a.f("VMOVUPS Y%d, (AX)", 2*p)
		a.f("VMOVUPS Y%d, 32(AX)", 2*p+1)
		if p < 3 {
			a.f("ADDQ R9, AX")
		}
	}
	// next tile: 4 pixels on in x and y
	a.f("LEAQ (SI)(R8*4), SI")
	a.f("LEAQ (DI)(R9*4), DI")
	a.f("DECQ BX")
	a.f("JNE dwt_group")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genDepthwiseWGrad writes
//
//	func DepthwiseWGradAVX2(nt, np int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)
//
// For nt ≤ 9 taps t and 8 channels j, with byte offsets and strides:
//
//	acc[aoff[t] + j] += Σ_{p<np} x[xoff[t] + p·xs + j] · dy[p·dys + j]
//
// (fused multiply-adds in p order): the depthwise weight gradient of one
// row of pixels, its nt·8 sums held in registers over the row.
func genDepthwiseWGrad(a *asm) {
	a.raw("\n// func DepthwiseWGradAVX2(nt, np int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)\n")
	a.raw("TEXT ·DepthwiseWGradAVX2(SB), NOSPLIT, $0-72\n")
	taps := []string{"AX", "BX", "DX", "R10", "R11", "R12", "R13", "R14", "R15"}
	a.f("MOVQ nt+0(FP), CX")
	for k := 1; k <= len(taps); k++ {
		a.f("CMPQ CX, $%d", k)
		a.f("JEQ dwg_%d", k)
	}
	a.f("RET")
	for k := 1; k <= len(taps); k++ {
		a.label(fmt.Sprintf("dwg_%d", k))
		a.f("MOVQ acc+56(FP), SI")
		a.f("MOVQ aoff+64(FP), DI")
		for t := 0; t < k; t++ {
			a.f("MOVQ %d(DI), AX", 8*t)
			a.f("VMOVUPS (SI)(AX*1), Y%d", t)
		}
		a.f("MOVQ xoff+32(FP), R8")
		for t := 0; t < k; t++ {
			a.f("MOVQ %d(R8), %s", 8*t, taps[t])
		}
		a.f("MOVQ np+8(FP), CX")
		a.f("MOVQ x+16(FP), SI")
		a.f("MOVQ xs+24(FP), R8")
		a.f("MOVQ dy+40(FP), DI")
		a.f("MOVQ dys+48(FP), R9")
		a.f("TESTQ CX, CX")
		a.f("JEQ dwg_%d_store", k)
		a.label(fmt.Sprintf("dwg_%d_loop", k))
		a.f("VMOVUPS (DI), Y15")
		for t := 0; t < k; t++ {
			a.f("VFMADD231PS (SI)(%s*1), Y15, Y%d", taps[t], t)
		}
		a.f("ADDQ R8, SI")
		a.f("ADDQ R9, DI")
		a.f("DECQ CX")
		a.f("JNE dwg_%d_loop", k)
		a.label(fmt.Sprintf("dwg_%d_store", k))
		a.f("MOVQ acc+56(FP), SI")
		a.f("MOVQ aoff+64(FP), DI")
		for t := 0; t < k; t++ {
			a.f("MOVQ %d(DI), AX", 8*t)
			a.f("VMOVUPS Y%d, (SI)(AX*1)", t)
		}
		a.f("VZEROUPPER")
		a.f("RET")
	}
}
