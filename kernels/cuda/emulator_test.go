package cuda_test

import (
	"strings"
	"testing"

	"github.com/graftml/graft/internal/cudatest"
)

// TestKernelsOnEmulator checks that where GRAFT_CUDAEMU_LIB names
// tools/cudaemu's emulator, the CUDA kernel tests of this process
// (gpu_kernels_test.go, and the Allocator's) run on it, on the CPU: the
// device they find is the emulator's. The emulator runs the kernels' CUDA
// C source compiled by g++ (see tools/cudaemu/README.md for what that
// checks and what it cannot). Without the variable the kernel tests run
// on a GPU, or skip; under CI=true, where .ci/run builds the emulator,
// its absence is a failure.
func TestKernelsOnEmulator(t *testing.T) {
	if !cudatest.Emulated() {
		cudatest.Library(t, "kernels/cuda") // fails under CI=true
		t.Skipf("GRAFT_CUDAEMU_LIB is unset; to run the CUDA kernel tests on the CPU emulator: %s", cudatest.Hint("kernels/cuda"))
	}
	g := useGPU(t)
	if !strings.Contains(g.info.Name, "cudaemu") {
		t.Fatalf("the device is %q, not the emulator: is GRAFT_CUDAEMU_LIB tools/cudaemu's libcuda.so.1?", g.info.Name)
	}
	t.Logf("the CUDA kernel tests run on %s", g.info)
}
