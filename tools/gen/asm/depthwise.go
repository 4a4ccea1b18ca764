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

// genDepthwiseRow512 writes
//
//	func DepthwiseRowAVX512(np, nt, nc int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)
//
// For np ≥ 0 output pixels q and nc ≥ 1 channels j, with byte offsets and
// strides:
//
//	y[q·ys + j] = b[j] + Σ_{t<nt} x[xoff[t] + q·xs + j] · w[woff[t] + j]
//
// (b nil: +0 in place of b[j]; fused multiply-adds in t order, as
// DepthwiseTileAVX2 and the scalar edges compute it), then clamped to
// [lo, hi] (flags&EpiClamp) and rectified (flags&EpiReLU) in registers,
// bit for bit as ClampAVX2 and ReluAVX2 after the store. The sums of a tile
// of P pixels × B blocks of 16 channels stay in Z0–Z7 over all taps, the
// tap's B weight vectors loaded once for the P pixels: 8×1 tiles while 8
// pixels are left, then 4×2, then 1×4, so that a tile has up to 8
// independent sums in flight (4 or more when its blocks are whole). For a tile's pixels the blocks of channels
// run in storage order, so each input row streams through the cache once.
// Blocks past nc are masked off (K1–K4, one a block of the tile): their
// lanes are neither read nor written. Registers: BX pixels left, SI x, R8
// xs, R14 3·xs, DX w, DI y, R9 ys, R15 the tile's first channel in bytes,
// CX taps left, R10 xoff, R11 woff, R12/R13/AX addresses, Z8–Z11 the
// tap's weights, Z16–Z19 the biases, Z20/Z21 lo/hi, Z22 and K5/K6 the
// clamp's temporaries, Z23 zero, Z24 lo's sign for the quick clamp
// (flags&EpiClampQuick, as the SGEMM epilogue's).
// dwNoPrefetch, in DepthwiseRowAVX512's flags, turns off the prefetching of
// the next tile's pixels: for inputs already in cache (InvertedResidual's
// bands), where the prefetches only take load slots.
const dwNoPrefetch = 8

func genDepthwiseRow512(a *asm) {
	a.raw("\n// func DepthwiseRowAVX512(np, nt, nc int, x *float32, xs int, xoff *int, w *float32, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)\n")
	a.raw("TEXT ·DepthwiseRowAVX512(SB), NOSPLIT, $0-104\n")
	a.f("MOVQ np+0(FP), BX")
	a.f("MOVQ x+24(FP), SI")
	a.f("MOVQ xs+32(FP), R8")
	a.f("LEAQ (R8)(R8*2), R14")
	a.f("MOVQ w+48(FP), DX")
	a.f("MOVQ y+64(FP), DI")
	a.f("MOVQ ys+72(FP), R9")
	a.f("VBROADCASTSS lo+88(FP), Z20")
	a.f("VBROADCASTSS hi+92(FP), Z21")
	a.f("VPXORD Z23, Z23, Z23")
	clampSignMask(a, "Z", "Z20", "Z24")
	// pixel p (< 8) at disp(base)(p·stride): four from base, four from
	// base4 = base + 4·stride
	pix := func(p, disp int, base, base4, s, s3 string) string {
		b := base
		if p >= 4 {
			b = base4
		}
		d := ""
		if disp != 0 {
			d = fmt.Sprint(disp)
		}
		switch p % 4 {
		case 0:
			return fmt.Sprintf("%s(%s)", d, b)
		case 1:
			return fmt.Sprintf("%s(%s)(%s*1)", d, b, s)
		case 2:
			return fmt.Sprintf("%s(%s)(%s*2)", d, b, s)
		}
		return fmt.Sprintf("%s(%s)(%s*1)", d, b, s3)
	}
	tile := func(l string, P, B int) {
		acc := func(p, b int) int { return p*B + b }
		a.f("XORQ R15, R15")
		a.label(l + "_block")
		dwBlockMasks(a, B)
		a.f("MOVQ b+80(FP), AX")
		for b := 0; b < B; b++ {
			a.f("VPXORD Z%d, Z%d, Z%d", 16+b, 16+b, 16+b)
		}
		a.f("TESTQ AX, AX")
		a.f("JEQ %s_nobias", l)
		for b := 0; b < B; b++ {
			a.f("VMOVUPS.Z %d(AX)(R15*1), K%d, Z%d", 64*b, b+1, 16+b)
		}
		a.label(l + "_nobias")
		for p := 0; p < P; p++ {
			for b := 0; b < B; b++ {
				a.f("VMOVAPS Z%d, Z%d", 16+b, acc(p, b))
			}
		}
		a.f("MOVQ nt+8(FP), CX")
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_store", l)
		a.f("MOVQ xoff+40(FP), R10")
		a.f("MOVQ woff+56(FP), R11")
		// every block of the tile whole: the tap loop without masks
		// (masked FMAs from memory are slower on Zen 5: the weight
		// gradient's kernel ran 17 against 21 GFLOP/s). 8-pixel tiles
		// prefetch the next tile's pixels unless flags&dwNoPrefetch.
		loops := func(lp string, pf bool) {
			a.f("MOVQ nc+16(FP), AX")
			a.f("SHLQ $2, AX")
			a.f("SUBQ R15, AX")
			a.f("CMPQ AX, $%d", 64*B)
			a.f("JGE %s_full", lp)
			for _, full := range []bool{false, true} {
				tl := lp + "_tap"
				if full {
					a.label(lp + "_full")
					tl = lp + "_ftap"
				}
				a.label(tl)
				a.f("MOVQ (R11), R12")
				a.f("ADDQ R15, R12")
				for b := 0; b < B; b++ {
					if full {
						a.f("VMOVUPS %d(DX)(R12*1), Z%d", 64*b, 8+b)
					} else {
						a.f("VMOVUPS.Z %d(DX)(R12*1), K%d, Z%d", 64*b, b+1, 8+b)
					}
				}
				a.f("MOVQ (R10), R12")
				a.f("ADDQ SI, R12")
				a.f("ADDQ R15, R12")
				if P > 4 {
					a.f("LEAQ (R12)(R8*4), R13")
				}
				for p := 0; p < P; p++ {
					for b := 0; b < B; b++ {
						if full {
							a.f("VFMADD231PS %s, Z%d, Z%d", pix(p, 64*b, "R12", "R13", "R8", "R14"), 8+b, acc(p, b))
						} else {
							a.f("VFMADD231PS %s, Z%d, K%d, Z%d", pix(p, 64*b, "R12", "R13", "R8", "R14"), 8+b, b+1, acc(p, b))
						}
					}
				}
				if pf {
					// the next tile's pixels of this tap: without it,
					// layers far larger than L2 wait on memory (mbv2_dw
					// forward 21 → 47 GFLOP/s on Zen 5; 16 pixels on, 40)
					a.f("LEAQ (R13)(R8*4), R12")
					a.f("LEAQ (R12)(R8*4), R13")
					for p := 0; p < 8; p++ {
						a.f("PREFETCHT0 %s", pix(p, 0, "R12", "R13", "R8", "R14"))
					}
				}
				a.f("ADDQ $8, R10")
				a.f("ADDQ $8, R11")
				a.f("DECQ CX")
				a.f("JNE %s", tl)
				a.f("JMP %s_store", l)
			}
		}
		if P == 8 {
			a.f("MOVQ flags+96(FP), AX")
			a.f("TESTQ $%d, AX", dwNoPrefetch)
			a.f("JNE %s_nopf", l)
			loops(l, true)
			a.label(l + "_nopf")
			loops(l+"n", false)
		} else {
			loops(l, false)
		}
		a.label(l + "_store")
		var regs []string
		for p := 0; p < P; p++ {
			for b := 0; b < B; b++ {
				regs = append(regs, fmt.Sprintf("Z%d", acc(p, b)))
			}
		}
		dwAct(a, l, "flags+96(FP)", regs)
		a.f("LEAQ (DI)(R15*1), AX")
		for p := 0; p < P; p++ {
			if p == 4 {
				a.f("LEAQ (AX)(R9*4), AX")
			}
			for b := 0; b < B; b++ {
				if p%4 == 3 {
					a.f("LEAQ (AX)(R9*2), R13")
					a.f("VMOVUPS Z%d, K%d, %d(R13)(R9*1)", acc(p, b), b+1, 64*b)
					continue
				}
				a.f("VMOVUPS Z%d, K%d, %s", acc(p, b), b+1, pix(p%4, 64*b, "AX", "", "R9", ""))
			}
		}
		if P == 8 {
			// PREFETCHW (Go's assembler lacks it) of the next tile's
			// output lines, so that its stores find them owned (mbv2_dw
			// forward 47 → 50 GFLOP/s); AX is this tile's pixel 4
			a.f("LEAQ (AX)(R9*4), R13")
			for p := 0; p < 8; p++ {
				a.raw("\tBYTE $0x41; BYTE $0x0F; BYTE $0x0D; BYTE $0x4D; BYTE $0x00 // PREFETCHW (R13)\n")
				if p < 7 {
					a.f("ADDQ R9, R13")
				}
			}
		}
		a.f("ADDQ $%d, R15", 64*B)
		a.f("MOVQ nc+16(FP), AX")
		a.f("SHLQ $2, AX")
		a.f("CMPQ R15, AX")
		a.f("JLT %s_block", l)
	}
	for _, t := range []struct{ P, B int }{{8, 1}, {4, 2}, {1, 4}} {
		l := fmt.Sprintf("dwr%dx%d", t.P, t.B)
		a.label(l)
		a.f("CMPQ BX, $%d", t.P)
		a.f("JLT %s_done", l)
		tile(l, t.P, t.B)
		if t.P == 8 {
			a.f("LEAQ (SI)(R8*8), SI")
			a.f("LEAQ (DI)(R9*8), DI")
		} else {
			a.f("LEAQ (SI)(R8*%d), SI", t.P)
			a.f("LEAQ (DI)(R9*%d), DI", t.P)
		}
		a.f("SUBQ $%d, BX", t.P)
		a.f("JMP %s", l)
		a.label(l + "_done")
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

// genDepthwiseWGrad512 writes
//
//	func DepthwiseWGradAVX512(nt, np, nc int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)
//
// DepthwiseWGradAVX2 at 16 lanes: for t < nt ≤ 9 taps and j < nc ≤ 16
// channels (the opmask K1), with byte offsets and strides,
//
//	acc[aoff[t] + j] += Σ_{p<np} x[xoff[t] + p·xs + j] · dy[p·dys + j]
//
// (fused multiply-adds in p order), the nt sums in Z0–Z8 over all pixels.
// Lanes at nc and beyond are neither read nor written. Registers: the tap
// offsets in AX, BX, DX, R10–R15, CX pixels left, SI x, R8 xs, DI dy, R9
// dys, Z15 the pixel's dy.
func genDepthwiseWGrad512(a *asm) {
	a.raw("\n// func DepthwiseWGradAVX512(nt, np, nc int, x *float32, xs int, xoff *int, dy *float32, dys int, acc *float32, aoff *int)\n")
	a.raw("TEXT ·DepthwiseWGradAVX512(SB), NOSPLIT, $0-80\n")
	taps := []string{"AX", "BX", "DX", "R10", "R11", "R12", "R13", "R14", "R15"}
	a.f("MOVQ nc+16(FP), CX")
	a.f("CMPQ CX, $16")
	a.f("JEQ dwg512_full")
	tailMask512(a)
	a.f("JMP dwg512_nt")
	// 16 channels: no mask on the sums' loads and stores, so that a call's
	// loads of the sums the call before stored are forwarded (masked
	// stores are not forwarded: mbv2_dw weight gradient 13 against 17
	// GFLOP/s masked on Zen 5)
	a.label("dwg512_full")
	a.f("MOVL $0xffff, AX")
	a.f("KMOVW AX, K1")
	a.label("dwg512_nt")
	a.f("MOVQ nt+0(FP), CX")
	a.f("MOVQ nc+16(FP), R8")
	a.f("CMPQ R8, $16")
	a.f("JEQ dwg512_fulljump")
	for k := 1; k <= len(taps); k++ {
		a.f("CMPQ CX, $%d", k)
		a.f("JEQ dwg512m_%d", k)
	}
	a.f("RET")
	a.label("dwg512_fulljump")
	for k := 1; k <= len(taps); k++ {
		a.f("CMPQ CX, $%d", k)
		a.f("JEQ dwg512f_%d", k)
	}
	a.f("RET")
	for _, masked := range []bool{false, true} {
		ld, st, l0 := "VMOVUPS (SI)(AX*1), Z%d", "VMOVUPS Z%d, (SI)(AX*1)", "dwg512f"
		if masked {
			ld, st, l0 = "VMOVUPS.Z (SI)(AX*1), K1, Z%d", "VMOVUPS Z%d, K1, (SI)(AX*1)", "dwg512m"
		}
		for k := 1; k <= len(taps); k++ {
			l := fmt.Sprintf("%s_%d", l0, k)
			a.label(l)
			a.f("MOVQ acc+64(FP), SI")
			a.f("MOVQ aoff+72(FP), DI")
			for t := 0; t < k; t++ {
				a.f("MOVQ %d(DI), AX", 8*t)
				a.f(ld, t)
			}
			a.f("MOVQ xoff+40(FP), R8")
			for t := 0; t < k; t++ {
				a.f("MOVQ %d(R8), %s", 8*t, taps[t])
			}
			a.f("MOVQ np+8(FP), CX")
			a.f("MOVQ x+24(FP), SI")
			a.f("MOVQ xs+32(FP), R8")
			a.f("MOVQ dy+48(FP), DI")
			a.f("MOVQ dys+56(FP), R9")
			a.f("TESTQ CX, CX")
			a.f("JEQ %s_store", l)
			a.label(l + "_loop")
			if masked {
				a.f("VMOVUPS.Z (DI), K1, Z15")
			} else {
				a.f("VMOVUPS (DI), Z15")
			}
			for t := 0; t < k; t++ {
				if masked {
					a.f("VFMADD231PS (SI)(%s*1), Z15, K1, Z%d", taps[t], t)
				} else {
					a.f("VFMADD231PS (SI)(%s*1), Z15, Z%d", taps[t], t)
				}
			}
			a.f("ADDQ R8, SI")
			a.f("ADDQ R9, DI")
			a.f("DECQ CX")
			a.f("JNE %s_loop", l)
			a.label(l + "_store")
			a.f("MOVQ acc+64(FP), SI")
			a.f("MOVQ aoff+72(FP), DI")
			for t := 0; t < k; t++ {
				a.f("MOVQ %d(DI), AX", 8*t)
				a.f(st, t)
			}
			a.f("VZEROUPPER")
			a.f("RET")
		}
	}
}

// dwAct applies the activation the flags argument asks for to the sums
// in regs, in registers, with the SGEMM epilogue's sequences: Z20/Z21 lo
// and hi, Z22 and K5/K6 temporaries, Z23 zero, Z24 lo's sign for the
// quick clamp. It ends at label l_out.
func dwAct(a *asm, l, flags string, regs []string) {
	a.f("MOVQ %s, AX", flags)
	a.f("TESTQ $%d, AX", epiClamp)
	a.f("JEQ %s_relu", l)
	a.f("TESTQ $%d, AX", epiClampQuick)
	a.f("JEQ %s_clampfull", l)
	for _, r := range regs {
		clampQuick(a, r, "Z20", "Z21", "Z24")
	}
	a.f("JMP %s_relu", l)
	a.label(l + "_clampfull")
	for _, r := range regs {
		a.f("VMAXPS %s, Z20, Z22", r)
		a.f("VCMPPS $0, Z20, %s, K5", r)
		a.f("VANDPS Z20, %s, K5, Z22", r)
		a.f("VMINPS Z22, Z21, %s", r)
		a.f("VCMPPS $0, Z21, Z22, K6")
		a.f("VORPS Z21, Z22, K6, %s", r)
	}
	a.label(l + "_relu")
	a.f("TESTQ $%d, AX", epiReLU)
	a.f("JEQ %s_out", l)
	for _, r := range regs {
		a.f("VMAXPS %s, Z23, %s", r, r)
	}
	a.label(l + "_out")
}

// genDepthwiseRow3512 writes, for stride 1,
//
//	func DepthwiseRow3AVX512(np, nr, nc int, x *float32, xs int, xoff *int, w *float32, ws int, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)
//
// and for stride 2 DepthwiseRow3S2AVX512, the same with (2q+k)·xs in
// place of (q+k)·xs below: a tile then loads 2P+1 vectors a row.
//
// DepthwiseRowAVX512 for taps in rows of three that step one pixel: for np
// ≥ 0 output pixels q and nc ≥ 1 channels j, with byte offsets and
// strides,
//
//	y[q·ys + j] = b[j] + Σ_{r<nr} Σ_{k<3} x[xoff[r] + (q+k)·xs + j] · w[woff[r] + k·ws + j]
//
// in (r, k) order, then the activation, as DepthwiseRowAVX512 computes it
// for the 3·nr taps xoff[r] + k·xs, woff[r] + k·ws, bit for bit: a 3×3
// convolution at stride 1. Each input vector is loaded once a row and
// feeds the up to three sums that read it, so a tile of P pixels loads
// P+2 vectors a row for 3P multiply-adds, where DepthwiseRowAVX512 loads
// 3P: its loads, not its multiply-adds, bound it. Tiles of P pixels × B
// blocks of 16 channels: 16×1 while 16 pixels are left, then 8×1, 4×2,
// 2×2 and 1×2; the sums stay in Z0–Z15 over all taps, the row's 3·B
// weight vectors in Z25–Z30, the inputs in Z16–Z19 (two a block, in
// turn). Blocks past nc are masked off (K1, K2). Registers: BX pixels
// left, SI x, R8 xs, DX w, R14 ws, DI y, R9 ys, R15 the tile's first
// channel in bytes, CX rows left, R10 xoff, R11 woff, R12/R13 addresses;
// Z20–Z24 and K5/K6 as DepthwiseRowAVX512's activation.
func genDepthwiseRow3512(a *asm, stride int) {
	name := "DepthwiseRow3AVX512"
	if stride == 2 {
		name = "DepthwiseRow3S2AVX512"
	}
	a.raw(fmt.Sprintf("\n// func %s(np, nr, nc int, x *float32, xs int, xoff *int, w *float32, ws int, woff *int, y *float32, ys int, b *float32, lo, hi float32, flags int)\n", name))
	a.raw(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-112\n", name))
	a.f("MOVQ np+0(FP), BX")
	a.f("MOVQ x+24(FP), SI")
	a.f("MOVQ xs+32(FP), R8")
	a.f("MOVQ w+48(FP), DX")
	a.f("MOVQ ws+56(FP), R14")
	a.f("MOVQ y+72(FP), DI")
	a.f("MOVQ ys+80(FP), R9")
	a.f("VBROADCASTSS lo+96(FP), Z20")
	a.f("VBROADCASTSS hi+100(FP), Z21")
	a.f("VPXORD Z23, Z23, Z23")
	clampSignMask(a, "Z", "Z20", "Z24")
	tile := func(l string, P, B int) {
		acc := func(p, b int) string { return fmt.Sprintf("Z%d", p*B+b) }
		in := func(i, b int) string { return fmt.Sprintf("Z%d", 16+(i%2)*B+b) }
		wt := func(k, b int) string { return fmt.Sprintf("Z%d", 25+k*B+b) }
		a.f("XORQ R15, R15")
		a.label(l + "_block")
		dwBlockMasks(a, B)
		a.f("MOVQ b+88(FP), AX")
		for b := 0; b < B; b++ {
			a.f("VPXORD %s, %s, %s", in(0, b), in(0, b), in(0, b))
		}
		a.f("TESTQ AX, AX")
		a.f("JEQ %s_nobias", l)
		for b := 0; b < B; b++ {
			a.f("VMOVUPS.Z %d(AX)(R15*1), K%d, %s", 64*b, b+1, in(0, b))
		}
		a.label(l + "_nobias")
		for p := 0; p < P; p++ {
			for b := 0; b < B; b++ {
				a.f("VMOVAPS %s, %s", in(0, b), acc(p, b))
			}
		}
		a.f("MOVQ nr+8(FP), CX")
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_store", l)
		a.f("MOVQ xoff+40(FP), R10")
		a.f("MOVQ woff+64(FP), R11")
		// every block of the tile whole: the row loop without masks
		a.f("MOVQ nc+16(FP), AX")
		a.f("SHLQ $2, AX")
		a.f("SUBQ R15, AX")
		a.f("CMPQ AX, $%d", 64*B)
		a.f("JGE %s_full", l)
		for _, full := range []bool{false, true} {
			rl := l + "_row"
			if full {
				a.label(l + "_full")
				rl = l + "_frow"
			}
			load := func(src string, b int, dst string) {
				if full {
					a.f("VMOVUPS %s, %s", src, dst)
				} else {
					a.f("VMOVUPS.Z %s, K%d, %s", src, b+1, dst)
				}
			}
			a.label(rl)
			a.f("MOVQ (R11), R13")
			a.f("ADDQ DX, R13")
			a.f("ADDQ R15, R13")
			for k := 0; k < 3; k++ {
				for b := 0; b < B; b++ {
					src := [3]string{"%d(R13)", "%d(R13)(R14*1)", "%d(R13)(R14*2)"}[k]
					load(fmt.Sprintf(src, 64*b), b, wt(k, b))
				}
			}
			a.f("MOVQ (R10), R12")
			a.f("ADDQ SI, R12")
			a.f("ADDQ R15, R12")
			last := stride*(P-1) + 2 // the tile's last input pixel
			for i := 0; i <= last; i++ {
				for b := 0; b < B; b++ {
					load(fmt.Sprintf("%d(R12)", 64*b), b, in(i, b))
				}
				for k := 0; k < 3; k++ {
					if p := (i - k) / stride; i >= k && (i-k)%stride == 0 && p < P {
						for b := 0; b < B; b++ {
							a.f("VFMADD231PS %s, %s, %s", wt(k, b), in(i, b), acc(p, b))
						}
					}
				}
				if i < last {
					a.f("ADDQ R8, R12")
				}
			}
			a.f("ADDQ $8, R10")
			a.f("ADDQ $8, R11")
			a.f("DECQ CX")
			a.f("JNE %s", rl)
			a.f("JMP %s_store", l)
		}
		a.label(l + "_store")
		var regs []string
		for p := 0; p < P; p++ {
			for b := 0; b < B; b++ {
				regs = append(regs, acc(p, b))
			}
		}
		dwAct(a, l, "flags+104(FP)", regs)
		a.f("LEAQ (DI)(R15*1), AX")
		for p := 0; p < P; p++ {
			for b := 0; b < B; b++ {
				a.f("VMOVUPS %s, K%d, %d(AX)", acc(p, b), b+1, 64*b)
			}
			if p < P-1 {
				a.f("ADDQ R9, AX")
			}
		}
		a.f("ADDQ $%d, R15", 64*B)
		a.f("MOVQ nc+16(FP), AX")
		a.f("SHLQ $2, AX")
		a.f("CMPQ R15, AX")
		a.f("JLT %s_block", l)
	}
	for _, t := range []struct{ P, B int }{{16, 1}, {8, 1}, {4, 2}, {2, 2}, {1, 2}} {
		l := fmt.Sprintf("dw3s%dr%dx%d", stride, t.P, t.B)
		a.label(l)
		a.f("CMPQ BX, $%d", t.P)
		a.f("JLT %s_done", l)
		tile(l, t.P, t.B)
		a.f("MOVQ R8, AX")
		a.f("IMULQ $%d, AX", stride*t.P)
		a.f("ADDQ AX, SI")
		a.f("MOVQ R9, AX")
		a.f("IMULQ $%d, AX", t.P)
		a.f("ADDQ AX, DI")
		a.f("SUBQ $%d, BX", t.P)
		a.f("JMP %s", l)
		a.label(l + "_done")
	}
	a.f("VZEROUPPER")
	a.f("RET")
}

// dwBlockMasks sets K1…KB to the channels of the B blocks of 16 from byte
// R15 on: block b's min(max(nc − R15/4 − 16b, 0), 16), nc at nc+16(FP).
// It uses AX and CX.
func dwBlockMasks(a *asm, B int) {
	for b := 0; b < B; b++ {
		a.f("MOVQ nc+16(FP), CX")
		a.f("SHLQ $2, CX")
		a.f("SUBQ R15, CX")
		a.f("SARQ $2, CX")
		if b > 0 {
			a.f("SUBQ $%d, CX", 16*b)
			a.f("MOVQ $0, AX")
			a.f("CMPQ CX, AX")
			a.f("CMOVQLT AX, CX")
		}
		a.f("MOVQ $16, AX")
		a.f("CMPQ CX, AX")
		a.f("CMOVQGT AX, CX")
		a.f("MOVL $1, AX")
		a.f("SHLL CX, AX")
		a.f("DECL AX")
		a.f("KMOVW AX, K%d", b+1)
	}
}
