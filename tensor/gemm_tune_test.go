package tensor

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/graftml/graft/kernels"
)

// BenchmarkSgemmPacking compares the packing choices (auto and each forced
// mode) on the current tier, for tuning gemmKernel.packing (A stored
// transposed with GRAFT_TUNE_TRANSA=1):
//
//	GRAFT_TUNE_SHAPES=512x512x512,512x49x4608 go test -run '^$' -bench SgemmPacking -count 5 ./tensor
func BenchmarkSgemmPacking(b *testing.B) {
	shapes := "256x256x256,1024x1024x1024,64x3136x576,256x196x2304,512x49x4608"
	if env := os.Getenv("GRAFT_TUNE_SHAPES"); env != "" {
		shapes = env
	}
	for _, sh := range strings.Split(shapes, ",") {
		var m, n, k int
		fmt.Sscanf(sh, "%dx%dx%d", &m, &n, &k)
		A, B, C := RandNormal(1, 0, 1, m*k).data, RandNormal(2, 0, 1, k*n).data, make([]float32, m*n)
		for _, mode := range []string{"auto", "none", "a", "b", "ab"} {
			b.Run(fmt.Sprintf("shape=%s/pack=%s", sh, mode), func(b *testing.B) {
				pack := mode
				if pack == "auto" {
					pack = ""
				}
				cpu, err := NewCPUWith(kernels.Current(), CPUOptions{GemmPack: pack})
				if err != nil {
					b.Fatal(err)
				}
				sgemm := sgemmOnCPU(cpu)
				transA := os.Getenv("GRAFT_TUNE_TRANSA") != ""
				lda := k
				if transA {
					lda = m
				}
				for b.Loop() {
					sgemm(transA, false, m, n, k, 1, A, lda, B, n, 0, C, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
