// Package cudatest tells graft's tests which CUDA driver library their GPU
// code runs on, in the test process itself: tools/cudaemu's emulator
// (the kernels' CUDA C source compiled for the CPU) where
// GRAFT_CUDAEMU_LIB names it, else the system's driver. A process binds
// one driver library (cuda.LoadLibrary), so a test binary runs its GPU
// tests on one or the other, never both.
package cudatest

import (
	"os"
	"runtime"
	"testing"
)

// Library returns the driver library a package's GPU tests should open:
// the emulator named by GRAFT_CUDAEMU_LIB, or "" (the system's driver:
// GRAFT_CUDA_LIB, else libcuda.so.1) when that is unset. It skips tb with
// -short when the emulator is named (it is slow), and on platforms
// without the CUDA binding; it fails tb when the named file is missing,
// and when GRAFT_CUDAEMU_LIB is unset under CI=true (.ci/run builds the
// emulator, so the GPU code is tested there). pkg is the package's
// directory (tensor, nn/models), for the hint saying how to run it on the
// emulator.
func Library(tb testing.TB, pkg string) string {
	tb.Helper()
	hint := Hint(pkg)
	lib := os.Getenv("GRAFT_CUDAEMU_LIB")
	switch {
	case lib == "" && os.Getenv("CI") == "true":
		tb.Fatalf("GRAFT_CUDAEMU_LIB is unset under CI=true (.ci/run builds the emulator): %s", hint)
	case lib == "":
		return ""
	case runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64"):
		tb.Skipf("no CUDA binding on %s/%s", runtime.GOOS, runtime.GOARCH)
	case testing.Short():
		tb.Skip("-short: the CUDA code is slow on the emulator")
	}
	if _, err := os.Stat(lib); err != nil { // also makes go test's cache depend on the library
		tb.Fatalf("GRAFT_CUDAEMU_LIB: %v; build it with %s", err, hint)
	}
	return lib
}

// Emulated reports whether this test process runs its GPU tests on the
// emulator (GRAFT_CUDAEMU_LIB is set): then the tests that need the
// system's driver itself (no device, a real GPU) skip, since the process
// cannot bind both; .ci/run runs them in a test process of their own.
func Emulated() bool { return os.Getenv("GRAFT_CUDAEMU_LIB") != "" }

// Open calls open with the driver library the tests run on (Library) and
// returns what it opened, a CUDA backend say. Where open fails, it fails
// tb if the emulator was named (it must work), and skips tb otherwise:
// there is no GPU here.
func Open[T any](tb testing.TB, pkg string, open func(library string) (T, error)) T {
	tb.Helper()
	hint := Hint(pkg)
	lib := Library(tb, pkg)
	v, err := open(lib)
	switch {
	case err != nil && lib != "":
		tb.Fatalf("on the CUDA emulator %s: %v", lib, err)
	case err != nil:
		tb.Skipf("no GPU (%v): this runs on a GPU, or on the CPU emulator: %s", err, hint)
	}
	return v
}

// Hint says how to build the emulator and run the package in directory
// pkg's tests on it.
func Hint(pkg string) string {
	return "tools/cudaemu/build.sh /tmp/cudaemu && GRAFT_CUDAEMU_LIB=/tmp/cudaemu/libcuda.so.1 go test ./" + pkg
}
