package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// SgemmShapes are the benchmark shapes M×N×K: squares and the GEMMs of
// ResNet-style 3×3 convolutions (M output channels, N pixels, K = 9·C).
var SgemmShapes = [][3]int{
	{64, 64, 64}, {128, 128, 128}, {256, 256, 256}, {512, 512, 512},
	{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
	{64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}, {512, 49, 4608},
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// BenchmarkSgemm times C = A·B (no transposes, beta = 0) for each tier the
// machine runs and for gonum. GRAFT_BENCH_IMPL=avx2,gonum limits the
// implementations; GRAFT_BENCH_MAXDIM=2048 drops larger squares;
// GRAFT_BENCH_SHAPES=300x200x100,... replaces the shape list.
func BenchmarkSgemm(b *testing.B) {
	impls := benchImpls("gonum")
	maxDim := 1 << 30
	if env := os.Getenv("GRAFT_BENCH_MAXDIM"); env != "" {
		fmt.Sscan(env, &maxDim)
	}
	shapes := SgemmShapes
	if env := os.Getenv("GRAFT_BENCH_SHAPES"); env != "" {
		shapes = nil
		for _, f := range strings.Split(env, ",") {
			var s [3]int
			if _, err := fmt.Sscanf(f, "%dx%dx%d", &s[0], &s[1], &s[2]); err != nil {
				b.Fatalf("GRAFT_BENCH_SHAPES: %q is not MxNxK", f)
			}
			shapes = append(shapes, s)
		}
	}
	for _, impl := range impls {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			if max(m, n, k) > maxDim && m == n {
				continue
			}
			b.Run(fmt.Sprintf("impl=%s/shape=%dx%dx%d", impl, m, n, k), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				A, B, C := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				var run func()
				switch impl {
				case "gonum":
					var g gonum.Implementation
					run = func() { g.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, A, k, B, n, 0, C, n) }
				case "cuda": // device-resident tensors: nothing crosses the bus
					be := gpuBackend(b)
					ta, tb, tc := tensor.FromSlice(A, m, k), tensor.FromSlice(B, k, n), tensor.FromSlice(C, m, n)
					run = func() { be.MatMul(tc, ta, tb, false, false, 1, 0) }
				default:
					cpu := cpuBackend(b, impl)
					run = func() { cpu.Sgemm(false, false, m, n, k, 1, A, k, B, n, 0, C, n) }
				}
				run()
				tensor.Synchronize()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				tensor.Synchronize()
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				// The testing package runs the first count of a
				// sub-benchmark before it applies -cpu: this metric shows
				// the thread count the run really had.
				b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "threads")
			})
		}
	}
}

// benchImpls lists the implementations to benchmark: every tier this
// machine runs, then the peers named, or GRAFT_BENCH_IMPL's comma list.
func benchImpls(peers ...string) []string {
	if env := os.Getenv("GRAFT_BENCH_IMPL"); env != "" {
		return strings.Split(env, ",")
	}
	var impls []string
	for _, t := range kernels.Available() {
		impls = append(impls, t.String())
	}
	if _, ok := tensor.Default().(tensor.CUDA); ok {
		impls = append(impls, "cuda")
	}
	return append(impls, peers...)
}

// gpuBackend returns the CUDA backend, skipping b when the default
// backend is not one (GRAFT_DEVICE, DeviceReport).
func gpuBackend(b *testing.B) tensor.Backend {
	be := tensor.Default()
	if _, ok := be.(tensor.CUDA); !ok {
		b.Skipf("impl=cuda: no CUDA backend (%s)", tensor.DeviceReport())
	}
	return be
}

// backendFor returns the backend of impl: the CUDA backend for cuda, else
// a CPU backend of impl's tier.
func backendFor(b *testing.B, impl string) tensor.Backend {
	if impl == "cuda" {
		return gpuBackend(b)
	}
	return cpuBackend(b, impl)
}

// cpuBackend returns a CPU backend of the tier named impl, skipping b
// where the machine lacks the tier.
func cpuBackend(b *testing.B, impl string) tensor.CPU {
	tier, err := kernels.ParseTier(impl)
	if err != nil {
		b.Fatal(err)
	}
	cpu, err := tensor.NewCPU(tier, false)
	if err != nil {
		b.Skip(err)
	}
	return cpu
}
