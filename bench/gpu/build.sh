#!/bin/sh
# Builds the test binaries bench/gpu/run.sh runs on a GPU machine, without
# cgo (the CUDA driver is loaded at run time; the kernels are embedded).
set -eu
cd "$(dirname "$0")/../.."
for p in cuda:./kernels/cuda tensor:./tensor models:./nn/models bench:./bench; do
  CGO_ENABLED=0 go test -c -o "bench/gpu/${p%%:*}.test" "${p#*:}"
done
ls -l bench/gpu/*.test
