#!/usr/bin/env bash
# Runs graft on a GPU machine from pre-built test binaries and prints a
# compact report:
#   1. the conformance tests of kernels/cuda (every kernel against graft's
#      Go references);
#   2. BenchmarkSgemmCUDA against PyTorch's torch.mm on the same shapes
#      (bench/peers/torch_cuda.py);
#   3. the CPU conformance suite on the CUDA backend (tensor's
#      TestConformance) and whole models trained on it (nn/models'
#      TestCUDATrainStep: only the batch in and the loss out per step);
#   4. BenchmarkSgemm/impl=cuda, BenchmarkConv2D/impl=cuda and
#      BenchmarkTrainStep on the CUDA backend, and PyTorch's training step
#      on the GPU (bench/peers/torch_train.py --device cuda).
#
# The GPU machine needs the NVIDIA driver (libcuda.so.1) and, for the
# PyTorch comparisons, python3 with torch; it needs neither Go nor nvcc.
# Build the binaries here, on any machine (no GPU, cgo or nvcc needed: the
# kernels are embedded, compiled), and carry the repository with them:
#
#   bash bench/gpu/build.sh          # bench/gpu/*.test, git-ignored
#   # copy the checkout to the GPU machine, then there:
#   bash bench/gpu/run.sh
#
# BENCHTIME (default 1s) is go test's -benchtime for the SGEMM benchmark;
# SHAPES (default 1024,2048,4096) its square sizes, and PyTorch's.
# Exits non-zero when a conformance test fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/cuda.test}
if [ ! -x "$bin" ]; then
  echo "run.sh: no test binary at $bin; build them with: bash bench/gpu/build.sh" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "# graft CUDA kernels; GPU: ${gpu:-unknown (no nvidia-smi)}"

# 1. Conformance: every test of the package, verbose.
"$bin" -test.v -test.run . -test.timeout 30m >"$out/test.txt" 2>&1
test_rc=$?
count() { grep -c "^--- $1" "$out/test.txt"; }
echo "conformance: $(count PASS) passed, $(count FAIL) failed, $(count SKIP) skipped (exit $test_rc)"
grep -m1 -o 'gpu_kernels_test.go:[0-9]*: .*(sm_.*' "$out/test.txt" | sed 's/^[^ ]* /  device: /'
# Failures and skips with their messages (go test -v prints a test's
# messages before its --- line; a skipped *CUDA test means no GPU).
awk '/^=== (RUN|CONT|NAME)/ {n = 0; next}
     /^ *--- (FAIL|SKIP)/ {print "  " $0; for (i = 0; i < n; i++) print "    " m[i]; n = 0; next}
     /^ *--- PASS/ {n = 0; next}
     /\.go:[0-9]+:/ && n < 8 {m[n++] = $0}' "$out/test.txt" | head -80
if [ "$test_rc" -ne 0 ] && [ "$(count FAIL)" -eq 0 ]; then
  tail -30 "$out/test.txt" # a crash or a timeout: show the end
fi

# 2. graft's SGEMM.
shapes=${SHAPES:-1024,2048,4096}
GRAFT_BENCH_SHAPES=$shapes "$bin" -test.run '^$' -test.bench 'SgemmCUDA|Launch' -test.benchtime "${BENCHTIME:-1s}" >"$out/bench.txt" 2>&1 || tail -20 "$out/bench.txt"
# BenchmarkSgemmCUDA/impl=fp32/shape=1024x1024x1024-16  300  3.1e+05 ns/op  17000 GFLOP/s
awk '$1 ~ /^BenchmarkSgemmCUDA\// {
       for (i = 2; i < NF; i++) if ($(i + 1) == "GFLOP/s") g = $i
       split($1, p, "/"); sub(/^impl=/, "", p[2]); sub(/^shape=/, "", p[3]); sub(/-[0-9]+$/, "", p[3])
       print p[2], p[3], g}' "$out/bench.txt" >"$out/graft.txt"
grep '^BenchmarkLaunch' "$out/bench.txt" | sed 's/^/launch (host cost of one operation): /'

# 3. PyTorch on the same shapes.
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  python3 "$here/../peers/torch_cuda.py" --shapes "$shapes" >"$out/torch_raw.txt" 2>&1 || tail -5 "$out/torch_raw.txt"
  grep '^#' "$out/torch_raw.txt"
  sed -n 's/^impl=\([a-z0-9]*\) shape=\([0-9x]*\) gflops=\([0-9.]*\)$/\1 \2 \3/p' "$out/torch_raw.txt" >"$out/torch.txt"
else
  echo "# no PyTorch with CUDA here: graft's numbers only"
  : >"$out/torch.txt"
fi

# 4. The report: GFLOP/s and graft's share of PyTorch's.
printf '%-6s %-16s %12s %12s %8s\n' impl shape graft torch ratio
awk 'FILENAME == ARGV[1] {t[$1 " " $2] = $3; next}
     {tt = ($1 " " $2) in t ? t[$1 " " $2] : ""
      if (tt != "") printf "%-6s %-16s %12.1f %12.1f %8.2f\n", $1, $2, $3, tt, $3 / tt
      else printf "%-6s %-16s %12.1f %12s %8s\n", $1, $2, $3, "-", "-"}' "$out/torch.txt" "$out/graft.txt"
[ -s "$out/graft.txt" ] || { echo "no benchmark results; the end of its output:"; tail -20 "$out/bench.txt"; }

# 5. The CUDA backend: the conformance suite and whole models.
for t in "tensor.test:^(TestConformance|TestCheckDeviceCUDA)$" "models.test:^TestCUDATrainStep$"; do
  b=$here/${t%%:*}
  [ -x "$b" ] || { echo "no $b: skipped"; continue; }
  GRAFT_DEVICE=cuda "$b" -test.v -test.run "${t#*:}" -test.timeout 10m >"$out/backend.txt" 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && test_rc=$rc
  echo "== ${t%%:*} ${t#*:}: exit $rc"
  grep -E '^\s*--- (PASS|FAIL|SKIP)|copies|losses|cuda:' "$out/backend.txt" | grep -v '/cpu/' | head -40
  [ "$rc" -ne 0 ] && tail -40 "$out/backend.txt"
done

# 6. Benchmarks on the CUDA backend, and PyTorch's training step.
if [ -x "$here/bench.test" ]; then
  (cd "$here/.." && GRAFT_DEVICE=cuda GRAFT_BENCH_IMPL=cuda GRAFT_BENCH_SHAPES=$(echo "$shapes" | sed 's/\([0-9][0-9]*\)/\1x\1x\1/g') \
    "$here/bench.test" -test.run '^$' -test.bench 'Sgemm|Conv2D|TrainStep' -test.benchtime "${BENCHTIME:-1s}" -test.timeout 15m) >"$out/backend_bench.txt" 2>&1
  echo "== bench.test on the CUDA backend (exit $?)"
  grep -E '^Benchmark|FAIL|panic' "$out/backend_bench.txt" | awk '{for (i = 2; i < NF; i++) if ($(i+1) == "GFLOP/s" || $(i+1) == "images/s") r = r " " $i " " $(i+1); print $1 r; r = ""}'
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    python3 "$here/../peers/torch_train.py" --model all --device cuda --reps 5 2>&1 | tail -3
  fi
else
  echo "no $here/bench.test: benchmarks skipped"
fi
exit "$test_rc"
