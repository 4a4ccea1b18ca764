#!/usr/bin/env bash
# Times OpenBLAS's cblas_sgemm and graft's Sgemm on the same shapes, one
# after the other on this machine, and prints graft's ratio to OpenBLAS.
#
#   bash bench/peers/openblas.sh [threads] [graft-impl] [max-square-dim]
#
# Needs gcc and Debian's libopenblas-dev (apt-get install -y libopenblas-dev).
# OPENBLAS_CORETYPE is set here only (Debian's 0.3.21 misdetects some CPUs);
# override it from the environment (e.g. Zen, Haswell, SkylakeX).
set -euo pipefail
threads=${1:-1}
impl=${2:-$(go run ./cmd/graft info --json | sed -n 's/.*"tier": "\(.*\)".*/\1/p')}
maxdim=${3:-2048}
coretype=${OPENBLAS_CORETYPE:-SkylakeX}
if ! grep -q avx512f /proc/cpuinfo && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  coretype=Haswell # SkylakeX kernels would die with SIGILL here
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -o "$out/sgemm_openblas" "$here/sgemm_openblas.c" -lopenblas
echo "# OpenBLAS ($coretype, $threads thread(s)) vs graft impl=$impl, GFLOP/s, best of several batches"
OPENBLAS_NUM_THREADS=$threads OPENBLAS_CORETYPE=$coretype "$out/sgemm_openblas" 1 "$maxdim" >"$out/openblas.txt"
GOMAXPROCS=$threads GRAFT_BENCH_IMPL=$impl GRAFT_BENCH_MAXDIM=$maxdim go test -run '^$' -bench 'Sgemm$' -cpu "$threads" -count 3 ./bench >"$out/graft.txt"
printf '%-20s %10s %10s %8s\n' shape openblas graft ratio
while read -r shape gf; do
  s=${shape#shape=}; o=${gf#gflops=}
  # graft: the best of its -count runs
  g=$(grep "shape=$s-\|shape=$s " "$out/graft.txt" | awk '{for(i=1;i<=NF;i++) if($(i+1)=="GFLOP/s") print $i}' | sort -g | tail -1)
  [ -n "$g" ] && printf '%-20s %10.1f %10.1f %8.2f\n' "$s" "$o" "$g" "$(echo "$g / $o" | bc -l)"
done <"$out/openblas.txt"
