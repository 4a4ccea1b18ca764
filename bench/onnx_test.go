package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/onnx"
	"github.com/graftml/graft/tensor"
)

// onnxModels are the ONNX files of BenchmarkONNXInfer, exported by
// testdata/onnx/export.py into ~/.cache/graft/onnx (BatchNorm folded, as
// shipped); bench/peers/ort.js and bench/peers/torch_infer.py time the
// same models in ONNX Runtime and PyTorch.
var onnxModels = []string{"mobilenet_v2", "resnet18"}

func onnxFile(b *testing.B, name string) string {
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "graft", "onnx", name+".onnx")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s absent: /usr/bin/python3 testdata/onnx/export.py", p)
	}
	return p
}

// BenchmarkONNXInfer times inference (Infer) of imported models at 224²,
// batch 32, with 1 and 2 threads, reporting images/s (the mean batch),
// p50_images/s (the median batch, as bench/peers/ort.js reports ONNX
// Runtime's) and, at 1 thread, images per second of the thread's CPU time
// (steadier on a shared machine).
// GRAFT_BENCH_MODELS narrows the models.
func BenchmarkONNXInfer(b *testing.B) {
	for _, name := range onnxModels {
		if !selected("GRAFT_BENCH_MODELS", name) {
			continue
		}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("model=%s/batch=32/threads=%d", name, threads), func(b *testing.B) {
				imp, err := onnx.Read(onnxFile(b, name))
				if err != nil {
					b.Fatal(err)
				}
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				x := tensor.RandNormal(1, 0, 1, 32, 224, 224, 3)
				imp.Graph.Infer(x)
				its := make([]time.Duration, b.N)
				runtime.GC() // the import's garbage (a model per b.N tried), not in the timed loop
				b.ResetTimer()
				cpu := startThreadCPU(b)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					imp.Graph.Infer(x)
					tensor.Synchronize()
					its[i] = time.Since(t0)
				}
				b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "images/s")
				// the median batch (the upper one for even b.N), as
				// bench/peers/ort.js reports ONNX Runtime's: one slow batch
				// on a shared machine moves the mean, not the median. Each
				// batch ends synchronized, so on an asynchronous backend
				// images/s counts the wait for every batch.
				slices.Sort(its)
				b.ReportMetric(32/its[len(its)/2].Seconds(), "p50_images/s")
				if threads == 1 {
					b.ReportMetric(float64(32*b.N)/cpu.seconds(b), "cpu_images/s")
				}
			})
		}
	}
}

// BenchmarkONNXImport times reading an ONNX file into a graft graph and
// reports the bytes allocated per byte of the file (the weights, and
// their gradient buffers, zero pages untouched until training) and the
// growth of the process's peak resident memory per byte of the file
// (meaningful when the benchmark runs alone: -bench ONNXImport).
func BenchmarkONNXImport(b *testing.B) {
	for _, name := range []string{"resnet18"} {
		b.Run("model="+name, func(b *testing.B) {
			p := onnxFile(b, name)
			st, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			hwm := peakRSS()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := onnx.Read(p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(st.Size()), "alloc/filebyte")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/import")
			if hwm > 0 {
				b.ReportMetric(float64(peakRSS()-hwm)/float64(st.Size()), "peakRSS/filebyte")
			}
		})
	}
}

// peakRSS returns the process's peak resident memory in bytes (VmHWM), 0
// where /proc does not say.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// GRAFT_BENCH_CHUNK sets nn.InferChunk for the inference benchmarks (0:
// the default choice, -1: batches run whole), to compare chunk sizes in
// one binary.
func init() {
	if v := os.Getenv("GRAFT_BENCH_CHUNK"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic("GRAFT_BENCH_CHUNK: want a count, got " + v)
		}
		nn.InferChunk = n
	}
}
