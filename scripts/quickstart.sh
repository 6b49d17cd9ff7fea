#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to generated text: installs the system
# packages (apt), builds dlm, and generates with the shipped default model.
# Usage: scripts/quickstart.sh ["prompt"]   (extra arguments go to dlm generate)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DDLM_BUILD_TESTS=OFF
prompt="${1:-And God said unto Noah,}"
shift || true
exec ./build/dlm generate --config configs/kjv-tiny.toml -p "$prompt" --stats "$@"
