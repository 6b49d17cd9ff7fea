#!/usr/bin/env bash
# Compiles every CUDA kernel of dlm (src/ops/*.cu) with nvcc, warnings as errors, into a
# scratch directory: a check that runs on machines without a GPU or a CUDA libtorch.
# Exits 77 (CTest's skip code for this test) when no nvcc is found.
# Usage: tests/cuda_kernels_compile.sh [SOURCE_DIR]
set -euo pipefail
source_dir="${1:-$(dirname "$0")/..}"
nvcc="${CUDACXX:-}"
if [ -z "$nvcc" ]; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    nvcc=/usr/local/cuda/bin/nvcc
  else
    nvcc="$(command -v nvcc || true)"
  fi
fi
if [ -z "$nvcc" ]; then
  echo "cuda_kernels_compile: no nvcc (/usr/local/cuda/bin/nvcc, \$CUDACXX or PATH); skipped"
  exit 77
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
echo "cuda_kernels_compile: $("$nvcc" --version | tail -n 2 | head -n 1)"
pids=()
for source in "$source_dir"/src/ops/*.cu; do
  name="$(basename "$source" .cu)"
  "$nvcc" -c -arch=sm_80 -std=c++17 -Werror all-warnings -I"$source_dir/include" \
    -I"$source_dir/src" "$source" -o "$scratch/$name.o" >"$scratch/$name.log" 2>&1 &
  pids+=("$!:$name")
done
failed=0
for entry in "${pids[@]}"; do
  name="${entry#*:}"
  if wait "${entry%%:*}"; then
    echo "  ok      $name.cu"
  else
    echo "  FAILED  $name.cu"
    cat "$scratch/$name.log"
    failed=1
  fi
done
exit "$failed"
