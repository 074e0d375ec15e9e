#!/usr/bin/env bash
# `hosts` jobs end to end: ups a private fake cluster of 2 hosts (scripts/fake-cluster.sh)
# whose hosts cannot see a local folder of this test's own, runs the test executable given
# (test_hosts_e2e) against it with the real amlflow (AMLFLOW_BIN), and always takes the
# cluster down again.
#
#   AMLFLOW_BIN=build/amlflow tests/cluster/hosts_e2e.sh build/test_hosts_e2e [boost args...]
#
# Exit 77 (skipped) where the cluster cannot be made: not root, or no fake-cluster.sh.
# FAKE_CLUSTER_SCRIPT overrides where fake-cluster.sh is found.
set -euo pipefail

binary="${1:?usage: tests/cluster/hosts_e2e.sh PATH/TO/test_hosts_e2e [boost args...]}"
shift
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
name="hoste2e-$$"
# The shared_fs = false case keeps its run store here, where the hosts see an empty folder.
hidden="$(mktemp -d /tmp/amlflow-hosts-e2e-local.XXXXXX)"
workdir="/tmp/amlflow-hosts-e2e-work-$$"
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
"$binary" --log_level=message "$@"
