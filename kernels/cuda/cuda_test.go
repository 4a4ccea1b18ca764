package cuda

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/graftml/graft/internal/cudatest"
)

// installHint says how to get the driver library without a GPU.
const installHint = "on Debian add contrib non-free to the apt sources, then apt-get install --no-install-recommends libcuda1"

func TestErrorString(t *testing.T) {
	e := &Error{Code: 100, Name: "CUDA_ERROR_NO_DEVICE", Msg: "no CUDA-capable device is detected", Call: "cuInit"}
	if got, want := e.Error(), "cuda: cuInit: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &Error{Code: 12345, Call: "cuMemAlloc_v2"}
	if got, want := e.Error(), "cuda: cuMemAlloc_v2: CUresult (12345)"; got != want {
		t.Errorf("Error() without names = %q, want %q", got, want)
	}
}

func TestLaunchRejectsNilArgument(t *testing.T) {
	var n int32
	err := Launch(Function{}, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, Stream{}, unsafe.Pointer(&n), nil)
	if err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("Launch with a nil argument: %v", err)
	}
}

// TestProbeNoLibrary points the loader at a file that does not exist: an
// error matching ErrNoLibrary and naming the file, and nothing bound.
// Where no driver library is bound at all (no GRAFT_CUDA_LIB, no
// libcuda.so.1), every other call returns ErrNoLibrary too.
func TestProbeNoLibrary(t *testing.T) {
	const lib = "/nonexistent/libcuda.so.1"
	before := Loaded()
	err := LoadLibrary(lib)
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), lib) {
		t.Fatalf("LoadLibrary(%s) = %v, want ErrNoLibrary naming it", lib, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is not one line", err)
	}
	if Loaded() != before {
		t.Errorf("a failed LoadLibrary changed the bound library from %q to %q", before, Loaded())
	}
	t.Log(err)
	if cudatest.Emulated() || Loaded() != "" {
		return // a library is (or will be) bound in this process
	}
	if err := Load(); !errors.Is(err, ErrNoLibrary) {
		t.Logf("a driver library loads here (%v): the calls are checked against it in TestProbeNoDevice", err)
		return
	}
	checkCallsFail(t, func(err error) bool { return errors.Is(err, ErrNoLibrary) })
}

// TestLoadMissingSymbol loads a library that is not the driver (the C
// library): the first missing entry point is an error naming it, not a
// panic, and not ErrNoLibrary; nothing is bound, so a later LoadLibrary
// may still bind the driver.
func TestLoadMissingSymbol(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skip("no binding on this platform")
	}
	before := Loaded()
	err := LoadLibrary("libc.so.6")
	if err == nil || errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "lacks cuGetErrorName") {
		t.Fatalf("LoadLibrary of libc = %v, want an error naming the missing cuGetErrorName", err)
	}
	t.Log(err)
	if Loaded() != before {
		t.Errorf("a failed LoadLibrary changed the bound library from %q to %q", before, Loaded())
	}
}

// TestLoadLibraryOnce: loading the bound library again is nothing, and
// another one is an error naming both.
func TestLoadLibraryOnce(t *testing.T) {
	if _, err := probeForTest(t); Loaded() == "" {
		t.Skipf("no driver library to bind here (%v)", err)
	}
	lib := Loaded()
	if err := LoadLibrary(lib); err != nil {
		t.Errorf("loading the bound %s again: %v", lib, err)
	}
	if err := Load(); err != nil {
		t.Errorf("Load with %s bound: %v", lib, err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	// the emulator and the system's driver both have every entry point:
	// whichever is bound, the other cannot be
	other := os.Getenv("GRAFT_CUDAEMU_LIB")
	if other == lib || other == "" {
		other = DefaultLibrary
	}
	if other == lib {
		t.Skipf("%s is bound, and no other driver library is named (GRAFT_CUDAEMU_LIB)", lib)
	}
	err := LoadLibrary(other)
	switch {
	case errors.Is(err, ErrNoLibrary):
		t.Skipf("no second driver library here: %v", err)
	case err == nil || !strings.Contains(err.Error(), lib) || !strings.Contains(err.Error(), other):
		t.Errorf("LoadLibrary(%s) with %s bound = %v, want an error naming both", other, lib, err)
	}
	t.Log(err)
}

// TestProbeNoDevice needs the real driver library on a machine without a
// GPU (Debian's libcuda1): cuInit then reports CUDA_ERROR_NO_DEVICE. With
// a GPU the probe succeeds and the case is skipped; without the library it
// is skipped too, except under CI=true, where that is a failure. A test
// process whose GPU tests run on the emulator (GRAFT_CUDAEMU_LIB) cannot
// bind the real driver as well: it skips there, and .ci/run runs it in a
// test process of its own.
func TestProbeNoDevice(t *testing.T) {
	if cudatest.Emulated() {
		t.Skip("this process's driver is the emulator (GRAFT_CUDAEMU_LIB); run it without: go test -run TestProbeNoDevice ./kernels/cuda")
	}
	var info Info
	err := Load()
	if err == nil {
		info, err = Probe()
	}
	var ce *Error
	switch {
	case errors.Is(err, ErrNoLibrary):
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI installs it: %s)", err, installHint)
		}
		t.Skipf("%v; %s", err, installHint)
	case err == nil:
		if info.Name == "" || info.Major < 3 || info.SMs < 1 || info.TotalMem == 0 || info.WarpSize != 32 || info.DriverVersion < 1000 {
			t.Fatalf("Probe() = %+v", info)
		}
		t.Skipf("a GPU answered, so there is no no-device case to test: %v", info)
	case !errors.As(err, &ce):
		t.Fatalf("Probe() error = %v (%T), want *Error", err, err)
	}
	if ce.Code != CodeNoDevice || ce.Name != "CUDA_ERROR_NO_DEVICE" || ce.Call != "cuInit" || ce.Msg == "" {
		t.Fatalf("Probe() error = %#v, want cuInit's CUDA_ERROR_NO_DEVICE (100)", ce)
	}
	if info.DriverVersion < 1000 {
		t.Errorf("driver version %d, want it read before cuInit", info.DriverVersion)
	}
	t.Logf("%v (CUDA driver version %d)", err, info.DriverVersion)
	checkCallsFail(t, func(err error) bool { var e *Error; return errors.As(err, &e) })
}

// checkCallsFail calls the device functions with no usable device: each
// must return an error that ok accepts, not panic.
func checkCallsFail(t *testing.T, ok func(error) bool) {
	t.Helper()
	var x float32
	p := DevicePtr(0)
	calls := map[string]func() error{
		"DeviceCount": func() error { _, err := DeviceCount(); return err },
		"GetDevice":   func() error { _, err := GetDevice(0); return err },
		"PrimaryContext": func() error {
			_, err := Device(0).PrimaryContext()
			return err
		},
		"Context.Do": func() error { return Context{}.Do(func() error { return nil }) },
		"MemAlloc":   func() error { _, err := MemAlloc(4); return err },
		"MemcpyHtoD": func() error { return MemcpyHtoD(p, unsafe.Pointer(&x), 4) },
		"MemsetD32":  func() error { return MemsetD32(p, 0, 1) },
		"NewStream":  func() error { _, err := NewStream(0); return err },
		"LoadModule": func() error { _, err := LoadModule([]byte(testPTX)); return err },
		"NewEvent":   func() error { _, err := NewEvent(0); return err },
		"Launch": func() error {
			return Launch(Function{}, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, Stream{}, unsafe.Pointer(&x))
		},
		"ElapsedTime": func() error { _, err := ElapsedTime(Event{}, Event{}); return err },
	}
	for name, call := range calls {
		if err := call(); !ok(err) {
			t.Errorf("%s: error %v (%T)", name, err, err)
		}
	}
}
