#!/usr/bin/env bash
# test_fake_cluster: scripts/fake-cluster.sh makes real hosts and takes them all away again.
# Two 2-host clusters made at once (different /24s); ssh to each host by name and address
# gives its hostname; names resolve between hosts; Open MPI's mpirun runs 2 ranks on each
# host (hostname, then an mpi4py all-reduce); --private gives each host its own workdir and
# hides the run store; down leaves no namespace, link, address, /etc/netns entry, state
# folder or process, and so does an up stopped half-way. Exit 77 (skipped) where it cannot run.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
script="$repo/scripts/fake-cluster.sh"

skip() {
  echo "SKIP test_fake_cluster: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
pass() { echo "ok: $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, a bridge, mounts); CI runs it as root"
command -v ip >/dev/null 2>&1 || skip "'ip' is missing (Debian's iproute2; scripts/install-deps.sh)"
[ -x /usr/sbin/sshd ] || skip "sshd is missing (Debian's openssh-server; scripts/install-deps.sh)"
command -v ssh >/dev/null 2>&1 || skip "ssh is missing (Debian's openssh-client)"
command -v mpirun >/dev/null 2>&1 || skip "mpirun is missing (Debian's openmpi-bin)"
unshare --net --uts --mount true 2>/dev/null ||
  skip "this machine refuses new namespaces (a container without CAP_SYS_ADMIN?)"

# Unique per run, so ctest -j and a cluster someone left up do not collide. The first is short
# enough to name its interfaces ("fct123-br"), the second is not (they get its hash).
plain="fct$(($$ % 100000))"
private="fake-private-$$"
scratch="$(mktemp -d /tmp/test_fake_cluster.XXXXXX)"
cleanup() {
  "$script" down --name "$plain" >/dev/null 2>&1 || true
  "$script" down --name "$private" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# ---- usage errors are clear ------------------------------------------------------------------
expect_error() {  # expect_error WORDS_IN_MESSAGE -- ARGS...
  local words="$1" output
  shift 2
  if output="$("$script" "$@" 2>&1)"; then fail "'$*' succeeded"; fi
  grep -qF -- "$words" <<<"$output" || fail "'$*' said '$output', not '$words'"
}
expect_error "number of hosts from 1" -- up 0 --name "$plain"
expect_error "bad --name" -- up 2 --name "Has.Dot"
expect_error "--private needs --workdir" -- up 2 --name "$plain" --private
expect_error "no cluster '$plain' is up" -- env --name "$plain"
"$script" -h | grep -q "usage: scripts/fake-cluster.sh up N" || fail "-h shows no usage"
pass "usage errors"

# ---- two clusters at once --------------------------------------------------------------------
mkdir -p "$scratch/store"
echo "this machine's run" >"$scratch/store/run.txt"
workdir="$scratch/hostwork"  # missing: up makes the mount point, down removes it
"$script" up 2 --name "$plain" >"$scratch/plain.env" 2>"$scratch/plain.err" &
plain_up=$!
"$script" up 2 --name "$private" --private --workdir "$workdir" --hide "$scratch/store" \
  >"$scratch/private.env" 2>"$scratch/private.err" || fail "up --private: $(cat "$scratch/private.err")"
wait "$plain_up" || fail "up: $(cat "$scratch/plain.err")"
[ "$("$script" env --name "$plain")" = "$(cat "$scratch/plain.env")" ] || fail "env differs from up's output"

load() {  # load ENV_FILE: the cluster's variables, and its bridge and veths for the checks after down
  unset FAKE_CLUSTER_WORKDIR
  eval "$(cat "$1")"
  bridge="$(ip -o addr show | awk -v a="$FAKE_CLUSTER_BRIDGE_ADDRESS/24" '$4 == a {print $2}')"
  [ -n "$bridge" ] || fail "no interface has $FAKE_CLUSTER_BRIDGE_ADDRESS"
  links="$bridge $(ip -o link show master "$bridge" | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' ')"
}
load "$scratch/private.env"
private_subnet="$FAKE_CLUSTER_SUBNET"
private_links="$links"
private_state="$FAKE_CLUSTER_STATE_DIR"
load "$scratch/plain.env"
[ "$FAKE_CLUSTER_SUBNET" != "$private_subnet" ] || fail "both clusters got $FAKE_CLUSTER_SUBNET"
[ "$FAKE_CLUSTER_HOSTS" = "$plain-h1 $plain-h2" ] || fail "hosts are '$FAKE_CLUSTER_HOSTS'"
[ "$(tr '\n' ' ' <"$FAKE_CLUSTER_STATE_DIR/hosts")" = "$plain-h1 $plain-h2 " ] || fail "hosts file"
[ "$(wc -w <<<"$links")" -eq 3 ] || fail "bridge and veths: '$links'"
for link in $links; do [ ${#link} -le 15 ] || fail "interface name '$link' is too long"; done
pass "two clusters on $FAKE_CLUSTER_SUBNET and $private_subnet"

# ---- ssh by name and by address, and between hosts -------------------------------------------
ssh_to() { timeout 30 ssh -F "$FAKE_CLUSTER_SSH_CONFIG" "$@"; }
# shellcheck disable=SC2086  # one address a word
set -- $FAKE_CLUSTER_ADDRESSES
for host in $FAKE_CLUSTER_HOSTS; do
  [ "$(ssh_to "$host" hostname)" = "$host" ] || fail "ssh $host gave another hostname"
  [ "$(ssh_to "$1" hostname)" = "$host" ] || fail "ssh $1 did not reach $host"
  [ "$(ssh_to "$host" cat /proc/net/fib_trie | grep -c "$1")" -ge 1 ] || fail "$host lacks $1"
  shift
done
[ "$(ssh_to "$plain-h1" ssh -F "$FAKE_CLUSTER_SSH_CONFIG" "$plain-h2" hostname)" = "$plain-h2" ] ||
  fail "$plain-h1 cannot ssh to $plain-h2 by name"
[ "$(ssh_to "$plain-h2" getent hosts "$plain-h1" | awk '{print $1}')" = "${FAKE_CLUSTER_ADDRESSES%% *}" ] ||
  fail "$plain-h1 does not resolve on $plain-h2"
pass "ssh by name and address, host to host"

# ---- Open MPI across the hosts ---------------------------------------------------------------
mpirun_on_cluster() {
  timeout 90 mpirun --allow-run-as-root --mca plm_rsh_args "-F $FAKE_CLUSTER_SSH_CONFIG" \
    --mca oob_tcp_if_include "$FAKE_CLUSTER_SUBNET" --mca btl_tcp_if_include "$FAKE_CLUSTER_SUBNET" \
    --host "$plain-h1:2,$plain-h2:2" -np 4 --map-by ppr:2:node "$@"
}
names="$(mpirun_on_cluster hostname 2>"$scratch/mpirun.err" | sort | tr '\n' ' ')" ||
  fail "mpirun hostname: $(cat "$scratch/mpirun.err")"
[ "$names" = "$plain-h1 $plain-h1 $plain-h2 $plain-h2 " ] || fail "mpirun hostname printed '$names'"
cat >"$scratch/allreduce.py" <<'EOF'
import socket
from mpi4py import MPI
world = MPI.COMM_WORLD
total = world.allreduce(world.Get_rank() + 1, op=MPI.SUM)
print(world.Get_rank(), world.Get_size(), socket.gethostname(), total, flush=True)
EOF
mpirun_on_cluster /usr/bin/python3 "$scratch/allreduce.py" >"$scratch/allreduce.out" 2>"$scratch/mpirun.err" ||
  fail "mpi4py all-reduce: $(cat "$scratch/mpirun.err")"
for rank in 0 1 2 3; do
  expected="$rank 4 $plain-h$((rank / 2 + 1)) 10"
  grep -qx "$expected" "$scratch/allreduce.out" ||
    fail "no line '$expected' in: $(cat "$scratch/allreduce.out")"
done
pass "mpirun: 2 ranks on each host, mpi4py all-reduce"

# ---- --private: a workdir of each host's own, the run store hidden ---------------------------
load "$scratch/private.env"
[ "$FAKE_CLUSTER_WORKDIR" = "$workdir" ] || fail "FAKE_CLUSTER_WORKDIR is '${FAKE_CLUSTER_WORKDIR:-}'"
ssh_to "$private-h1" "echo from-h1 >$workdir/mine && cat $workdir/mine" | grep -qx from-h1 ||
  fail "cannot write $workdir on $private-h1"
ssh_to "$private-h2" "test ! -e $workdir/mine && test -z \"\$(ls -A $workdir)\"" ||
  fail "$private-h2 sees $private-h1's workdir"
[ ! -e "$workdir/mine" ] || fail "this machine sees $private-h1's workdir"
ssh_to "$private-h1" "test -z \"\$(ls -A $scratch/store)\"" || fail "$private-h1 sees the run store"
ssh_to "$private-h1" "test -x $script && /usr/bin/python3 -c 'import mpi4py'" ||
  fail "$private-h1 lost the shared file system (the repository, Python)"
[ "$(cat "$scratch/store/run.txt")" = "this machine's run" ] || fail "the run store changed"
pass "--private workdir and hidden store"

# ---- down leaves nothing ---------------------------------------------------------------------
expect_gone() {  # expect_gone PREFIX STATE_DIR LINKS ADDRESS
  local leftover
  leftover="$(ip netns list | awk '{print $1}' | grep -E "^$1-h[0-9]+$" || true)"
  [ -z "$leftover" ] || fail "namespaces left: $leftover"
  for link in $3; do
    ! ip link show "$link" >/dev/null 2>&1 || fail "interface $link left"
  done
  ! ip -o addr show | grep -qF " $4/" || fail "address $4 left"
  ! ls -d /etc/netns/"$1"-h* >/dev/null 2>&1 || fail "/etc/netns entries left"
  [ ! -e "$2" ] || fail "state folder $2 left"
  ! pgrep -f "$2/" >/dev/null || fail "processes left: $(pgrep -af "$2/")"
}
"$script" down --name "$private" 2>/dev/null
expect_gone "$private" "$private_state" "$private_links" "$FAKE_CLUSTER_BRIDGE_ADDRESS"
[ ! -e "$workdir" ] || fail "down left the workdir mount point up made"
[ -f "$scratch/store/run.txt" ] || fail "down removed the hidden run store"
load "$scratch/plain.env"
"$script" down --name "$plain" 2>/dev/null
expect_gone "$plain" "$FAKE_CLUSTER_STATE_DIR" "$links" "$FAKE_CLUSTER_BRIDGE_ADDRESS"
"$script" down --name "$plain" 2>/dev/null || fail "a second down failed"
pass "down leaves nothing, twice"

# ---- an up stopped half-way cleans up after itself -------------------------------------------
for delay in 0.1 0.4; do
  "$script" up 2 --name "$plain" >/dev/null 2>&1 &
  up_pid=$!
  sleep "$delay"
  kill -TERM "$up_pid" 2>/dev/null || true
  if wait "$up_pid"; then
    "$script" down --name "$plain" 2>/dev/null  # it finished first: down must clean it
  fi
  expect_gone "$plain" "/run/amlflow-fake-cluster/$plain" "$plain-br $plain-v1 $plain-v2" "none"
  [ ! -e "/tmp/amlflow-fake-cluster/$plain" ] || fail "state folder left under /tmp"
done
pass "an up stopped half-way leaves nothing"
echo "test_fake_cluster: all passed"
