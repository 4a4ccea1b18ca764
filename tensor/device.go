package tensor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/graftml/graft/kernels/cuda"
)

// DeviceInfo says which device graft computes on and why, as chosen from
// GRAFT_DEVICE (auto, the default; cpu; cuda).
type DeviceInfo struct {
	Requested string  // GRAFT_DEVICE as read (lower case), "auto" when unset
	Device    string  // the device operations run on: "cpu" or "cuda"
	Reason    string  // why, in one line
	GPU       string  // the CUDA device found, described in one line; "" if none
	err       error   // what CheckDevice returns
	backend   Backend // the backend of Device
}

// String returns "DEVICE (REASON)".
func (d DeviceInfo) String() string { return d.Device + " (" + d.Reason + ")" }

// deviceChoice probes once, on first use (the first tensor or operation,
// or a call of DeviceReport): programs that compute nothing never load the
// CUDA driver.
var deviceChoice = sync.OnceValue(func() DeviceInfo { return ChooseDevice(os.Getenv("GRAFT_DEVICE"), "") })

// ChooseDevice makes the choice DeviceReport reports from a GRAFT_DEVICE
// value (auto, cpu or cuda) and a driver library ("" as in CUDAOptions),
// without making it the default: for a program that takes its device from
// a flag, or runs on several. Unless device is cpu, it loads the driver
// library and probes device 0; the backend it returns (Backend) is the
// CPU where CUDA is not usable.
func ChooseDevice(device, library string) DeviceInfo {
	probe := func() (cuda.Info, error) {
		if err := loadDriver(library); err != nil {
			return cuda.Info{}, err
		}
		return cuda.ProbeDevice(0)
	}
	return chooseDevice(device, probe, newGPU)
}

// Backend returns the backend chosen: a CUDA backend, or the CPU.
func (d DeviceInfo) Backend() Backend { return d.backend }

// Err returns what CheckDevice returns for this choice: nil, or why the
// device asked for cannot be used.
func (d DeviceInfo) Err() error { return d.err }

// DeviceReport returns the device choice and its reason. The first call
// reads GRAFT_DEVICE and, unless it is cpu, probes for a CUDA device.
func DeviceReport() DeviceInfo { return deviceChoice() }

// CheckDevice returns an error when GRAFT_DEVICE cannot be honoured: an
// unknown value, or cuda demanded where CUDA is not usable (no driver
// library, no device, or a device the kernels cannot run on). Programs
// call it once at start-up and stop on the error.
func CheckDevice() error { return deviceChoice().err }

// chooseDevice decides from the GRAFT_DEVICE value env, calling probe to
// look for a GPU unless env is cpu, and open to start the CUDA backend on
// the GPU it finds.
func chooseDevice(env string, probe func() (cuda.Info, error), open func(cuda.Info) (CUDA, error)) DeviceInfo {
	d := DeviceInfo{Requested: strings.ToLower(strings.TrimSpace(env)), Device: "cpu", backend: CPU{}}
	if d.Requested == "" {
		d.Requested = "auto"
	}
	switch d.Requested {
	case "cpu":
		d.Reason = "GRAFT_DEVICE=cpu"
		return d
	case "auto", "cuda":
	default:
		d.Reason = fmt.Sprintf("GRAFT_DEVICE=%q is not a device: use auto, cpu or cuda", env)
		d.err = errors.New(d.Reason)
		return d
	}
	info, err := probe()
	if err == nil {
		d.GPU = info.String()
		var c CUDA
		if c, err = open(info); err == nil {
			d.Device, d.backend = "cuda", c
			d.Reason = fmt.Sprintf("GRAFT_DEVICE=%s: found GPU %s", d.Requested, info.Name)
			return d
		}
		err = fmt.Errorf("found GPU %s, but cannot use it: %w", info.Name, err)
	}
	d.Reason = "GRAFT_DEVICE=" + d.Requested + ": " + err.Error() + "; the CPU is used"
	if d.Requested == "cuda" {
		d.Reason = "GRAFT_DEVICE=cuda: " + err.Error()
		d.err = fmt.Errorf("GRAFT_DEVICE=cuda, but CUDA is not usable: %w", err)
	}
	return d
}
