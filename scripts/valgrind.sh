#!/usr/bin/env bash
# Valgrind memcheck on a short `dlm generate` and a 2-record `dlm batch` of the plain
# build (build/, DLM_BUILD overrides; run scripts/build.sh first):
#
#   scripts/valgrind.sh
#
# Passes when memcheck finds no invalid access or use of uninitialised memory (any error
# makes valgrind exit 99) and no definitely lost block. libtorch's own noise (one-time
# registries, OpenMP and OpenBLAS thread pools, protobuf) is suppressed by
# tests/sanitize/valgrind.supp; "possibly lost" and "still reachable" blocks, which
# libtorch's static state leaves at exit, are not errors. Logs: .work/valgrind/*.log.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${DLM_BUILD:-$root/build}"
command -v valgrind >/dev/null || { echo "valgrind: not installed; apt-get install valgrind" >&2; exit 2; }
[ -x "$build/dlm" ] || { echo "valgrind: $build/dlm missing; run scripts/build.sh" >&2; exit 2; }
logs="$root/.work/valgrind"
mkdir -p "$logs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

vg=(nice -n 19 valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=no
    --num-callers=30 --suppressions="$root/tests/sanitize/valgrind.supp")
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

status=0
echo "valgrind: dlm generate -p x -n 8" >&2
"${vg[@]}" --log-file="$logs/generate.log" "$build/dlm" generate -q -t 1 -p x -n 8 >/dev/null || status=$?
printf '{"id":"a","prompt":"In the beginning"}\n{"id":"b","prompt":"Blessed are","temperature":0.8}\n' > "$work/in.jsonl"
echo "valgrind: dlm batch (2 records)" >&2
"${vg[@]}" --log-file="$logs/batch.log" "$build/dlm" batch -q -t 1 -n 8 -i "$work/in.jsonl" -o "$work/out.jsonl" || status=$?
for log in "$logs/generate.log" "$logs/batch.log"; do
  grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$log" | sed "s|^|$(basename "$log"): |" >&2
done
[ "$status" -eq 0 ] && echo "valgrind: clean" >&2 || echo "valgrind: FAILED (exit $status); see $logs" >&2
exit "$status"
