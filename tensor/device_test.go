package tensor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/childtest"
	"github.com/graftml/graft/kernels/cuda"
)

func TestChooseDevice(t *testing.T) {
	noLib := fmt.Errorf("%w: libcuda.so.1: cannot open shared object file", cuda.ErrNoLibrary)
	noDev := &cuda.Error{Code: 100, Name: "CUDA_ERROR_NO_DEVICE", Msg: "no CUDA-capable device is detected", Call: "cuInit"}
	gpu := cuda.Info{Name: "NVIDIA H100", Major: 9, SMs: 132, Devices: 1}
	cases := []struct {
		env       string
		info      cuda.Info
		probeErr  error
		probed    bool
		reason    []string // substrings of the report's reason
		checkErr  []string // substrings of CheckDevice's error; nil: no error
		gpuReport bool     // GPU is set
	}{
		{env: "", probeErr: noLib, probed: true, reason: []string{"GRAFT_DEVICE=auto: ", "no driver library", "libcuda.so.1"}},
		{env: "auto", probeErr: noDev, probed: true, reason: []string{"GRAFT_DEVICE=auto: ", "cuInit: CUDA_ERROR_NO_DEVICE (100)"}},
		{env: " Auto ", info: gpu, probed: true, gpuReport: true, reason: []string{"found GPU NVIDIA H100", "not implemented yet", "CPU is used"}},
		{env: "cpu", info: gpu, reason: []string{"GRAFT_DEVICE=cpu"}},
		{env: "cuda", probeErr: noLib, probed: true, reason: []string{"no driver library"}, checkErr: []string{"GRAFT_DEVICE=cuda", "not usable", "no driver library"}},
		{env: "CUDA", probeErr: noDev, probed: true, reason: []string{"CUDA_ERROR_NO_DEVICE"}, checkErr: []string{"GRAFT_DEVICE=cuda", "CUDA_ERROR_NO_DEVICE"}},
		{env: "cuda", info: gpu, probed: true, gpuReport: true, reason: []string{"not implemented yet"}, checkErr: []string{"found GPU NVIDIA H100", "not implemented yet"}},
		{env: "tpu", info: gpu, reason: []string{`"tpu"`}, checkErr: []string{`GRAFT_DEVICE="tpu" is not a device`, "auto, cpu or cuda"}},
	}
	for _, c := range cases {
		probed := false
		d := chooseDevice(c.env, func() (cuda.Info, error) { probed = true; return c.info, c.probeErr })
		if d.Device != "cpu" || probed != c.probed || (d.GPU != "") != c.gpuReport {
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
		if d.err != nil && c.probeErr != nil && !errors.Is(d.err, c.probeErr) {
			t.Errorf("GRAFT_DEVICE=%q: CheckDevice error %v does not wrap the probe's", c.env, d.err)
		}
	}
}

// The tests below run in a child process each, since the choice is made
// once per process.

const noLib = "GRAFT_CUDA_LIB=/nonexistent/libcuda.so.1"

func TestDeviceReportNoLibrary(t *testing.T) {
	if childtest.Fork(t, noLib, "GRAFT_DEVICE=") {
		return
	}
	d := DeviceReport()
	t.Log(d)
	if d.Device != "cpu" || !strings.HasPrefix(d.String(), "cpu (GRAFT_DEVICE=auto: cuda: no driver library: /nonexistent/libcuda.so.1") {
		t.Errorf("DeviceReport() = %v", d)
	}
	if err := CheckDevice(); err != nil {
		t.Errorf("CheckDevice() = %v under auto", err)
	}
}

func TestCheckDeviceCUDANoLibrary(t *testing.T) {
	if childtest.Fork(t, noLib, "GRAFT_DEVICE=cuda") {
		return
	}
	err := CheckDevice()
	if !errors.Is(err, cuda.ErrNoLibrary) || !strings.Contains(err.Error(), "GRAFT_DEVICE=cuda") || !strings.Contains(err.Error(), "/nonexistent/libcuda.so.1") {
		t.Fatalf("CheckDevice() = %v, want the missing library named", err)
	}
	t.Log(err)
}

// TestCheckDeviceCUDA demands CUDA from the real driver, which fails in
// every case today: no library, no device, or no CUDA backend yet.
func TestCheckDeviceCUDA(t *testing.T) {
	if childtest.Fork(t, "GRAFT_CUDA_LIB=", "GRAFT_DEVICE=cuda") {
		return
	}
	err := CheckDevice()
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("CheckDevice() = %v, want a one-line error", err)
	}
	d := DeviceReport()
	if d.Device != "cpu" || d.Requested != "cuda" {
		t.Errorf("DeviceReport() = %+v", d)
	}
	t.Logf("%v\n%v", err, d)
}

func TestCheckDeviceUnknown(t *testing.T) {
	if childtest.Fork(t, "GRAFT_DEVICE=gpu0") {
		return
	}
	if err := CheckDevice(); err == nil || !strings.Contains(err.Error(), `"gpu0"`) {
		t.Fatalf("CheckDevice() = %v, want an error naming gpu0", err)
	}
}
