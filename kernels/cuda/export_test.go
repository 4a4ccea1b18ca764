package cuda

import "testing"

// Test hooks for the external tests (package cuda_test).

// ProbeForTest binds the driver library the GPU tests run on and probes
// device 0 (see probeForTest).
func ProbeForTest(tb testing.TB) (Info, error) {
	tb.Helper()
	return probeForTest(tb)
}

// SetSgemmTile forces Sgemm's SIMT tile (64 or 128; 0 lets it choose).
func SetSgemmTile(k *Kernels, tile int) { k.tile = tile }

// SetGenericConv makes the convolutions use the implicit GEMM also where
// the depthwise kernels would run.
func SetGenericConv(k *Kernels, on bool) { k.gen = on }

// SetSplit forces the number of pixel slices of the weight gradients (0
// lets them choose).
func SetSplit(k *Kernels, n int) { k.split = n }
