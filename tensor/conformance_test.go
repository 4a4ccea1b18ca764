package tensor_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/childtest"
	"github.com/graftml/graft/kernels/cuda"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// The conformance suite (tensor/tensortest): every Backend method, on
// shapes with ragged edges, against the Reference backend. It runs on the
// CPU at every kernel tier this machine has and, when a GPU answers (or on
// the CUDA emulator, TestConformanceOnEmulator), on the CUDA backend.

// TestConformance runs the suite on the CPU backend at every tier, and on
// the CUDA backend when a GPU (or the emulator) answers.
func TestConformance(t *testing.T) {
	t.Run("cpu", func(t *testing.T) {
		tensortest.ForEachCPU(t, func(t *testing.T, cpu tensor.CPU) {
			t.Parallel()
			tensortest.Run(t, cpu)
		})
	})
	t.Run("cuda", func(t *testing.T) {
		c, ok := tensor.Default().(tensor.CUDA)
		if !ok {
			if _, err := cuda.Probe(); err != nil {
				t.Skipf("no GPU (%v): the CUDA backend's suite runs on a GPU, and on the emulator in TestConformanceOnEmulator", err)
			}
			var err error
			if c, err = tensor.NewCUDA(); err != nil {
				t.Fatalf("a GPU answers, but NewCUDA: %v", err)
			}
		}
		t.Log(c.Name())
		tensortest.Run(t, c)
		s := c.Stats()
		t.Logf("copies: %d up (%d bytes), %d down (%d bytes); memory %+v", s.HostToDevice, s.HostToDeviceBytes, s.DeviceToHost, s.DeviceToHostBytes, s.Memory)
	})
}

// emuHint says how to build the CUDA emulator and point the tests at it.
const emuHint = "tools/cudaemu/build.sh /tmp/cudaemu && GRAFT_CUDAEMU_LIB=/tmp/cudaemu/libcuda.so.1 go test ./tensor"

// TestConformanceOnEmulator runs the CUDA backend's tests (the suite's
// cuda half and TestCUDA…) without a GPU, in a child test binary whose
// driver library is tools/cudaemu's emulator, named by GRAFT_CUDAEMU_LIB.
// It skips when that is unset, except under CI=true, and with -short.
func TestConformanceOnEmulator(t *testing.T) {
	lib := childtest.EmulatorLib(t, emuHint)
	stdout, stderr, code := childtest.ExecTests(t, `^(TestConformance|TestCUDA\w*)$`, "GRAFT_CUDA_LIB="+lib, "GRAFT_DEVICE=cuda")
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("the CUDA backend's tests failed on the emulator (exit %d):\n%s", code, out)
	}
	if !strings.Contains(out, "cudaemu (fibers on the CPU)") {
		t.Fatalf("the child's device is not the emulator: is %s tools/cudaemu's libcuda.so.1?\n%s", lib, out)
	}
	// again with little device memory, for the test that needs it
	stdout, stderr, code = childtest.ExecTests(t, `^TestCUDAMemoryPressure$`, "GRAFT_CUDA_LIB="+lib, "GRAFT_DEVICE=cuda", "CUDAEMU_MEM_LIMIT=200000")
	if code != 0 || !strings.Contains(stdout, "--- PASS: TestCUDAMemoryPressure") {
		t.Fatalf("TestCUDAMemoryPressure on the emulator (exit %d):\n%s%s", code, stdout, stderr)
	}
	out += stdout
	for _, m := range regexp.MustCompile(`(?m)^\s*--- (PASS|SKIP|FAIL): (\S+) \(([^)]*)\)$`).FindAllStringSubmatch(out, -1) {
		if m[1] == "SKIP" && (strings.HasPrefix(m[2], "TestConformance/cuda") || strings.HasPrefix(m[2], "TestCUDAStateMachine")) {
			t.Errorf("%s skipped on the emulator:\n%s", m[2], out)
		}
		t.Logf("%s: %s on the emulator (%s)", m[2], m[1], m[3])
	}
}
