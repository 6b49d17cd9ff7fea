#!/usr/bin/env bash
# Benchmarks the fused dlm::score operator against the equivalent ATen composition on CPU
# float32 logits ([256 x 4096] and [32 x 126464], T = 0.8 and T = 0), builds the
# benchmark when needed, and prints the ratios (ATen time / fused time).
# Usage: scripts/bench/bench_ops.sh [extra Google Benchmark flags]
# Environment: DLM_BUILD_DIR (default build), DLM_BENCH_THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${DLM_BUILD_DIR:-build}"
if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target dlm_bench_ops -j "$(nproc)" >/dev/null || {
  echo "bench_ops: could not build dlm_bench_ops (is libbenchmark-dev installed? scripts/setup.sh)" >&2
  exit 1
}
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
export DLM_BENCH_THREADS="${DLM_BENCH_THREADS:-2}"
"$build/tests/dlm_bench_ops" --benchmark_min_time=1 --benchmark_out="$out" \
  --benchmark_out_format=json "$@"
/usr/bin/python3 - "$out" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
ms = {}  # run name -> ms: the single run, or the median of --benchmark_repetitions
for r in report["benchmarks"]:
    if r["run_type"] == "iteration" or r.get("aggregate_name") == "median":
        ms[r["run_name"].replace("/real_time", "")] = r["real_time"]
print(f"\nthreads: {report['context'].get('threads', '?')}")
print(f"{'case':<18} {'ATen ms':>9} {'fused ms':>9} {'ratio':>7}")
for name, aten in ms.items():
    if name.startswith("score/aten/"):
        case = name[len("score/aten/"):]
        fused = ms.get("score/fused/" + case)
        if fused:
            print(f"{case:<18} {aten:>9.2f} {fused:>9.2f} {aten / fused:>6.1f}x")
PY
