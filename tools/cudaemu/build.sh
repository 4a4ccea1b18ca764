#!/bin/sh
# build.sh OUT builds OUT/libcuda.so.1, the CUDA driver emulator with
# graft's kernels (kernels/cuda/*.cu) compiled in, and prints its path. Run
# the GPU tests on it with
#
#   tools/cudaemu/build.sh /tmp/cudaemu
#   GRAFT_CUDAEMU_LIB=/tmp/cudaemu/libcuda.so.1 go test ./kernels/cuda
#
# Environment: CXX (default g++); CUDAEMU_KERNELS, another directory of .cu
# files; CUDAEMU_OPT, the optimisation flags (default -O2); CUDAEMU_SANITIZE,
# g++'s -fsanitize list, e.g. undefined (see README.md: address needs
# the runtime preloaded).
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT-DIR" >&2
  exit 2
fi
trap 'st=$?; [ "$st" -eq 0 ] || echo "build.sh: building the CUDA emulator in $1 failed (exit $st)" >&2' EXIT
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
kernels=${CUDAEMU_KERNELS:-$here/../../kernels/cuda}
CXX=${CXX:-g++}
export CXX
if ! command -v "$CXX" >/dev/null; then
  echo "build.sh: no $CXX (on Debian: apt-get install --no-install-recommends g++)" >&2
  exit 1
fi
# On x86-64 CPUs with FMA, -mfma lets fmaf compile to one instruction
# rather than a call into libm: the tests run twice as fast. Either way
# -ffp-contract=off keeps g++ from fusing a·b + c where the source does not
# say fmaf, so results do not depend on the host.
arch=
if [ "$(uname -m)" = x86_64 ] && grep -qw fma /proc/cpuinfo 2>/dev/null; then
  arch=-mfma
fi
sanitize=
if [ -n "${CUDAEMU_SANITIZE:-}" ]; then
  sanitize="-fsanitize=$CUDAEMU_SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer"
fi

"$here/gen-registry.sh" "$kernels" "$out"
# -U_FORTIFY_SOURCE: the fortified longjmp refuses to jump between the
# fibers' stacks. $arch and $sanitize are lists of flags: unquoted on
# purpose.
# shellcheck disable=SC2086
"$CXX" -std=c++17 ${CUDAEMU_OPT:--O2} $arch -ffp-contract=off -g -fPIC -fvisibility=hidden -shared -pthread -U_FORTIFY_SOURCE -Wall -Wno-unknown-pragmas $sanitize \
  -I "$here/include" -I "$out" -Wl,-soname,libcuda.so.1 -Wl,-z,defs \
  -o "$out/libcuda.so.1.tmp" "$here/emu.cpp"
mv "$out/libcuda.so.1.tmp" "$out/libcuda.so.1"
echo "$out/libcuda.so.1 ($(wc -l <"$out/registry.inc") kernels)"
