package main

import (
	"fmt"
)

// gemmKernel describes one register-blocked SGEMM microkernel.
type gemmKernel struct {
	name   string // Go name prefix
	reg    string // "Y" or "Z"
	lanes  int    // floats per vector register
	mr, nr int    // tile shape
	zero   string // zeroing instruction
	unroll int    // k-loop unroll factor
	// bStride, when set, is the width of the packed B panels the kernel
	// reads the first nr columns of (else nr).
	bStride int
}

// bw returns the floats per k step of a packed B panel.
func (k gemmKernel) bw() int {
	if k.bStride > 0 {
		return k.bStride
	}
	return k.nr
}

var gemmKernels = []gemmKernel{
	{name: "SgemmAVX2x6x16", reg: "Y", lanes: 8, mr: 6, nr: 16, zero: "VXORPS", unroll: 4},
	{name: "SgemmAVX512x12x32", reg: "Z", lanes: 16, mr: 12, nr: 32, zero: "VPXORD", unroll: 4},
}

// shortKernels are the AVX-512 tier's microkernels for the last rows of
// M, where a 12-row tile would compute up to 11 rows for nothing: 6 and
// 3 rows of 32 columns, A packed only (shortVariants).
var shortKernels = []gemmKernel{
	{name: "SgemmAVX512x6x32", reg: "Z", lanes: 16, mr: 6, nr: 32, zero: "VPXORD", unroll: 4},
	{name: "SgemmAVX512x3x32", reg: "Z", lanes: 16, mr: 3, nr: 32, zero: "VPXORD", unroll: 4},
}

// Operand layouts a microkernel variant reads.
//
//	A packed: a[p*MR+i]        A rows: a[i*lda+p] (A row-major, read in place)
//	B packed: b[p*NR+j]        B rows: b[p*ldb+j] (B row-major, read in place)
//
//	A transposed: a[p*lda+i] (Aᵀ row-major, read in place)
type variant struct {
	suffix  string
	a       byte // 'P' packed, 'R' rows, 'T' transposed
	bPacked bool
}

var variants = []variant{
	{"PP", 'P', true}, {"PR", 'P', false}, {"RP", 'R', true}, {"RR", 'R', false}, {"TP", 'T', true}, {"TR", 'T', false},
}

// shortVariants are the variants of shortKernels: A packed.
var shortVariants = variants[:2]

func (k gemmKernel) nv() int { return k.nr / k.lanes }

func (k gemmKernel) acc(i, v int) string { return fmt.Sprintf("%s%d", k.reg, i*k.nv()+v) }

func genSgemmAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, k := range gemmKernels {
		for _, v := range variants {
			genGemmKernel(&a, k, v)
		}
	}
	for _, k := range shortKernels {
		for _, v := range shortVariants {
			genGemmKernel(&a, k, v)
		}
	}
	return a.Bytes()
}

// aBases are the registers that hold A row pointers in the rows layout,
// each covering three consecutive rows: base, base+lda, base+2·lda.
var aBases = []string{"SI", "R9", "R10", "R12"}

// genGemmKernel writes
//
//	func name(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// Registers: CX k counter; SI (and R9, R10, R12) A; R11 lda in bytes (R9
// 3·lda for transposed A); DX B; R13 ldb in bytes, R14 3·ldb; DI C row; R8
// ldc in bytes; AX scratch.
func genGemmKernel(a *asm, k gemmKernel, vr variant) {
	nv := k.nv()
	nacc := k.mr * nv
	breg := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+v) }
	nb := 2 // broadcast registers, used in turn
	if k.reg == "Z" {
		nb = 32 - nacc - nv
	}
	bc := func(i int) string { return fmt.Sprintf("%s%d", k.reg, nacc+nv+i%nb) }
	vb := k.lanes * 4 // vector bytes
	name := k.name + vr.suffix

	fmt.Fprintf(&a.Buffer, "\n// func %s(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	a.f("MOVQ kc+0(FP), CX")
	a.f("MOVQ a+8(FP), SI")
	a.f("MOVQ b+24(FP), DX")
	a.f("MOVQ c+40(FP), DI")
	a.f("MOVQ ldc+48(FP), R8")
	a.f("SHLQ $2, R8")
	nbase := k.mr / 3
	switch vr.a {
	case 'R':
		a.f("MOVQ lda+16(FP), R11")
		a.f("SHLQ $2, R11")
		a.f("LEAQ (R11)(R11*2), AX") // 3·lda
		for j := 1; j < nbase; j++ {
			a.f("LEAQ (%s)(AX*1), %s", aBases[j-1], aBases[j])
		}
	case 'T':
		a.f("MOVQ lda+16(FP), R11")
		a.f("SHLQ $2, R11")
		a.f("LEAQ (R11)(R11*2), R9") // 3·lda
	}
	if !vr.bPacked {
		a.f("MOVQ ldb+32(FP), R13")
		a.f("SHLQ $2, R13")
		a.f("LEAQ (R13)(R13*2), R14") // 3·ldb
	}
	// Prefetch the C tile: it is read or written once the k loop ends.
	a.f("MOVQ DI, AX")
	for i := 0; i < k.mr; i++ {
		a.f("PREFETCHT0 (AX)")
		a.f("PREFETCHT0 %d(AX)", k.nr*4-4)
		if i < k.mr-1 {
			a.f("ADDQ R8, AX")
		}
	}
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := k.acc(i, v)
			a.f("%s %s, %s, %s", k.zero, r, r, r)
		}
	}
	aAddr := func(u, i int) string {
		switch vr.a {
		case 'P':
			return fmt.Sprintf("%d(SI)", (u*k.mr+i)*4)
		case 'T':
			return fmt.Sprintf("%d(SI)%s", i*4, []string{"", "(R11*1)", "(R11*2)", "(R9*1)"}[u])
		}
		base, r := aBases[i/3], i%3
		if r == 0 {
			return fmt.Sprintf("%d(%s)", u*4, base)
		}
		return fmt.Sprintf("%d(%s)(R11*%d)", u*4, base, r)
	}
	bAddr := func(u, v int) string {
		if vr.bPacked {
			return fmt.Sprintf("%d(DX)", u*k.bw()*4+v*vb)
		}
		switch u {
		case 0:
			return fmt.Sprintf("%d(DX)", v*vb)
		case 1:
			return fmt.Sprintf("%d(DX)(R13*1)", v*vb)
		case 2:
			return fmt.Sprintf("%d(DX)(R13*2)", v*vb)
		case 3:
			return fmt.Sprintf("%d(DX)(R14*1)", v*vb)
		}
		panic("unroll > 4 with B rows")
	}
	step := func(u int) {
		for v := 0; v < nv; v++ {
			a.f("VMOVUPS %s, %s", bAddr(u, v), breg(v))
		}
		for i := 0; i < k.mr; i++ {
			a.f("VBROADCASTSS %s, %s", aAddr(u, i), bc(i))
			for v := 0; v < nv; v++ {
				a.f("VFMADD231PS %s, %s, %s", breg(v), bc(i), k.acc(i, v))
			}
		}
	}
	advance := func(steps int) {
		switch {
		case vr.a == 'P':
			a.f("ADDQ $%d, SI", steps*k.mr*4)
		case vr.a == 'T' && steps == 1:
			a.f("ADDQ R11, SI")
		case vr.a == 'T':
			a.f("LEAQ (SI)(R11*4), SI")
		default:
			for j := 0; j < nbase; j++ {
				a.f("ADDQ $%d, %s", steps*4, aBases[j])
			}
		}
		switch {
		case vr.bPacked:
			a.f("ADDQ $%d, DX", steps*k.bw()*4)
		case steps == 1:
			a.f("ADDQ R13, DX")
		default:
			a.f("LEAQ (DX)(R13*4), DX")
		}
	}
	l := name
	a.f("CMPQ CX, $%d", k.unroll)
	a.f("JLT %s_tail", l)
	a.label(l + "_loop")
	for u := 0; u < k.unroll; u++ {
		step(u)
	}
	advance(k.unroll)
	a.f("SUBQ $%d, CX", k.unroll)
	a.f("CMPQ CX, $%d", k.unroll)
	a.f("JGE %s_loop", l)
	a.label(l + "_tail")
	a.f("TESTQ CX, CX")
	a.f("JEQ %s_store", l)
	a.label(l + "_one")
	step(0)
	advance(1)
	a.f("DECQ CX")
	a.f("JNE %s_one", l)

	// Store: C = alpha·acc (beta == 0, C is not read) or
	// C = alpha·acc + beta·C, as two roundings (a product then a sum) so
	// that the Go edge-tile code computes bit-identical values.
	alpha, beta, tmp := breg(0), bc(0), bc(1)
	if nv > 1 {
		beta = breg(1)
	}
	a.label(l + "_store")
	a.f("VBROADCASTSS alpha+56(FP), %s", alpha)
	a.f("MOVL beta+60(FP), AX")
	a.f("SHLL $1, AX") // drop the sign: -0 is zero too
	a.f("JEQ %s_noload", l)
	a.f("VBROADCASTSS beta+60(FP), %s", beta)
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := k.acc(i, v)
			a.f("VMULPS %s, %s, %s", alpha, r, r)
			a.f("VMULPS %d(DI), %s, %s", v*vb, beta, tmp)
			a.f("VADDPS %s, %s, %s", tmp, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, v*vb)
		}
		a.f("ADDQ R8, DI")
	}
	a.f("VZEROUPPER")
	a.f("RET")
	a.label(l + "_noload")
	// alpha = 1 (the usual case) stores the sums as they are: 1·t = t.
	a.f("MOVL alpha+56(FP), AX")
	a.f("CMPL AX, $0x3f800000")
	a.f("JEQ %s_one_alpha", l)
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := k.acc(i, v)
			a.f("VMULPS %s, %s, %s", alpha, r, r)
			a.f("VMOVUPS %s, %d(DI)", r, v*vb)
		}
		a.f("ADDQ R8, DI")
	}
	a.f("VZEROUPPER")
	a.f("RET")
	a.label(l + "_one_alpha")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			a.f("VMOVUPS %s, %d(DI)", k.acc(i, v), v*vb)
		}
		a.f("ADDQ R8, DI")
	}
	a.f("VZEROUPPER")
	a.f("RET")
}
