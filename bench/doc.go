// Package bench holds graft's benchmarks: SGEMM per kernel tier beside
// gonum's pure-Go Sgemm as the in-repo peer. Each reports GFLOP/s with
// b.ReportMetric so that benchstat compares tiers and peers in one run:
//
//	GOMAXPROCS=1 go test -run '^$' -bench 'Sgemm$' -cpu 1 -count 6 ./bench | tee one.txt
//	GOMAXPROCS=2 go test -run '^$' -bench 'Sgemm$' -cpu 2 -count 6 ./bench | tee two.txt
//	benchstat -col /impl one.txt
//
// Run each thread count on its own with GOMAXPROCS set to it: the testing
// package runs the first count of every sub-benchmark before it applies
// -cpu, so with -cpu 1,2 that first run has the wrong thread count (the
// "threads" metric shows the count each run really had).
//
// BenchmarkConv2D times the forward, backward-data and backward-weights
// passes of nine convolution layers (MNIST, ResNet-18, MobileNetV2 shapes).
// bench/peers has the peers: openblas.sh times OpenBLAS on the SGEMM
// shapes; torch_conv.py times PyTorch on the same convolution layers and
// prints graft's ratio.
//
// BenchmarkONNXInfer times inference of imported ONNX models (MobileNetV2,
// ResNet-18 from testdata/onnx/export.py) at 224², batch 32, 1 and 2
// threads; its peers are ONNX Runtime's CPU execution provider
// (node bench/peers/ort.js bench MODEL 32,3,224,224 THREADS SECONDS) and
// PyTorch eager (bench/peers/torch_infer.py). BenchmarkONNXImport times
// the import of ResNet-18 and reports its memory per byte of the file.
package bench
