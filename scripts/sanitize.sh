#!/usr/bin/env bash
# Builds dlm's library, executable and tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc) in build-asan/ (DLM_ASAN_BUILD overrides) and runs the test suite there:
#
#   scripts/sanitize.sh [CTEST ARGS...]      # e.g. scripts/sanitize.sh -R batch
#
# What makes an instrumented dlm run next to an uninstrumented libtorch:
# - tests/sanitize/deepbind_shim.cpp, built here and LD_PRELOADed: ASan's dlopen refuses
#   RTLD_DEEPBIND, which loads the sentencepiece module (README "Layout"); the shim passes
#   those calls to glibc's dlopen. The sanitizer runtime is then not first in the library
#   list, hence verify_asan_link_order=0.
# - detect_leaks=0: libtorch and its operator registries keep allocations until exit, which
#   LeakSanitizer reports as leaks; scripts/valgrind.sh checks dlm's own leaks instead.
# - UBSan stops at the first finding (halt_on_error=1, print_stacktrace=1).
# GCC has no -fsanitize=float-cast-overflow in `undefined`: the clang fuzz targets
# (scripts/fuzz.sh) cover float-to-integer conversions of untrusted numbers.
# The fuzz_regression and cuda_kernels_compile tests are left to the plain build.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${DLM_ASAN_BUILD:-$root/build-asan}"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

cmake -S "$root" -B "$build" -G Ninja -DDLM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
nice -n 19 cmake --build "$build" -j "${DLM_JOBS:-2}"
# The shim itself is not instrumented: it must not pull in a second sanitizer runtime.
g++ -shared -fPIC -O2 -o "$build/libdlm_deepbind_shim.so" "$root/tests/sanitize/deepbind_shim.cpp" -ldl

export LD_PRELOAD="$build/libdlm_deepbind_shim.so"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
cd "$build"
nice -n 19 ctest --output-on-failure -E '^(fuzz_regression|cuda_kernels_compile|export)$' "$@"
