//go:build amd64 && !purego

package tensor

import (
	"sync"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/amd64"
)

var (
	avx2Kernel, avx512Kernel *gemmKernel
	asmKernelsOnce           sync.Once
)

// gemmKernelFor returns the microkernel and blocking of tier t.
func gemmKernelFor(t kernels.Tier) *gemmKernel {
	asmKernelsOnce.Do(func() {
		cs := kernels.CacheSizes()
		avx2Kernel = blockFor(kidAVX2, amd64.SgemmAVX2x6x16MR, amd64.SgemmAVX2x6x16NR, cs)
		avx512Kernel = blockFor(kidAVX512, amd64.SgemmAVX512x12x32MR, amd64.SgemmAVX512x12x32NR, cs)
	})
	switch t {
	case kernels.AVX512:
		return avx512Kernel
	case kernels.AVX2:
		return avx2Kernel
	}
	return genericGemmKernel()
}

// callAsmKernel calls the assembly microkernel id directly.
func callAsmKernel(id kernelID, kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	switch id {
	case kidAVX2:
		amd64.SgemmAVX2x6x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	case kidAVX512:
		amd64.SgemmAVX512x12x32(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	default:
		panic("tensor: unknown SGEMM kernel")
	}
}
