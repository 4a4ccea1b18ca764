package tensor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/cudatest"
	"github.com/graftml/graft/kernels/cuda"
)

func TestChooseDevice(t *testing.T) {
	noLib := fmt.Errorf("%w: libcuda.so.1: cannot open shared object file", cuda.ErrNoLibrary)
	noDev := &cuda.Error{Code: 100, Name: "CUDA_ERROR_NO_DEVICE", Msg: "no CUDA-capable device is detected", Call: "cuInit"}
	h100 := cuda.Info{Name: "NVIDIA H100", Major: 9, SMs: 132, Devices: 1}
	cases := []struct {
		env       string
		info      cuda.Info
		probeErr  error
		probed    bool
		reason    []string // substrings of the report's reason
		checkErr  []string // substrings of CheckDevice's error; nil: no error
		gpuReport bool     // GPU is set
		openErr   error    // what starting the backend returns
		device    string   // the device chosen; "" means cpu
	}{
		{env: "", probeErr: noLib, probed: true, reason: []string{"GRAFT_DEVICE=auto: ", "no driver library", "libcuda.so.1"}},
		{env: "auto", probeErr: noDev, probed: true, reason: []string{"GRAFT_DEVICE=auto: ", "cuInit: CUDA_ERROR_NO_DEVICE (100)"}},
		{env: " Auto ", info: h100, probed: true, gpuReport: true, device: "cuda", reason: []string{"GRAFT_DEVICE=auto: found GPU NVIDIA H100"}},
		{env: "", info: h100, probed: true, gpuReport: true, openErr: cuda.ErrUnsupportedDevice, reason: []string{"found GPU NVIDIA H100, but cannot use it", "the CPU is used"}},
		{env: "cpu", info: h100, reason: []string{"GRAFT_DEVICE=cpu"}},
		{env: "cuda", probeErr: noLib, probed: true, reason: []string{"no driver library"}, checkErr: []string{"GRAFT_DEVICE=cuda", "not usable", "no driver library"}},
		{env: "CUDA", probeErr: noDev, probed: true, reason: []string{"CUDA_ERROR_NO_DEVICE"}, checkErr: []string{"GRAFT_DEVICE=cuda", "CUDA_ERROR_NO_DEVICE"}},
		{env: "cuda", info: h100, probed: true, gpuReport: true, device: "cuda", reason: []string{"GRAFT_DEVICE=cuda: found GPU NVIDIA H100"}},
		{env: "cuda", info: h100, probed: true, gpuReport: true, openErr: cuda.ErrUnsupportedDevice, reason: []string{"cannot use it"}, checkErr: []string{"GRAFT_DEVICE=cuda", "found GPU NVIDIA H100, but cannot use it"}},
		{env: "tpu", info: h100, reason: []string{`"tpu"`}, checkErr: []string{`GRAFT_DEVICE="tpu" is not a device`, "auto, cpu or cuda"}},
	}
	for _, c := range cases {
		probed := false
		open := func(cuda.Info) (CUDA, error) { return CUDA{&gpu{info: c.info}}, c.openErr }
		d := chooseDevice(c.env, func() (cuda.Info, error) { probed = true; return c.info, c.probeErr }, open)
		if c.device == "" {
			c.device = "cpu"
		}
		if _, isGPU := d.backend.(CUDA); d.Device != c.device || isGPU != (c.device == "cuda") || probed != c.probed || (d.GPU != "") != c.gpuReport {
			t.Errorf("GRAFT_DEVICE=%q: device %q, probed %v, GPU %q", c.env, d.Device, probed, d.GPU)
		}
		for _, want := range c.reason {
			if !strings.Contains(d.Reason, want) {
				t.Errorf("GRAFT_DEVICE=%q: reason %q lacks %q", c.env, d.Reason, want)
			}
		}
		if (d.err != nil) != (c.checkErr != nil) {
			t.Errorf("GRAFT_DEVICE=%q: CheckDevice error %v, want one: %v", c.env, d.err, c.checkErr != nil)
			continue
		}
		for _, want := range c.checkErr {
			if !strings.Contains(d.err.Error(), want) {
				t.Errorf("GRAFT_DEVICE=%q: CheckDevice error %q lacks %q", c.env, d.err, want)
			}
		}
		if d.err != nil && c.probeErr != nil && !errors.Is(d.err, c.probeErr) || d.err != nil && c.openErr != nil && !errors.Is(d.err, c.openErr) {
			t.Errorf("GRAFT_DEVICE=%q: CheckDevice error %v does not wrap the probe's", c.env, d.err)
		}
	}
}

// The tests below make the choice as the process would from GRAFT_DEVICE,
// with a driver library that does not exist (nothing is bound), or the
// system's.

const noLib = "/nonexistent/libcuda.so.1"

func TestDeviceReportNoLibrary(t *testing.T) {
	d := ChooseDevice("", noLib)
	t.Log(d)
	if d.Device != "cpu" || !strings.HasPrefix(d.String(), "cpu (GRAFT_DEVICE=auto: cuda: no driver library: /nonexistent/libcuda.so.1") {
		t.Errorf("ChooseDevice(\"\", %s) = %v", noLib, d)
	}
	if _, ok := d.Backend().(CPU); !ok || d.Err() != nil {
		t.Errorf("under auto without a driver: backend %v, error %v; want the CPU and no error", d.Backend(), d.Err())
	}
}

func TestCheckDeviceCUDANoLibrary(t *testing.T) {
	err := ChooseDevice("cuda", noLib).Err()
	if !errors.Is(err, cuda.ErrNoLibrary) || !strings.Contains(err.Error(), "GRAFT_DEVICE=cuda") || !strings.Contains(err.Error(), noLib) {
		t.Fatalf("ChooseDevice(cuda, %s).Err() = %v, want the missing library named", noLib, err)
	}
	t.Log(err)
}

// TestCheckDeviceCUDA demands CUDA from the system's driver, which fails
// without a GPU (no library, or no device); with one, CUDA is chosen. A
// test process whose GPU tests run on the emulator cannot bind the
// system's driver as well: it skips there (.ci/run runs it apart).
func TestCheckDeviceCUDA(t *testing.T) {
	if cudatest.Emulated() {
		t.Skip("this process's driver is the emulator (GRAFT_CUDAEMU_LIB); run it without: go test -run TestCheckDeviceCUDA ./tensor")
	}
	d := ChooseDevice("cuda", cuda.DefaultLibrary)
	err := d.Err()
	if _, perr := cuda.Probe(); perr == nil { // a GPU: it must be used
		if _, ok := d.Backend().(CUDA); err != nil || d.Device != "cuda" || !ok {
			t.Fatalf("a GPU answers, but ChooseDevice(cuda) = %v, error %v", d, err)
		}
		t.Log(d)
		return
	}
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("ChooseDevice(cuda).Err() = %v, want a one-line error", err)
	}
	if d.Device != "cpu" || d.Requested != "cuda" {
		t.Errorf("ChooseDevice(cuda) = %+v", d)
	}
	t.Logf("%v\n%v", err, d)
}

func TestCheckDeviceUnknown(t *testing.T) {
	if err := ChooseDevice("gpu0", noLib).Err(); err == nil || !strings.Contains(err.Error(), `"gpu0"`) {
		t.Fatalf("ChooseDevice(gpu0).Err() = %v, want an error naming gpu0", err)
	}
}

// TestDeviceReportFromEnvironment: the process's own choice follows
// GRAFT_DEVICE, which this test binary's TestMain sets to cpu unless it
// is set.
func TestDeviceReportFromEnvironment(t *testing.T) {
	d := DeviceReport()
	want := strings.ToLower(strings.TrimSpace(os.Getenv("GRAFT_DEVICE")))
	if want == "" {
		want = "auto"
	}
	if d.Requested != want || d.Backend() != Default() || d.Err() != CheckDevice() {
		t.Errorf("DeviceReport() = %+v under GRAFT_DEVICE=%q; Default() = %v", d, os.Getenv("GRAFT_DEVICE"), Default().Name())
	}
}
