package main

import (
	"bytes"
	"fmt"
	"strings"
)

// sgdVariant is one AVX2 SGD update kernel: without a momentum buffer, or
// with one (PyTorch's first step stores d instead of momentum·buf + d), with
// or without Nesterov momentum.
type sgdVariant struct {
	name                      string
	momentum, first, nesterov bool
}

var sgdVariants = []sgdVariant{
	{name: "SGDAVX2"},
	{name: "SGDMomentumAVX2", momentum: true},
	{name: "SGDMomentumFirstAVX2", momentum: true, first: true},
	{name: "SGDNesterovAVX2", momentum: true, nesterov: true},
	{name: "SGDNesterovFirstAVX2", momentum: true, nesterov: true, first: true},
}

// genOptimAsm writes the fused optimizer-update kernels. Every operation is
// a separate VMULPS, VADDPS, VSUBPS, VDIVPS or VSQRTPS (no fused
// multiply-add), in the order the Go references in package tensor round
// them, so both give the same bits.
func genOptimAsm() []byte {
	var a asm
	a.raw(header)
	a.raw("//go:build !purego\n\n#include \"textflag.h\"\n")
	for _, v := range sgdVariants {
		genSGD(&a, v, vec256)
	}
	genAdam(&a, false, vec256)
	genAdam(&a, true, vec256)
	return a.Bytes()
}

// vecISA is the vector width a kernel template is written at.
type vecISA struct {
	reg   string // "Y" or "Z"
	lanes int    // floats per vector
	tier  string // name suffix: "AVX2" or "AVX512"
}

var (
	vec256 = vecISA{reg: "Y", lanes: 8, tier: "AVX2"}
	vec512 = vecISA{reg: "Z", lanes: 16, tier: "AVX512"}
)

// r names vector register i.
func (v vecISA) r(i int) string { return fmt.Sprintf("%s%d", v.reg, i) }

// bytes is a vector's size in bytes.
func (v vecISA) bytes() int { return 4 * v.lanes }

// name turns an AVX2 kernel name into this width's.
func (v vecISA) name(avx2 string) string { return strings.Replace(avx2, "AVX2", v.tier, 1) }

// ld and st are a plain or (AVX-512 tail) K1-masked vector load and store.
func (v vecISA) ld(a *asm, masked bool, addr, r string) {
	if masked {
		a.f("VMOVUPS.Z %s, K1, %s", addr, r)
	} else {
		a.f("VMOVUPS %s, %s", addr, r)
	}
}

func (v vecISA) st(a *asm, masked bool, r, addr string) {
	if masked {
		a.f("VMOVUPS %s, K1, %s", r, addr)
	} else {
		a.f("VMOVUPS %s, %s", r, addr)
	}
}

// genSGD writes one SGD kernel, two vectors per iteration, then one; at
// 16 lanes the last n mod 16 floats run once more under the K1 mask.
// Registers: CX floats left; DI w, SI g, DX buf; V15 lr, V14 momentum,
// V13 wd; V0–V3 and V4–V7 the two vectors' temporaries.
func genSGD(a *asm, v sgdVariant, vi vecISA) {
	l := vi.name(v.name)
	fmt.Fprintf(&a.Buffer, "\n// func %s(n int, w, gr, buf *float32, lr, momentum, wd float32)\n", l)
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-44\n", l)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ w+8(FP), DI")
	a.f("MOVQ gr+16(FP), SI")
	if v.momentum {
		a.f("MOVQ buf+24(FP), DX")
	}
	a.f("VBROADCASTSS lr+32(FP), %s", vi.r(15))
	a.f("VBROADCASTSS momentum+36(FP), %s", vi.r(14))
	a.f("VBROADCASTSS wd+40(FP), %s", vi.r(13))
	body := func(off, r int, masked bool) {
		w, d, b, t := vi.r(r), vi.r(r+1), vi.r(r+2), vi.r(r+3)
		vi.ld(a, masked, fmt.Sprintf("%d(DI)", off), w)
		a.f("VMULPS %s, %s, %s", w, vi.r(13), d) // wd·w
		if masked {
			vi.ld(a, true, fmt.Sprintf("%d(SI)", off), t)
			a.f("VADDPS %s, %s, %s", t, d, d)
		} else {
			a.f("VADDPS %d(SI), %s, %s", off, d, d) // d = g + wd·w
		}
		if v.momentum {
			if v.first {
				b = d // buf = d
			} else {
				if masked {
					vi.ld(a, true, fmt.Sprintf("%d(DX)", off), b)
					a.f("VMULPS %s, %s, %s", b, vi.r(14), b)
				} else {
					a.f("VMULPS %d(DX), %s, %s", off, vi.r(14), b) // momentum·buf
				}
				a.f("VADDPS %s, %s, %s", d, b, b) // buf = momentum·buf + d
			}
			vi.st(a, masked, b, fmt.Sprintf("%d(DX)", off))
			if v.nesterov {
				a.f("VMULPS %s, %s, %s", b, vi.r(14), t) // momentum·buf
				a.f("VADDPS %s, %s, %s", t, d, d)        // d += momentum·buf
			} else {
				d = b
			}
		}
		a.f("VMULPS %s, %s, %s", d, vi.r(15), d) // lr·d
		a.f("VSUBPS %s, %s, %s", d, w, w)        // w − lr·d
		vi.st(a, masked, w, fmt.Sprintf("%d(DI)", off))
	}
	step := func(by int) {
		a.f("ADDQ $%d, DI", by)
		a.f("ADDQ $%d, SI", by)
		if v.momentum {
			a.f("ADDQ $%d, DX", by)
		}
	}
	n2 := 2 * vi.lanes
	a.f("CMPQ CX, $%d", n2)
	a.f("JLT %s_tail", l)
	a.label(l + "_loop")
	body(0, 0, false)
	body(vi.bytes(), 4, false)
	step(2 * vi.bytes())
	a.f("SUBQ $%d, CX", n2)
	a.f("CMPQ CX, $%d", n2)
	a.f("JGE %s_loop", l)
	a.label(l + "_tail")
	if vi.reg == "Y" {
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_done", l)
		body(0, 0, false)
	} else {
		a.f("CMPQ CX, $16")
		a.f("JLT %s_mask", l)
		body(0, 0, false)
		step(vi.bytes())
		a.f("SUBQ $16, CX")
		a.label(l + "_mask")
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_done", l)
		tailMask512(a)
		body(0, 0, true)
	}
	a.label(l + "_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genAdam writes AdamAVX2 (decoupled false) or AdamWAVX2, or their
// AVX-512 twins (any n, the last n mod 16 under the K1 mask), one vector
// per iteration (the square root and the two divisions bound it, not the
// loop). Registers: CX floats left; DI w, SI g, DX m, R8 v, R9 the
// constants c; V8 β1, V9 1−β1, V10 β2, V11 1−β2, V12 eps, V13 wd,
// V14 stepSize, V15 sqrtBC2, V7 decay; V0–V5 temporaries.
func genAdam(a *asm, decoupled bool, vi vecISA) {
	l := vi.name("AdamAVX2")
	if decoupled {
		l = vi.name("AdamWAVX2")
	}
	fmt.Fprintf(&a.Buffer, "\n// func %s(n int, w, gr, m, v, c *float32)\n", l)
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-48\n", l)
	a.f("MOVQ n+0(FP), CX")
	a.f("MOVQ w+8(FP), DI")
	a.f("MOVQ gr+16(FP), SI")
	a.f("MOVQ m+24(FP), DX")
	a.f("MOVQ v+32(FP), R8")
	a.f("MOVQ c+40(FP), R9")
	for i := 0; i < 8; i++ {
		a.f("VBROADCASTSS %d(R9), %s", 4*i, vi.r(8+i))
	}
	a.f("VBROADCASTSS 32(R9), %s", vi.r(7))
	r := vi.r
	body := func(masked bool) {
		vi.ld(a, masked, "(DI)", r(0)) // w
		vi.ld(a, masked, "(SI)", r(1)) // d = g
		if decoupled {
			a.f("VMULPS %s, %s, %s", r(7), r(0), r(0)) // w = w·decay
		} else {
			a.f("VMULPS %s, %s, %s", r(0), r(13), r(2)) // wd·w
			a.f("VADDPS %s, %s, %s", r(2), r(1), r(1))  // d = g + wd·w
		}
		if masked {
			vi.ld(a, true, "(DX)", r(5))
			a.f("VMULPS %s, %s, %s", r(5), r(8), r(2))
		} else {
			a.f("VMULPS (DX), %s, %s", r(8), r(2)) // β1·m
		}
		a.f("VMULPS %s, %s, %s", r(1), r(9), r(3)) // (1−β1)·d
		a.f("VADDPS %s, %s, %s", r(3), r(2), r(2)) // m = β1·m + (1−β1)·d
		vi.st(a, masked, r(2), "(DX)")
		if masked {
			vi.ld(a, true, "(R8)", r(5))
			a.f("VMULPS %s, %s, %s", r(5), r(10), r(3))
		} else {
			a.f("VMULPS (R8), %s, %s", r(10), r(3)) // β2·v
		}
		a.f("VMULPS %s, %s, %s", r(1), r(11), r(4)) // (1−β2)·d
		a.f("VMULPS %s, %s, %s", r(1), r(4), r(4))  // ((1−β2)·d)·d
		a.f("VADDPS %s, %s, %s", r(4), r(3), r(3))  // v = β2·v + ((1−β2)·d)·d
		vi.st(a, masked, r(3), "(R8)")
		a.f("VSQRTPS %s, %s", r(3), r(3))
		a.f("VDIVPS %s, %s, %s", r(15), r(3), r(3)) // √v / sqrtBC2
		a.f("VADDPS %s, %s, %s", r(12), r(3), r(3)) // + eps
		a.f("VMULPS %s, %s, %s", r(2), r(14), r(2)) // stepSize·m
		a.f("VDIVPS %s, %s, %s", r(3), r(2), r(2))  // stepSize·m / (√v/sqrtBC2 + eps)
		a.f("VSUBPS %s, %s, %s", r(2), r(0), r(0))
		vi.st(a, masked, r(0), "(DI)")
	}
	if vi.reg == "Y" {
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_done", l)
	} else {
		a.f("CMPQ CX, $16")
		a.f("JLT %s_tail", l)
	}
	a.label(l + "_loop")
	body(false)
	for _, p := range []string{"DI", "SI", "DX", "R8"} {
		a.f("ADDQ $%d, %s", vi.bytes(), p)
	}
	a.f("SUBQ $%d, CX", vi.lanes)
	if vi.reg == "Y" {
		a.f("JNE %s_loop", l)
	} else {
		a.f("CMPQ CX, $16")
		a.f("JGE %s_loop", l)
		a.label(l + "_tail")
		a.f("TESTQ CX, CX")
		a.f("JEQ %s_done", l)
		tailMask512(a)
		body(true)
	}
	a.label(l + "_done")
	a.f("VZEROUPPER")
	a.f("RET")
}

// genOptimDecls writes the Go declarations of the optimizer kernels.
func genOptimDecls() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("//go:build !purego\n\npackage amd64\n")
	optimDecls(&b, vec256)
	return b.Bytes()
}

// optimDecls writes the declarations of the optimizer kernels at width vi.
func optimDecls(b *bytes.Buffer, vi vecISA) {
	nOK := "n a multiple of 8"
	if vi.reg == "Z" {
		nOK = "any n"
	}
	for _, v := range sgdVariants {
		var doc string
		switch {
		case !v.momentum:
			doc = "without a momentum buffer (buf and momentum unused):\n//\n//\td = gr[i] + wd·w[i]\n//\tw[i] = w[i] − lr·d"
		default:
			doc = "with a momentum buffer"
			if v.first {
				doc += " on its first step"
			}
			if v.nesterov {
				doc += " and Nesterov momentum"
			}
			doc += ":\n//\n//\td = gr[i] + wd·w[i]\n"
			if v.first {
				doc += "//\tbuf[i] = d\n"
			} else {
				doc += "//\tbuf[i] = momentum·buf[i] + d\n"
			}
			if v.nesterov {
				doc += "//\td = d + momentum·buf[i]\n"
			} else {
				doc += "//\td = buf[i]\n"
			}
			doc += "//\tw[i] = w[i] − lr·d"
		}
		fmt.Fprintf(b, `
// %s is an SGD update of w[i] for i < n (%s),
// %s
//
// every product, sum and difference rounded to float32 (no fused
// multiply-adds).
//
//go:noescape
func %s(n int, w, gr, buf *float32, lr, momentum, wd float32)
`, vi.name(v.name), nOK, doc, vi.name(v.name))
	}
	fmt.Fprintf(b, `
// %[1]s is an Adam update of w, m and v at i < n (%[3]s),
// with c = [β1, 1−β1, β2, 1−β2, eps, wd, stepSize, sqrtBC2, decay]:
//
//	d = gr[i] + wd·w[i]
//	m[i] = β1·m[i] + (1−β1)·d
//	v[i] = β2·v[i] + ((1−β2)·d)·d
//	w[i] = w[i] − (stepSize·m[i]) / (√v[i]/sqrtBC2 + eps)
//
// every operation rounded to float32 (no fused multiply-adds; decay unused).
//
//go:noescape
func %[1]s(n int, w, gr, m, v, c *float32)

// %[2]s is %[1]s with decoupled weight decay (AdamW; wd unused):
// w[i] = w[i]·decay first, and d = gr[i].
//
//go:noescape
func %[2]s(n int, w, gr, m, v, c *float32)
`, vi.name("AdamAVX2"), vi.name("AdamWAVX2"), nOK)
}
