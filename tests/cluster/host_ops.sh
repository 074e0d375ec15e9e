#!/usr/bin/env bash
# The host preflight and staging over real ssh: ups a private fake cluster of 2 hosts
# (scripts/fake-cluster.sh), runs the host_ops_cluster suite of the test executable given
# against it, and always takes the cluster down again.
#
#   tests/cluster/host_ops.sh PATH/TO/test_runtime
#
# Exit 77 (skipped) where the cluster cannot be made: not root, or no fake-cluster.sh.
# FAKE_CLUSTER_SCRIPT overrides where fake-cluster.sh is found.
set -euo pipefail

binary="${1:?usage: tests/cluster/host_ops.sh PATH/TO/test_runtime}"
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
name="hostops-$$"
# The test's temporary files live here, hidden from the hosts: what they have came by rsync.
local_tmp="$(mktemp -d /tmp/amlflow-hostops-local.XXXXXX)"
workdir="/tmp/amlflow-hostops-work-$$"
cleanup() {
  bash "$script" down --name "$name" || true
  rm -rf "$local_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(bash "$script" up 2 --name "$name" --private --workdir "$workdir" --hide "$local_tmp")"
export AMLFLOW_FAKE_CLUSTER_SSH_CONFIG="$FAKE_CLUSTER_SSH_CONFIG"
export AMLFLOW_FAKE_CLUSTER_HOSTS="$FAKE_CLUSTER_HOSTS"
export AMLFLOW_FAKE_CLUSTER_SUBNET="$FAKE_CLUSTER_SUBNET"
export AMLFLOW_FAKE_CLUSTER_WORKDIR="$workdir"
export TMPDIR="$local_tmp"
"$binary" --run_test=host_ops_cluster --log_level=message
