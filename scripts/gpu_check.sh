#!/usr/bin/env bash
# GPU machine check, one call: build dlm against the machine's CUDA torch with the
# unpacked Debian dependencies (.gpu-deps/root, from scripts/gpu_deps.sh), run the
# test suite (the ops tests run on CUDA there, against their CPU results), then generate
# on cuda with each cache mode and on cpu, and compare tokens and speed. Every stage runs under
# `timeout`; the log goes to LOG_DIR/gpu_check.log (pass $OUT); a short table is printed last.
# Usage (device tool): bash scripts/gpu_check.sh "$OUT"   with carry [".gpu-deps"]
set -uo pipefail
cd "$(dirname "$0")/.."
log_dir="${1:?usage: scripts/gpu_check.sh LOG_DIR}"
mkdir -p "$log_dir"
log="$log_dir/gpu_check.log"
: > "$log"
deps="$(pwd)/.gpu-deps/root"
declare -a rows=()

stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 secs=$2; shift 2
  local t0=$SECONDS
  echo "== $name" >&2
  echo "===== $name: $*" >> "$log"
  timeout "$secs" "$@" > "$log_dir/.stage" 2>&1
  local rc=$?
  cat "$log_dir/.stage" >> "$log"
  rows+=("$(printf '%-12s rc=%-4s %4ss' "$name" "$rc" "$((SECONDS - t0))")")
  tail -n 5 "$log_dir/.stage" >&2
  case "$name" in gen_*) grep '^{' "$log_dir/.stage" > "$log_dir/.$name.json" ;; esac
  return $rc
}

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:$torch_lib:${LD_LIBRARY_PATH:-}"
export PKG_CONFIG_PATH="$deps/usr/lib/x86_64-linux-gnu/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$deps"
nvidia-smi -L >> "$log" 2>&1

stage configure 180 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DDLM_BUILD_TESTS=ON &&
stage build 300 cmake --build build-gpu -j 16 &&
# The reference-equivalence test needs Debian's python3 with sentencepiece and numpy: not there.
stage ctest 240 ctest --test-dir build-gpu --output-on-failure -j 8 --timeout 120 -E reference
dlm=build-gpu/dlm
prompt="And the LORD said unto Moses,"
if [ -x "$dlm" ]; then
  common=(-p "$prompt" -n 256 --steps 256 --block-length 32 --json --stats)
  for mode in none prefix dual; do
    stage "gen_cuda_$mode" 180 "$dlm" generate "${common[@]}" --device cuda --cache "$mode"
  done
  stage gen_cpu_none 180 "$dlm" generate "${common[@]}" --device cpu -t 16 --cache none
  stage gen_cpu_dual 180 "$dlm" generate "${common[@]}" --device cpu -t 16 --cache dual
  rows+=("$(python3 - "$log_dir" 2>&1 <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
def record(name):
    path = d / f".{name}.json"
    return json.loads(path.read_text().splitlines()[0]) if path.exists() and path.stat().st_size else None
def tps(r):
    t = r["timings_ms"]
    return 256 * 1000 / max(t["total"] - t["load"], 1e-9)
out = []
for mode in ("none", "prefix", "dual"):
    r = record(f"gen_cuda_{mode}")
    if r:
        out.append(f"cuda {mode}: {tps(r):.1f} tokens/s, nfe {r['nfe']}, cache {r['cache']['bytes']} B")
for mode in ("none", "dual"):
    a, b = record(f"gen_cuda_{mode}"), record(f"gen_cpu_{mode}")
    if a and b:
        same = sum(x == y for x, y in zip(a["token_ids"], b["token_ids"]))
        out.append(f"{mode}: cuda vs cpu {same}/{max(len(a['token_ids']), len(b['token_ids']))} tokens agree")
print("\n".join(out))
PY
)")
  rm -f "$log_dir"/.stage "$log_dir"/.gen_*.json
fi
echo
printf '%s\n' "${rows[@]}"
