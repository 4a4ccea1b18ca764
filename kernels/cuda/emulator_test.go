package cuda_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/childtest"
)

// emulatedTests matches the tests TestKernelsOnEmulator runs on the
// emulator: the kernel conformance tests (gpu_kernels_test.go), all named
// Test…CUDA…. Not TestLaunchScale: its kernel is PTX, which the emulator
// cannot run.
const emulatedTests = `^Test\w*CUDA\w*$`

// buildHint says how to build the emulator and point the tests at it.
const buildHint = "tools/cudaemu/build.sh /tmp/cudaemu && GRAFT_CUDAEMU_LIB=/tmp/cudaemu/libcuda.so.1 go test ./kernels/cuda"

// TestKernelsOnEmulator runs the CUDA kernel tests on the CPU, without a
// GPU: in a child test binary whose driver library (GRAFT_CUDA_LIB) is the
// emulator tools/cudaemu builds, named by GRAFT_CUDAEMU_LIB. The emulator
// runs the kernels' CUDA C source compiled by g++ (see
// tools/cudaemu/README.md for what that checks and what it cannot). It
// skips when GRAFT_CUDAEMU_LIB is unset, except under CI=true, and with
// -short (the tests take about 15 s on the emulator).
func TestKernelsOnEmulator(t *testing.T) {
	lib := childtest.EmulatorLib(t, buildHint)
	stdout, stderr, code := childtest.ExecTests(t, emulatedTests, "GRAFT_CUDA_LIB="+lib)
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("the kernel tests failed on the emulator %s (exit %d):\n%s", lib, code, out)
	}
	results := regexp.MustCompile(`(?m)^--- (PASS|SKIP|FAIL): (\w+) \(([^)]*)\)$`).FindAllStringSubmatch(out, -1)
	if len(results) == 0 {
		t.Fatalf("the child ran no test matching %s:\n%s", emulatedTests, out)
	}
	if !strings.Contains(out, "cudaemu (fibers on the CPU)") {
		t.Errorf("the child's device is not the emulator: is %s tools/cudaemu's libcuda.so.1?\n%s", lib, out)
	}
	for _, r := range results {
		if r[1] != "PASS" {
			t.Errorf("%s: %s on the emulator:\n%s", r[2], r[1], out)
			break
		}
		t.Logf("%s passed on the emulator (%s)", r[2], r[3])
	}
}
