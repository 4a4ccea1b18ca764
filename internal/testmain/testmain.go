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
// The CUDA backend's own tests open it themselves, or run where
// GRAFT_DEVICE=cuda is set (bench/gpu/run.sh, the emulator children).
func CPUByDefault(m *testing.M) {
	if _, set := os.LookupEnv("GRAFT_DEVICE"); !set {
		os.Setenv("GRAFT_DEVICE", "cpu")
	}
	os.Exit(m.Run())
}
