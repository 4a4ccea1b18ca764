//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"sync"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/amd64"
)

var (
	avx2Kernel, avx512Kernel, avx512StandIns *gemmKernel
	asmKernelsOnce                           sync.Once
)

func makeAsmKernels() {
	cs := kernels.CacheSizes()
	avx2Kernel = blockFor(kidAVX2, amd64.SgemmAVX2x6x16MR, amd64.SgemmAVX2x6x16NR, cs)
	avx2Kernel.conv16 = true
	// F(4×4, 3×3) Winograd (its transforms are AVX2 kernels). Measured on
	// Zen 5 running this tier (BenchmarkConv2D, 1 thread, GFLOP/s, F(2×2)
	// → F(4×4)): r18_l1 forward 163–200 → 234–266, backward data 165–175
	// → 234–278; r18_l2 213 → 294–328, 157–181 → 284–308; r18_l4 106–134
	// → 176–200, 146 → 191–205. Not measured on an AVX2-only CPU.
	avx2Kernel.wino4 = true
	avx2Kernel.tapWGradMaxKWC = 4 * gatherBelow
	// The AVX-512 tier: its own 12×32 SGEMM; the AVX2 convolution
	// kernels, borrowed.
	avx512Kernel = blockFor(kidAVX512, amd64.SgemmAVX512x12x32MR, amd64.SgemmAVX512x12x32NR, cs)
	avx512Kernel.conv16 = true
	avx512Kernel.wino4 = true
	// Zen 5, weight gradients through im2col and the 12×32 SGEMM against
	// the tap kernels (GFLOP/s, medians of 3): r18_l1 (KW·C = 192) 132
	// against 93 on the AVX2 ones, 120 against 143 on ConvWGradAVX512;
	// mnist_c2 (160) 125 against 156, r18_l2 (384) 162 against 177,
	// r18_l3 (768) 176 against 157, r18_l4 (1536) 155 against 102.
	avx512Kernel.tapWGradMaxKWC = 8 * gatherBelow
	// and forward (mnist_c2, KW·C = 160): 107 GFLOP/s on the AVX2 gather
	// kernel, 162 as 12×32 tiles.
	avx512Kernel.tilesOverGather = true
	avx512Kernel.rowNR = 32
	avx512Kernel.wgradNR = 64
	avx512Kernel.dotRows12 = true
	avx512Kernel.dw512 = true
	avx512Kernel.shortRows = true
	avx512Kernel.packRowsMin = 512
	s := *avx512Kernel
	s.id = kidStandIn
	avx512StandIns = &s
	// Edges of 7–11 rows through the 12-row epilogue kernels on a copy
	// (edgeRows), not a tile into tmp, Go's merge and epilogue (Zen 5, 1
	// thread, 140×64×384 with bias and ReLU6: 36–41 → 32–34 µs, 132 rows
	// 29–31); edges of up to 6 rows stay on the short kernels, as fast or
	// faster there (49×960×160: 77–81 µs against 89 through edgeRows).
	// The stand-ins keep the Go edge path (edgeRows calls assembly).
	avx512Kernel.edgeRowsMin = 7
}

// gemmKernelFor returns the kernel set of tier t.
func gemmKernelFor(t kernels.Tier) *gemmKernel {
	asmKernelsOnce.Do(makeAsmKernels)
	switch t {
	case kernels.AVX512:
		return avx512Kernel
	case kernels.AVX2:
		return avx2Kernel
	}
	return genericGemmKernel()
}

// standInKernelFor returns tier t's kernel set with its own kernels
// replaced by their pure-Go stand-ins (the same geometry and blocking).
func standInKernelFor(t kernels.Tier) *gemmKernel {
	asmKernelsOnce.Do(makeAsmKernels)
	if t == kernels.AVX512 {
		return avx512StandIns
	}
	return gemmKernelFor(t)
}

// callAsmKernel calls the assembly microkernel id, in the variant for the
// operand layouts, directly (not through a func value).
func callAsmKernel(id kernelID, kc int, a []float32, aMode int, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	v := aMode << 1
	if !bPacked {
		v++
	}
	pa, pb, pc := &a[0], &b[0], &c[0]
	switch int(id)<<3 | v {
	case int(kidAVX2)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX2x6x16PP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX2x6x16PR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX2x6x16RP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16RR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX2x6x16TP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX2)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX2x6x16TR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aPackedPanel<<1:
		amd64.SgemmAVX512x12x32PP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aPackedPanel<<1 | 1:
		amd64.SgemmAVX512x12x32PR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aRowsInPlace<<1:
		amd64.SgemmAVX512x12x32RP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aRowsInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32RR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aTransInPlace<<1:
		amd64.SgemmAVX512x12x32TP(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	case int(kidAVX512)<<3 | aTransInPlace<<1 | 1:
		amd64.SgemmAVX512x12x32TR(kc, pa, lda, pb, ldb, pc, ldc, alpha, beta)
	default:
		panic("tensor: unknown SGEMM kernel")
	}
}

// packAsm reports whether packRows12 may run its AVX2 kernel.
var packAsm, _ = kernels.Supported(kernels.AVX2)

// packRows12 packs the first columns of 12 rows of a (row stride lda)
// that PackA12AVX2 takes, eight at a time, into d as transposeRows does,
// and returns how many it packed (0 without AVX2).
func packRows12(d, a []float32, lda, kc int) int {
	np := kc / 8
	if !packAsm || np == 0 {
		return 0
	}
	_, _ = a[11*lda+8*np-1], d[96*np-1]
	amd64.PackA12AVX2(np, &a[0], lda, &d[0])
	return 8 * np
}

// tileBounds panics unless the slices hold everything the kernels of
// tier id read and write for nt tiles down the rows (tile t's A at
// a[t·aStep:], C at c[t·cStep:]), up to the last tile's furthest element:
// the assembly checks nothing. C is checked to column nr.
func tileBounds(id kernelID, nt, kc int, a []float32, aMode, aStep, lda int, b []float32, bPacked bool, ldb int, c []float32, cStep, ldc, nr int) {
	mr, nrFull := amd64.SgemmAVX2x6x16MR, amd64.SgemmAVX2x6x16NR
	if id == kidAVX512 {
		mr, nrFull = amd64.SgemmAVX512x12x32MR, amd64.SgemmAVX512x12x32NR
	}
	last := (nt - 1) * aStep
	switch aMode {
	case aPackedPanel:
		_ = a[last+mr*kc-1]
	case aRowsInPlace:
		_ = a[last+(mr-1)*lda+kc-1]
	default:
		_ = a[last+(kc-1)*lda+mr-1]
	}
	if bPacked {
		_ = b[kc*nrFull-1]
	} else {
		_ = b[(kc-1)*ldb+nrFull-1]
	}
	_ = c[(nt-1)*cStep+(mr-1)*ldc+nr-1]
}

// callAsmTiles runs the assembly microkernel id on nt whole tiles down
// the rows, with epi through the epilogue (the Sgemm…E kernels): bias[j]
// added to column j (bias nil: none; else it holds nr floats), then act,
// in registers before the store. Tile t reads A from a[t·aStep:] and
// writes c[t·cStep:]. One switch, then a loop of direct kernel calls.
// Without epi it calls the epilogue kernels too, with no flags: they then
// compute what the plain kernels do, bit for bit (the same products and
// sums, the multiplication by alpha skipped where alpha is 1).
func callAsmTiles(id kernelID, nr, nt int, epi bool, kc int, a []float32, aMode, aStep, lda int, b []float32, bPacked bool, ldb int, c []float32, cStep, ldc int, alpha, beta float32, bias []float32, act FusedAct) {
	v := aMode << 1
	if !bPacked {
		v++
	}
	tileBounds(id, nt, kc, a, aMode, aStep, lda, b, bPacked, ldb, c, cStep, ldc, nr)
	pb := &b[0]
	pbias, flags := &c[0], 0
	if epi {
		pbias, flags = epiArgs(bias, nr, &c[0], act)
	}
	lo, hi := act.Lo, act.Hi
	switch int(id)<<3 | v {
	case int(kidAVX2)<<3 | aPackedPanel<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16PPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX2)<<3 | aPackedPanel<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16PRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX2)<<3 | aRowsInPlace<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16RPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX2)<<3 | aRowsInPlace<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16RRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX2)<<3 | aTransInPlace<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16TPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX2)<<3 | aTransInPlace<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX2x6x16TRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aPackedPanel<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32PPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aPackedPanel<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32PRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aRowsInPlace<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32RPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aRowsInPlace<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32RRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aTransInPlace<<1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32TPE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	case int(kidAVX512)<<3 | aTransInPlace<<1 | 1:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32TRE(kc, &a[o], lda, pb, ldb, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags)
		}
	default:
		panic("tensor: unknown SGEMM kernel")
	}
}

// callAsmShort calls the AVX-512 tier's short microkernel of mr = 3 or 6
// rows (SgemmAVX512x3x32 or SgemmAVX512x6x32) on an mr-row packed panel
// of A and 32 columns of B, packed or rows with stride ldb.
func callAsmShort(mr, kc int, a, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	const nr = amd64.SgemmAVX512x3x32NR // = SgemmAVX512x6x32NR
	_ = a[kc*mr-1]
	if bPacked {
		_ = b[kc*nr-1]
		ldb = nr // unused by the PP kernels
	} else {
		_ = b[(kc-1)*ldb+nr-1]
	}
	_ = c[(mr-1)*ldc+nr-1]
	pa, pb, pc := &a[0], &b[0], &c[0]
	switch {
	case mr == amd64.SgemmAVX512x3x32MR && bPacked:
		amd64.SgemmAVX512x3x32PP(kc, pa, 0, pb, ldb, pc, ldc, alpha, beta)
	case mr == amd64.SgemmAVX512x3x32MR:
		amd64.SgemmAVX512x3x32PR(kc, pa, 0, pb, ldb, pc, ldc, alpha, beta)
	case mr == amd64.SgemmAVX512x6x32MR && bPacked:
		amd64.SgemmAVX512x6x32PP(kc, pa, 0, pb, ldb, pc, ldc, alpha, beta)
	case mr == amd64.SgemmAVX512x6x32MR:
		amd64.SgemmAVX512x6x32PR(kc, pa, 0, pb, ldb, pc, ldc, alpha, beta)
	default:
		panic(fmt.Sprintf("tensor: no %d-row AVX-512 SGEMM kernel", mr))
	}
}

// epiArgs returns the bias pointer (c0, unread, without a bias; else the
// bias holds nr floats) and the flags of an epilogue kernel call.
func epiArgs(bias []float32, nr int, c0 *float32, act FusedAct) (*float32, int) {
	flags, pbias := actFlags(act), c0
	if bias != nil {
		_ = bias[nr-1]
		pbias, flags = &bias[0], flags|amd64.EpiBias
	}
	return pbias, flags
}

// actFlags returns the flags (EpiClamp, with EpiClampQuick where hi is not
// ±0, or EpiReLU) that make an epilogue kernel, or DepthwiseRowAVX512,
// apply act.
func actFlags(act FusedAct) int {
	switch act.Kind {
	case FuseClamp:
		if act.Hi != 0 {
			return amd64.EpiClamp | amd64.EpiClampQuick
		}
		return amd64.EpiClamp
	case FuseReLU:
		return amd64.EpiReLU
	}
	return 0
}

// callAsmMaskedTiles runs the AVX-512 masked epilogue kernel
// (SgemmAVX512x12x32{P,R,T}PM, or SgemmAVX512x12x16{P,R,T}PM for nr ≤
// 16) on the first nr < 32 columns of nt 12×32 tiles down the rows, B
// packed (zero columns past nr): tile t reads A from a[t·aStep:] and
// writes c[t·cStep:]. C, and bias (nil: none), are read and written only
// in the first nr columns; act as callAsmTiles.
func callAsmMaskedTiles(nt, kc int, a []float32, aMode, aStep, lda int, b []float32, c []float32, cStep, ldc int, alpha, beta float32, bias []float32, act FusedAct, nr int) {
	tileBounds(kidAVX512, nt, kc, a, aMode, aStep, lda, b, true, 32, c, cStep, ldc, nr)
	pbias, flags := epiArgs(bias, nr, &c[0], act)
	pb, lo, hi := &b[0], act.Lo, act.Hi
	switch {
	case nr <= 16 && aMode == aPackedPanel:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x16PPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	case nr <= 16 && aMode == aRowsInPlace:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x16RPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	case nr <= 16 && aMode == aTransInPlace:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x16TPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	case aMode == aPackedPanel:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32PPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	case aMode == aRowsInPlace:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32RPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	case aMode == aTransInPlace:
		for t, o := 0, 0; t < nt; t, o = t+1, o+aStep {
			amd64.SgemmAVX512x12x32TPM(kc, &a[o], lda, pb, 32, &c[t*cStep], ldc, alpha, beta, pbias, lo, hi, flags, nr)
		}
	default:
		panic("tensor: unknown masked SGEMM kernel")
	}
}
