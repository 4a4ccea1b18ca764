package tensor

import (
	"testing"

	"github.com/graftml/graft/kernels"
)

// BenchmarkMicrokernel times one microkernel on L1-resident panels: the
// ceiling every blocked SGEMM on this tier is measured against.
func BenchmarkMicrokernel(b *testing.B) {
	for _, tier := range kernels.Available() {
		kn := gemmKernelFor(tier)
		b.Run("impl="+tier.String(), func(b *testing.B) {
			kc := 256
			a := make([]float32, kc*kn.mr)
			bb := make([]float32, kc*kn.nr)
			c := make([]float32, kn.mr*kn.nr)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range bb {
				bb[i] = 1e-3
			}
			for b.Loop() {
				kn.call(kc, a, aPackedPanel, 0, bb, true, 0, c, kn.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kc*kn.mr*kn.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
