#!/usr/bin/env bash
# Compiles dlm's CUDA host code (the files built only with DLM_WITH_CUDA: the ops' CUDA
# wrapper and the window passes' CUDA graphs) with -fsyntax-only against the libtorch
# headers found by CMake and the CUDA toolkit's: a check that runs on machines without a GPU
# or a CUDA libtorch. Debian's libtorch ships ATen/cuda and c10/cuda headers but not the
# generated c10/cuda/impl/cuda_cmake_macros.h, which a scratch directory supplies.
# Exits 77 (skipped) without the CUDA toolkit's headers or libtorch's CUDA headers.
# Usage: tests/cuda_host_compile.sh SOURCE_DIR "TORCH_INCLUDE_DIRS;..." [CXX]
set -euo pipefail
source_dir="$1"
IFS=';' read -r -a torch_dirs <<< "$2"
cxx="${3:-c++}"
cuda_include="${CUDA_HOME:-/usr/local/cuda}/include"
if [ ! -f "$cuda_include/cuda_runtime_api.h" ]; then
  echo "cuda_host_compile: no CUDA toolkit headers in $cuda_include; skipped"
  exit 77
fi
includes=()
graph_header=""
for d in "${torch_dirs[@]}"; do
  [ -n "$d" ] || continue
  # A system directory given again with -isystem breaks libstdc++'s #include_next.
  case "$d" in /usr/include|/usr/local/include) ;; *) includes+=(-isystem "$d") ;; esac
  [ -f "$d/ATen/cuda/CUDAGraph.h" ] && graph_header="$d/ATen/cuda/CUDAGraph.h"
done
if [ -z "$graph_header" ]; then
  echo "cuda_host_compile: the libtorch headers have no ATen/cuda; skipped"
  exit 77
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
torch_root="$(dirname "$(dirname "$(dirname "$graph_header")")")"
if [ ! -f "$torch_root/c10/cuda/impl/cuda_cmake_macros.h" ]; then
  mkdir -p "$scratch/c10/cuda/impl"
  printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' > "$scratch/c10/cuda/impl/cuda_cmake_macros.h"
fi
failed=0
for source in src/ops/ops_cuda.cpp src/model/window_graphs.cpp; do
  if "$cxx" -fsyntax-only -std=c++17 -Wall -Werror -DDLM_WITH_CUDA -DSPDLOG_FMT_EXTERNAL \
       -D_GLIBCXX_USE_CXX11_ABI=1 -I"$source_dir/include" -I"$source_dir/src" "${includes[@]}" \
       -isystem "$scratch" -isystem "$cuda_include" "$source_dir/$source" > "$scratch/log" 2>&1; then
    echo "  ok      $source"
  else
    echo "  FAILED  $source"
    cat "$scratch/log"
    failed=1
  fi
done
exit "$failed"
