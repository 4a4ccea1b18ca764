//go:build !amd64 || purego

package tensor

import "github.com/graftml/graft/kernels"

// gemmKernelFor returns the microkernel and blocking of tier t; builds
// without assembly have only the generic one.
func gemmKernelFor(kernels.Tier) *gemmKernel { return genericGemmKernel() }

// standInKernelFor is gemmKernelFor: NewCPU refuses stand-ins in builds
// without assembly (kernels.StandInsSupported).
func standInKernelFor(kernels.Tier) *gemmKernel { return genericGemmKernel() }

func callAsmKernel(kernelID, int, []float32, int, int, []float32, bool, int, []float32, int, float32, float32) {
	panic("tensor: no assembly SGEMM kernels in this build")
}

func callAsmTiles(kernelID, int, int, bool, int, []float32, int, int, int, []float32, bool, int, []float32, int, int, float32, float32, []float32, FusedAct) {
	panic("tensor: no assembly SGEMM kernels in this build")
}

func callAsmMaskedTiles(int, int, []float32, int, int, int, []float32, []float32, int, int, float32, float32, []float32, FusedAct, int) {
	panic("tensor: no assembly SGEMM kernels in this build")
}

func callAsmShort(int, int, []float32, []float32, bool, int, []float32, int, float32, float32) {
	panic("tensor: no assembly SGEMM kernels in this build")
}

func packRows12([]float32, []float32, int, int) int { return 0 }
