#!/usr/bin/env bash
# Installs every system package dlm needs to build, run and test (Debian 12).
# Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev python3-torch libopenblas0-pthread
  libsentencepiece-dev sentencepiece python3-sentencepiece
  libcli11-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev libutfcpp-dev
  bible-kjv bible-kjv-text python3-matplotlib python3-numpy libbenchmark-dev
  libonig-dev libicu-dev libedit-dev python3-jinja2 libtomlplusplus-dev
  clang libfuzzer-14-dev valgrind tmux
)

missing=()
# npm (for the test oracles, scripts/npm_deps.sh): Debian's, unless a node with npm is
# already installed (a NodeSource nodejs bundles npm and conflicts with Debian's package).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all system packages present" >&2
fi
