package main

import (
	"fmt"
)

// genMaxPoolBack writes the max-pool backward kernels
//
//	func MaxPoolBackAVX2(nw, nt, n int, x, dx *float32, xs int, toff *int, dy *float32)
//	func MaxPoolBackStoreAVX2(nw, nt, n int, x, dx *float32, xs int, toff *int, dy *float32)
//
// For nw windows w, each with nt taps at byte offsets w·xs + toff[t] from x
// (and from dx, laid out alike), and channels i < n (any n ≥ 1: the last
// n mod 8 channels use masked loads and stores):
//
//	a := the first t with x[t][i] > x[a][i], or x[t][i] NaN and x[a][i] not
//	     (a starts at tap 0; ties and later NaNs keep the earlier tap)
//	MaxPoolBackAVX2:      dx[t][i] += (t == a ? dy[w·n + i] : +0)
//	MaxPoolBackStoreAVX2: dx[t][i]  = (t == a ? dy[w·n + i] : 0) + 0
//
// The running maxima and tap indices stay in registers for all taps of a
// block of up to 32 channels; the scatter adds (or stores) dy masked by
// arg == t at every tap. Adding +0 leaves any dx value but −0 unchanged,
// and dx that starts at +0 never becomes −0; the store adds +0 to dy so
// that it writes what +0 + dy gives (+0 for −0).
//
// Registers: R13 windows left; SI, DI the window's x and dx; DX dy; CX
// nt; R8 toff; R11 xs; R9, R10 the channel block's x and dx; BX channels
// left; AX taps left; R12 toff cursor; R14 tap offset. Y0–Y3 maxima (then
// dy), Y4–Y7 tap indices, Y8 the tap's values, Y9, Y10 masks and sums,
// Y11 the tap counter, Y13 zero, Y14 the tail lane mask, Y15 all ones.
func genMaxPoolBack(a *asm) {
	a.raw("\n")
	for i := 0; i < 16; i++ {
		v := "$0xffffffff"
		if i >= 8 {
			v = "$0"
		}
		fmt.Fprintf(&a.Buffer, "DATA mpbMask<>+%d(SB)/4, %s\n", 4*i, v)
	}
	a.raw("GLOBL mpbMask<>(SB), RODATA|NOPTR, $64\n")
	for _, store := range []bool{false, true} {
		name, p := "MaxPoolBackAVX2", "mpb"
		if store {
			name, p = "MaxPoolBackStoreAVX2", "mps"
		}
		fmt.Fprintf(&a.Buffer, "\n// func %s(nw, nt, n int, x, dx *float32, xs int, toff *int, dy *float32)\n", name)
		fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
		a.f("MOVQ nw+0(FP), R13")
		a.f("MOVQ nt+8(FP), CX")
		a.f("MOVQ x+24(FP), SI")
		a.f("MOVQ dx+32(FP), DI")
		a.f("MOVQ xs+40(FP), R11")
		a.f("MOVQ toff+48(FP), R8")
		a.f("MOVQ dy+56(FP), DX")
		a.f("VPCMPEQD Y15, Y15, Y15")
		a.f("VXORPS Y13, Y13, Y13")
		// lanes i < n mod 8 of the tail mask: mpbMask[8 - n mod 8 + i]
		a.f("MOVQ n+16(FP), AX")
		a.f("ANDQ $7, AX")
		a.f("SHLQ $2, AX")
		a.f("LEAQ mpbMask<>+32(SB), BX")
		a.f("SUBQ AX, BX")
		a.f("VMOVUPS (BX), Y14")
		a.f("TESTQ R13, R13")
		a.f("JEQ %s_done", p)
		a.label(p + "_win")
		a.f("MOVQ SI, R9")
		a.f("MOVQ DI, R10")
		a.f("MOVQ n+16(FP), BX")
		a.label(p + "_b4")
		a.f("CMPQ BX, $32")
		a.f("JLT %s_b2", p)
		maxPoolBackBlock(a, p, 4, false, store)
		a.f("SUBQ $32, BX")
		a.f("JMP %s_b4", p)
		a.label(p + "_b2")
		a.f("CMPQ BX, $16")
		a.f("JLT %s_b1", p)
		maxPoolBackBlock(a, p, 2, false, store)
		a.f("SUBQ $16, BX")
		a.label(p + "_b1")
		a.f("CMPQ BX, $8")
		a.f("JLT %s_bm", p)
		maxPoolBackBlock(a, p, 1, false, store)
		a.f("SUBQ $8, BX")
		a.label(p + "_bm")
		a.f("TESTQ BX, BX")
		a.f("JEQ %s_next", p)
		maxPoolBackBlock(a, p, 1, true, store)
		a.label(p + "_next")
		a.f("ADDQ R11, SI")
		a.f("ADDQ R11, DI")
		a.f("DECQ R13")
		a.f("JNE %s_win", p)
		a.label(p + "_done")
		a.f("VZEROUPPER")
		a.f("RET")
	}
}

// maxPoolBackBlock writes one channel block of a max-pool backward
// kernel (labels prefixed p): u vectors at R9 (x), R10 (dx) and DX (dy),
// all taps, then advances the three pointers past the block (past n mod 8
// floats for a masked block).
func maxPoolBackBlock(a *asm, p string, u int, masked, store bool) {
	l := fmt.Sprintf("%s_%d", p, u)
	if masked {
		l = p + "_m"
	}
	load := func(addr, dst string) {
		if masked {
			a.f("VMASKMOVPS %s, Y14, %s", addr, dst)
			return
		}
		a.f("VMOVUPS %s, %s", addr, dst)
	}
	put := func(src, addr string) {
		if !masked {
			a.f("VMOVUPS %s, %s", src, addr)
			return
		}
		// lanes i < n mod 8 (in BX) by 16-, 8- and 4-byte stores: AVX2
		// masked stores are slow on some CPUs (AMD)
		x := "X" + src[1:]
		a.f("LEAQ %s, R14", addr)
		a.f("TESTQ $4, BX")
		a.f("JEQ %s_st2", l)
		a.f("VMOVUPS %s, (R14)", x)
		a.f("VEXTRACTF128 $1, %s, %s", src, x)
		a.f("ADDQ $16, R14")
		a.label(l + "_st2")
		a.f("TESTQ $2, BX")
		a.f("JEQ %s_st1", l)
		a.f("VMOVLPS %s, (R14)", x)
		a.f("VPSRLDQ $8, %s, %s", x, x)
		a.f("ADDQ $8, R14")
		a.label(l + "_st1")
		a.f("TESTQ $1, BX")
		a.f("JEQ %s_st0", l)
		a.f("VMOVSS %s, (R14)", x)
		a.label(l + "_st0")
	}
	// tap 0: the maxima start there, with tap index 0
	a.f("MOVQ (R8), R14")
	for v := 0; v < u; v++ {
		load(fmt.Sprintf("%d(R9)(R14*1)", 32*v), fmt.Sprintf("Y%d", v))
		a.f("VPXOR Y%d, Y%d, Y%d", 4+v, 4+v, 4+v)
	}
	a.f("VPXOR Y11, Y11, Y11")
	a.f("MOVQ CX, AX")
	a.f("LEAQ 8(R8), R12")
	a.f("DECQ AX")
	a.f("JEQ %s_scatter", l)
	a.label(l + "_tap")
	a.f("VPSUBD Y15, Y11, Y11") // tap index + 1
	a.f("MOVQ (R12), R14")
	for v := 0; v < u; v++ {
		b, arg := fmt.Sprintf("Y%d", v), fmt.Sprintf("Y%d", 4+v)
		load(fmt.Sprintf("%d(R9)(R14*1)", 32*v), "Y8")
		a.f("VCMPPS $0x16, %s, Y8, Y9", b)  // x NLE_UQ max: x > max, or either NaN
		a.f("VCMPPS $7, %s, %s, Y10", b, b) // max is not NaN
		a.f("VANDPS Y10, Y9, Y9")
		a.f("VBLENDVPS Y9, Y8, %s, %s", b, b)
		a.f("VBLENDVPS Y9, Y11, %s, %s", arg, arg)
	}
	a.f("ADDQ $8, R12")
	a.f("DECQ AX")
	a.f("JNE %s_tap", l)
	a.label(l + "_scatter")
	for v := 0; v < u; v++ {
		r := fmt.Sprintf("Y%d", v)
		load(fmt.Sprintf("%d(DX)", 32*v), r)
		if store {
			a.f("VADDPS Y13, %s, %s", r, r) // dy + 0: +0 for −0, as +0 + dy
		}
	}
	a.f("VPXOR Y11, Y11, Y11")
	a.f("MOVQ CX, AX")
	a.f("MOVQ R8, R12")
	a.label(l + "_add")
	a.f("MOVQ (R12), R14")
	for v := 0; v < u; v++ {
		addr := fmt.Sprintf("%d(R10)(R14*1)", 32*v)
		a.f("VPCMPEQD Y11, Y%d, Y9", 4+v)
		a.f("VANDPS Y%d, Y9, Y9", v)
		if store {
			put("Y9", addr)
			continue
		}
		load(addr, "Y10")
		a.f("VADDPS Y9, Y10, Y10") // dx + dy, dx first as Go's dx += dy
		put("Y10", addr)
	}
	a.f("VPSUBD Y15, Y11, Y11")
	a.f("ADDQ $8, R12")
	a.f("DECQ AX")
	a.f("JNE %s_add", l)
	if masked {
		a.f("LEAQ (R9)(BX*4), R9")
		a.f("LEAQ (R10)(BX*4), R10")
		a.f("LEAQ (DX)(BX*4), DX")
		return
	}
	for _, r := range []string{"R9", "R10", "DX"} {
		a.f("ADDQ $%d, %s", 32*u, r)
	}
}
