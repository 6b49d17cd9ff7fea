#!/usr/bin/env bash
# CTest `fuzz_regression`: builds the libFuzzer targets and runs each on its committed
# seed corpus (every file once) and then for a few seconds of fresh mutations, so that
# a past finding stays fixed. Exit 77 (skipped) where clang or libFuzzer is missing.
#   tests/fuzz/regression.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -uo pipefail
src="$1"; build="$2"; seconds="${3:-3}"
command -v clang++ >/dev/null || { echo "clang++ missing: skipped"; exit 77; }
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' > "${TMPDIR:-/tmp}/dlm-fuzz-probe.$$.cpp"
if ! clang++ -fsanitize=fuzzer "${TMPDIR:-/tmp}/dlm-fuzz-probe.$$.cpp" -o "${TMPDIR:-/tmp}/dlm-fuzz-probe.$$" 2>/dev/null; then
  rm -f "${TMPDIR:-/tmp}/dlm-fuzz-probe.$$"*
  echo "libFuzzer missing (libfuzzer-14-dev): skipped"; exit 77
fi
rm -f "${TMPDIR:-/tmp}/dlm-fuzz-probe.$$"*
set -e
CXX=clang++ cmake -S "$src/tests/fuzz" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j 2 --target dlm_fuzz_all
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in $(sed -n 's/^set(DLM_FUZZ_TARGETS \(.*\))$/\1/p' "$src/tests/fuzz/CMakeLists.txt"); do
  mkdir -p "$work/$t"
  case "$t" in fuzz_config_toml) d=toml ;; fuzz_text_stream) d=utf8 ;; *) d=json ;; esac
  echo "== $t"
  (cd "$work/$t" && "$build/$t" -runs=0 "$src/tests/fuzz/corpus/$t" 2>&1 | tail -1)
  (cd "$work/$t" && "$build/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
     -dict="$src/tests/fuzz/dict/$d.dict" -artifact_prefix="$work/$t/" . "$src/tests/fuzz/corpus/$t" \
     > "$work/$t/log" 2>&1) || { cat "$work/$t/log" | tail -40; echo "$t FAILED"; exit 1; }
  grep -h 'Done' "$work/$t/log" || true
done
