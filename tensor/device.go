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
	Requested string // GRAFT_DEVICE as read (lower case), "auto" when unset
	Device    string // the device operations run on; "cpu" until a CUDA backend exists
	Reason    string // why, in one line
	GPU       string // the CUDA device found, described in one line; "" if none
	err       error  // what CheckDevice returns
}

// String returns "DEVICE (REASON)".
func (d DeviceInfo) String() string { return d.Device + " (" + d.Reason + ")" }

// deviceChoice probes once, on first use: programs that never ask about
// the device never load the CUDA driver.
var deviceChoice = sync.OnceValue(func() DeviceInfo {
	return chooseDevice(os.Getenv("GRAFT_DEVICE"), cuda.Probe)
})

// DeviceReport returns the device choice and its reason. The first call
// reads GRAFT_DEVICE and, unless it is cpu, probes for a CUDA device.
func DeviceReport() DeviceInfo { return deviceChoice() }

// CheckDevice returns an error when GRAFT_DEVICE cannot be honoured: an
// unknown value, or cuda demanded where CUDA is not usable (no driver
// library, no device, or no CUDA backend yet). Programs call it once at
// start-up and stop on the error.
func CheckDevice() error { return deviceChoice().err }

// chooseDevice decides from the GRAFT_DEVICE value env, calling probe to
// look for a GPU unless env is cpu.
func chooseDevice(env string, probe func() (cuda.Info, error)) DeviceInfo {
	d := DeviceInfo{Requested: strings.ToLower(strings.TrimSpace(env)), Device: "cpu"}
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
	if err != nil {
		d.Reason = "GRAFT_DEVICE=" + d.Requested + ": " + err.Error()
		if d.Requested == "cuda" {
			d.err = fmt.Errorf("GRAFT_DEVICE=cuda, but CUDA is not usable: %w", err)
		}
		return d
	}
	d.GPU = info.String()
	d.Reason = fmt.Sprintf("GRAFT_DEVICE=%s: found GPU %s, but the CUDA backend is not implemented yet, so the CPU is used", d.Requested, info.Name)
	if d.Requested == "cuda" {
		d.err = fmt.Errorf("GRAFT_DEVICE=cuda: found GPU %s, but the CUDA backend is not implemented yet (use GRAFT_DEVICE=auto or cpu)", info.Name)
	}
	return d
}
