#!/usr/bin/env bash
# Builds dlm's libFuzzer targets (tests/fuzz/, clang 14 + libfuzzer-14-dev, ASan + UBSan)
# and runs each for SECONDS seconds:
#
#   scripts/fuzz.sh SECONDS [TARGET...]      # default: every target
#
# Each target starts from its committed seed corpus (tests/fuzz/corpus/TARGET, read only)
# and its dictionary (tests/fuzz/dict/); new inputs go to .work/fuzz/TARGET/corpus and a
# crash to .work/fuzz/TARGET/crash-* (add it to the committed corpus once fixed). The
# build folder is build-fuzz/ (DLM_FUZZ_BUILD overrides). Exit status: non-zero when a
# target found a crash, a leak or a timeout. Runs under `nice -n 19`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
build="${DLM_FUZZ_BUILD:-$root/build-fuzz}"
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing; apt-get install clang libfuzzer-14-dev" >&2; exit 2; }

CXX=clang++ cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
nice -n 19 cmake --build "$build" -j "${DLM_FUZZ_JOBS:-2}" --target dlm_fuzz_all

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_batch_record fuzz_config_toml fuzz_model_config fuzz_text_stream fuzz_resume
           fuzz_hf_tokenizer)
fi
dict_of() {
  case "$1" in
    fuzz_config_toml) echo toml ;;
    fuzz_text_stream) echo utf8 ;;
    *) echo json ;;
  esac
}
status=0
for t in "${targets[@]}"; do
  work="$root/.work/fuzz/$t"
  mkdir -p "$work/corpus"
  echo "fuzz: $t for ${seconds}s" >&2
  if ! (cd "$work" && nice -n 19 "$build/$t" -max_total_time="$seconds" -timeout=20 \
          -rss_limit_mb=2048 -dict="$root/tests/fuzz/dict/$(dict_of "$t").dict" \
          -artifact_prefix="$work/" -print_final_stats=1 \
          corpus "$root/tests/fuzz/corpus/$t" 2>"$work/log"); then
    echo "fuzz: $t FAILED; see $work/log and $work/crash-*" >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units' "$work/log" | sed "s/^/fuzz: $t /" >&2 || true
done
exit $status
