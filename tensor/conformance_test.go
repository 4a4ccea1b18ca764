package tensor_test

import (
	"testing"

	"github.com/graftml/graft/internal/cudatest"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/tensor/tensortest"
)

// The conformance suite (tensor/tensortest): every Backend method, on
// shapes with ragged edges, against the Reference backend. It runs on the
// CPU at every kernel tier this machine has and on a CUDA backend: on the
// emulator where GRAFT_CUDAEMU_LIB names it, else when a GPU answers.

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
		c := cudatest.Open(t, "tensor", func(lib string) (tensor.CUDA, error) {
			return tensor.NewCUDAWith(tensor.CUDAOptions{Library: lib})
		})
		t.Log(c.Name())
		tensortest.Run(t, c)
		s := c.Stats()
		t.Logf("copies: %d up (%d bytes), %d down (%d bytes); memory %+v", s.HostToDevice, s.HostToDeviceBytes, s.DeviceToHost, s.DeviceToHostBytes, s.Memory)
	})
}
