#!/usr/bin/env bash
# Fetches Debian's .debs of dlm's C++ dependencies (everything but torch) and unpacks
# them into .gpu-deps/root (git-ignored), for the GPU machine, which has CUDA torch
# but no network and none of these libraries. Pass `.gpu-deps` in the device tool's carry.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps/debs
cd .gpu-deps/debs
apt-get download libsentencepiece-dev libsentencepiece0 libcli11-dev libspdlog-dev libspdlog1.10 \
  libfmt-dev libfmt9 catch2 nlohmann-json3-dev libutfcpp-dev libonig-dev libonig5 libicu-dev \
  libicu72 2>/dev/null
cd ..
rm -rf root
for deb in debs/*.deb; do dpkg -x "$deb" root; done
echo "unpacked into $(pwd)/root"
