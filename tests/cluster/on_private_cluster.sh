#!/usr/bin/env bash
# Runs a test executable against a private fake cluster of 2 hosts made for it alone
# (scripts/fake-cluster.sh --private: each host has a workdir of its own and cannot see a
# local folder of this run's own), and always takes the cluster down again.
#
#   tests/cluster/on_private_cluster.sh NAME PATH/TO/test_executable [boost args...]
#
# The executable finds the cluster in AMLFLOW_FAKE_CLUSTER_* (tests/unit/hosts_cluster.h,
# tests/unit/test_host_ops.cc). With HIDE_TMPDIR=1 the test's own temporary files go to the
# hidden folder, so whatever the hosts hold came over rsync (the staging tests).
# Exit 77 (skipped) where the cluster cannot be made: not root, or no fake-cluster.sh.
# FAKE_CLUSTER_SCRIPT overrides where fake-cluster.sh is found.
set -euo pipefail

usage="usage: tests/cluster/on_private_cluster.sh NAME PATH/TO/test_executable [boost args...]"
prefix="${1:?$usage}"
binary="${2:?$usage}"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="${FAKE_CLUSTER_SCRIPT:-$here/../../scripts/fake-cluster.sh}"

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: the fake cluster needs root (network namespaces, a bridge, mounts)"
  exit 77
fi
if [ ! -f "$script" ]; then
  echo "skipped: no fake-cluster script at '$script'"
  exit 77
fi

# A name of this run's own, so parallel runs and a developer's own cluster are left alone.
name="$prefix-$$"
hidden="$(mktemp -d "/tmp/amlflow-$prefix-local.XXXXXX")"
workdir="/tmp/amlflow-$prefix-work-$$"
cleanup() {
  bash "$script" down --name "$name" || true
  rm -rf "$hidden"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(bash "$script" up 2 --name "$name" --private --workdir "$workdir" --hide "$hidden")"
export AMLFLOW_FAKE_CLUSTER_SSH_CONFIG="$FAKE_CLUSTER_SSH_CONFIG"
export AMLFLOW_FAKE_CLUSTER_HOSTS="$FAKE_CLUSTER_HOSTS"
export AMLFLOW_FAKE_CLUSTER_ADDRESSES="$FAKE_CLUSTER_ADDRESSES"
export AMLFLOW_FAKE_CLUSTER_NAMESPACES="$FAKE_CLUSTER_NAMESPACES"
export AMLFLOW_FAKE_CLUSTER_SUBNET="$FAKE_CLUSTER_SUBNET"
export AMLFLOW_FAKE_CLUSTER_WORKDIR="$workdir"
export AMLFLOW_FAKE_CLUSTER_HIDDEN="$hidden"
if [ "${HIDE_TMPDIR:-0}" = 1 ]; then export TMPDIR="$hidden"; fi
"$binary" --log_level=message "$@"
