#!/usr/bin/env bash
# Installs every Debian package amlflow's build, tests and examples need (DESIGN §7).
# Safe to run again: when everything is present it does nothing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  antlr4 default-jre-headless libantlr4-runtime-dev
  nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libsqlite3-dev
  libmimalloc-dev
  libopenmpi-dev openmpi-bin
  # tests: Boost.Test, and clang with its sanitizer/libFuzzer runtimes for the fuzz smoke test
  libboost-test-dev clang libclang-rt-14-dev
  # the examples' real training runs: PyTorch (CPU, gloo), ONNX, mpi4py
  python3 python3-torch python3-onnx python3-mpi4py
  # editor support and reports: Node.js (TextMate engine, vsce, shiki), headless Chromium
  nodejs chromium vim-nox
  # reports: Graphviz, which test_report runs on every example's `amlflow plan --format dot`
  graphviz
  # the fake cluster (scripts/fake-cluster.sh): namespaces, sshd per host, ssh, rsync, unshare
  openssh-server openssh-client rsync iproute2 util-linux
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# npm: NodeSource's nodejs ships it; Debian's nodejs needs the npm package beside it.
if ! command -v npm >/dev/null 2>&1 && ! dpkg-query -W -f='${Provides}' nodejs 2>/dev/null | grep -q npm; then
  missing+=(npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
