#!/bin/sh
# gen-registry.sh KERNELS OUT writes the two files emu.cpp includes, for
# every .cu file in directory KERNELS, into directory OUT:
#
#   kernels_all.inc  #include "KERNELS/x.cu" for each .cu file, sorted
#   registry.inc     EMU_KERNEL(name, max threads) for each kernel, sorted
#
# The kernels are found by preprocessing them with -DCUDAEMU_SCAN, under
# which emu.h turns __global__ into the marker __cudaemu_kernel__ and
# __launch_bounds__(x) into __cudaemu_lb__ x __cudaemu_lb_end__, so that
# kernels that macros define are found too. Every kernel must be extern "C"
# (GRAFT_KERNEL), as the Go side looks kernels up by their plain names.
set -eu
if [ $# -ne 2 ]; then
  echo "usage: $0 KERNELS-DIR OUT-DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
kdir=$(cd "$1" && pwd)
out=$2
CXX=${CXX:-g++}

set -- "$kdir"/*.cu
if [ ! -e "$1" ]; then
  echo "gen-registry.sh: no .cu files in $kdir" >&2
  exit 1
fi
printf '%s\n' "$@" | LC_ALL=C sort | while IFS= read -r f; do
  printf '#include "%s"\n' "$f"
done >"$out/kernels_all.inc"

printf '#include "emu.h"\n#include "kernels_all.inc"\n' >"$out/scan.cpp"
"$CXX" -std=c++17 -E -P -DCUDAEMU_SCAN -I "$here/include" -I "$out" "$out/scan.cpp" >"$out/scan.ii"

# One line per __global__, holding the text up to the next one; the line
# before ends with extern "C" when the kernel is.
tr -s ' \t\n' '   ' <"$out/scan.ii" | awk '{ gsub(/__cudaemu_kernel__/, "\n&"); print }' | awk '
NR > 1 {
  ext = prev ~ /extern "C" $/
  prev = $0
  s = substr($0, length("__cudaemu_kernel__") + 1)
  lb = ""
  if (match(s, /__cudaemu_lb__ .* __cudaemu_lb_end__ /)) {
    lb = substr(s, RSTART + 15, RLENGTH - 15 - 20)
    s = substr(s, 1, RSTART - 1) substr(s, RSTART + RLENGTH)
  }
  if (!match(s, /^ *void +[A-Za-z_][A-Za-z0-9_]* *\(/)) {
    printf "gen-registry.sh: cannot read the kernel declared as: __global__%s\n", substr(s, 1, 100) > "/dev/stderr"
    bad = 1
    next
  }
  name = substr(s, RSTART, RLENGTH - 1)
  sub(/^ *void +/, "", name)
  sub(/ *$/, "", name)
  if (!ext) {
    printf "gen-registry.sh: kernel %s is not extern \"C\" (declare it with GRAFT_KERNEL)\n", name > "/dev/stderr"
    bad = 1
    next
  }
  if (!(name in bound) || bound[name] == "") bound[name] = lb
}
NR == 1 { prev = $0 }
END {
  if (bad) exit 1
  for (name in bound) {
    b = bound[name] == "" ? "1024" : "cudaemu_lb(" bound[name] ")"
    printf "EMU_KERNEL(%s, %s)\n", name, b
  }
}' >"$out/registry.unsorted"
if [ ! -s "$out/registry.unsorted" ]; then
  echo "gen-registry.sh: no kernels found in $kdir" >&2
  exit 1
fi
LC_ALL=C sort "$out/registry.unsorted" >"$out/registry.inc"
rm -f "$out/scan.cpp" "$out/scan.ii" "$out/registry.unsorted"
