package cuda

import "fmt"

// Info describes the driver and a device, as ProbeDevice finds them.
type Info struct {
	DriverVersion        int    // 1000·major + 10·minor of the CUDA version the driver supports
	Devices              int    // GPUs the driver sees
	Ordinal              int    // the device's ordinal, 0 to Devices-1
	Name                 string // the device's product name
	Major, Minor         int    // its compute capability
	SMs                  int    // its streaming multiprocessors
	MaxThreadsPerBlock   int    // threads per block, at most
	MaxSharedMemPerBlock int    // bytes of shared memory per block without opt-in
	MaxSharedMemOptin    int    // bytes of shared memory per block with opt-in
	WarpSize             int    // threads per warp
	TotalMem             uint64 // bytes of device memory
}

// String describes the device in one line, e.g. "NVIDIA H100 80GB HBM3
// (sm_90, 132 SMs, 79.2 GiB, ...; CUDA driver 12.2, 1 device(s))".
func (i Info) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.1f GiB, warp %d, %d threads/block, %d KiB shared/block (%d opt-in); CUDA driver %d.%d, %d device(s))",
		i.Name, i.Major, i.Minor, i.SMs, float64(i.TotalMem)/(1<<30), i.WarpSize, i.MaxThreadsPerBlock,
		i.MaxSharedMemPerBlock>>10, i.MaxSharedMemOptin>>10, i.DriverVersion/1000, i.DriverVersion%1000/10, i.Devices)
}

// Probe loads and initialises the driver and reads device 0's properties:
// ProbeDevice(0).
func Probe() (Info, error) { return ProbeDevice(0) }

// ProbeDevice loads and initialises the driver (Load) and reads the
// properties of the device with the given ordinal.
// On a machine without the driver library the error matches ErrNoLibrary;
// with a driver but no usable GPU it is an *Error with Code CodeNoDevice
// (from cuInit, or from cuDeviceGetCount when that finds 0). On error,
// Info holds what was learnt before it (the driver version, say).
func ProbeDevice(ordinal int) (Info, error) {
	i := Info{Ordinal: ordinal}
	if err := Load(); err != nil {
		return i, err
	}
	i.DriverVersion, _ = DriverVersion() // informative only; cuInit decides
	if err := Init(); err != nil {
		return i, err
	}
	var err error
	if i.Devices, err = DeviceCount(); err != nil {
		return i, err
	}
	if i.Devices == 0 {
		return i, check("cuDeviceGetCount", CodeNoDevice)
	}
	if ordinal < 0 || ordinal >= i.Devices {
		return i, fmt.Errorf("cuda: no device %d: the driver sees %d", ordinal, i.Devices)
	}
	d, err := GetDevice(ordinal)
	if err != nil {
		return i, err
	}
	if i.Name, err = d.Name(); err != nil {
		return i, err
	}
	if i.TotalMem, err = d.TotalMem(); err != nil {
		return i, err
	}
	for _, a := range []struct {
		attr Attribute
		dst  *int
	}{
		{AttrComputeCapabilityMajor, &i.Major},
		{AttrComputeCapabilityMinor, &i.Minor},
		{AttrMultiprocessorCount, &i.SMs},
		{AttrMaxThreadsPerBlock, &i.MaxThreadsPerBlock},
		{AttrMaxSharedMemoryPerBlock, &i.MaxSharedMemPerBlock},
		{AttrMaxSharedMemoryPerBlockOptin, &i.MaxSharedMemOptin},
		{AttrWarpSize, &i.WarpSize},
	} {
		if *a.dst, err = d.Attribute(a.attr); err != nil {
			return i, err
		}
	}
	return i, nil
}
