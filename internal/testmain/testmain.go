// Package testmain holds the TestMain of graft's packages whose tests
// exercise the CPU backend through tensor's default backend.
package testmain

import (
	"os"
	"testing"
)

// CPUByDefault runs the tests on the CPU unless GRAFT_DEVICE is set (even
// to ""): on a machine with a GPU the default backend would be CUDA, and
// these packages' tests check the CPU's kernels, threads and allocations.
// The CUDA backend's tests open a backend of their own (tensor.NewCUDAWith,
// on the emulator or a GPU: internal/cudatest), and .ci/run and
// bench/gpu/run.sh set GRAFT_DEVICE=cuda to run a package's tests with the
// GPU as the default. It only sets a default for the process: no test
// re-executes the binary.
func CPUByDefault(m *testing.M) {
	if _, set := os.LookupEnv("GRAFT_DEVICE"); !set {
		os.Setenv("GRAFT_DEVICE", "cpu")
	}
	os.Exit(m.Run())
}
