#!/usr/bin/env bash
# fake-cluster.sh: N fake hosts on this machine, so multi-host runs (Open MPI over ssh) are
# tested for real without a second machine. Needs root.
#
#   scripts/fake-cluster.sh up N [--name PREFIX] [--private --workdir DIR [--hide DIR]...]
#   scripts/fake-cluster.sh down [--name PREFIX]
#   scripts/fake-cluster.sh env [--name PREFIX]
#
# What `up` makes (PREFIX defaults to "amlf"; two prefixes make two independent clusters):
# - network namespaces PREFIX-h1..PREFIX-hN, each with loopback and an eth0 on a veth joined
#   to a bridge in this machine's namespace. The bridge takes .1 of a free private /24
#   (10.213.X.0/24, X the first that no local address or route overlaps): that is this
#   machine's address on the cluster's network. Host i has .(10+i). No routes beyond the /24,
#   no forwarding, no sysctl changed: traffic stays between this machine and the hosts.
# - each host its own hostname (a UTS namespace: every process its ssh starts sees it), an
#   /etc/netns/<ns>/hosts naming every host (ip netns exec binds it over /etc/hosts), and a
#   real Debian sshd with its own host key and config, listening on its address, port 22.
# - a state folder /run/amlflow-fake-cluster/PREFIX/ (/tmp/... where /run is unusable):
#   id_ed25519 (the client key every host accepts for root), known_hosts (each host's key
#   under its name and address), ssh_config (use with ssh -F: names, User root, the key,
#   StrictHostKeyChecking yes, BatchMode yes), hosts (one name a line, in order), env.
# - with --private, each host's sshd runs in a mount namespace of its own where DIR is an
#   empty tmpfs of its own and every --hide DIR an empty tmpfs (this machine's run store,
#   say, is then invisible to the host); the rest of the file system stays shared.
# `up` and `env` print sh lines to eval (FAKE_CLUSTER_SSH_CONFIG, _HOSTS, _ADDRESSES, _SUBNET,
# _BRIDGE_ADDRESS, _NAMESPACES, ...); progress goes to stderr. `down` removes everything up
# made, also after a half-failed up, and does nothing when nothing is there.
#
# Open MPI 4.1 (Debian's) across these hosts, as root (tested: hostname, mpi4py all-reduce):
#   mpirun --allow-run-as-root --mca plm_rsh_args "-F $FAKE_CLUSTER_SSH_CONFIG" \
#     --mca oob_tcp_if_include $FAKE_CLUSTER_SUBNET --mca btl_tcp_if_include $FAKE_CLUSTER_SUBNET \
#     --host PREFIX-h1:2,PREFIX-h2:2 -np 4 --map-by ppr:2:node hostname
# - plm_rsh_args "-F config" is the one parameter that is required: it gives mpirun's ssh the
#   names, key and known_hosts (the names resolve only through it on this machine, through
#   /etc/hosts inside the hosts; ~/.ssh is unused). Its path is the same on every host, so an
#   orted's own ssh (tree spawn) finds it too. Tested up to 5 hosts, one rank each.
# - oob_tcp_if_include / btl_tcp_if_include = the subnet, a CIDR (the NIC is eth0 on the hosts
#   and the bridge here, so a NIC name would be fatal on one side). Without them it works too,
#   because the hosts have no route elsewhere and fail fast, but they keep daemons and ranks
#   off this machine's other addresses.
# - --allow-run-as-root only on mpirun: it passes it on to the orteds.
# - Nothing else: no --prefix (orted is /usr/bin/orted on every host: one file system), no
#   plm_rsh_no_tree_spawn, no "--mca btl ^openib". mpirun may print "plm:rsh: Warning:
#   setpgid(...) failed in parent with errno=Permission denied": a harmless race in Open MPI
#   (the ssh child exec'd first), not a failure.
# - Host names must have no dot: Open MPI cuts "a.b-h1" to "a" (the rest taken for a domain).
set -euo pipefail

readonly SCRIPT_NAME="fake-cluster"
readonly SUBNET_BASE="10.213"
readonly MAX_HOSTS=99

usage() {
  cat <<'EOF'
usage: scripts/fake-cluster.sh up N [--name PREFIX] [--private --workdir DIR [--hide DIR]...]
       scripts/fake-cluster.sh down [--name PREFIX]
       scripts/fake-cluster.sh env [--name PREFIX]

Makes N fake hosts on this machine (root only): network namespaces PREFIX-h1..PREFIX-hN on a
bridge, each with its own address on a free private /24, its own hostname and a real sshd.
PREFIX defaults to "amlf"; clusters with different prefixes coexist.

  up N          make the cluster and print sh lines to eval (FAKE_CLUSTER_SSH_CONFIG, ...)
  down          remove everything `up` made (safe after a failed up; idempotent)
  env           print the sh lines of a cluster that is up
  --name P      the cluster's prefix: namespaces, hostnames and state folder are named by it
  --private     each host gets its own mount namespace: --workdir DIR is an empty tmpfs of
                its own there, and each --hide DIR is covered by an empty tmpfs

Then:  eval "$(scripts/fake-cluster.sh up 2)"; ssh -F "$FAKE_CLUSTER_SSH_CONFIG" amlf-h1 hostname
EOF
}

die() {
  echo "$SCRIPT_NAME: $*" >&2
  exit 1
}

say() { echo "$SCRIPT_NAME: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Names. Everything is derived from the prefix, so `down` finds what a half-failed `up` left.

prefix="amlf"

check_prefix() {
  # Host names are made of it: no dots (Open MPI cuts a name at its first dot, taking the rest
  # for a domain), no capitals (names are compared as typed), no underscores (not a hostname).
  [[ "$prefix" =~ ^[a-z][a-z0-9-]{0,31}$ ]] ||
    die "bad --name '$prefix': use up to 32 lowercase letters, digits and '-', starting with a letter"
}

# Interface names have at most 15 characters: a prefix of up to 8 is used as is ("amlf-br",
# "amlf-v12"); a longer one is replaced by 9 characters of its hash, which no short prefix
# can equal.
link_tag() {
  if [ ${#prefix} -le 8 ]; then
    echo "$prefix"
  else
    echo "h$(printf '%s' "$prefix" | md5sum | cut -c1-8)"
  fi
}

bridge_name() { echo "$(link_tag)-br"; }
veth_name() { echo "$(link_tag)-v$1"; }
namespace_name() { echo "$prefix-h$1"; }
link_regex() {
  local tag
  tag="$(link_tag)"
  tag="${tag//./\\.}"
  echo "^$tag-v[0-9]+\$|^$tag-br\$"
}
# A regular expression matching exactly this cluster's namespace names (not "amlf-h1-h1").
namespace_regex() { echo "^${prefix//./\\.}-h[0-9]+\$"; }

state_root() {
  if [ -d /run/amlflow-fake-cluster ] || { mkdir -p /run/amlflow-fake-cluster 2>/dev/null &&
                                            [ -w /run/amlflow-fake-cluster ]; }; then
    echo /run/amlflow-fake-cluster
  else
    mkdir -p /tmp/amlflow-fake-cluster
    echo /tmp/amlflow-fake-cluster
  fi
}

# The state folder of an existing cluster, wherever it is; empty when none.
existing_state_dir() {
  local root
  for root in /run/amlflow-fake-cluster /tmp/amlflow-fake-cluster; do
    if [ -d "$root/$prefix" ]; then
      echo "$root/$prefix"
      return
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Preconditions, each with the package that provides what is missing.

need_root() {
  [ "$(id -u)" -eq 0 ] ||
    die "needs root (it makes network namespaces, a bridge and mounts); run it as root or with sudo"
}

need_program() {  # need_program PATH_OR_NAME PACKAGE
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' is missing: install Debian's $2 (scripts/install-deps.sh does)"
}

check_up_tools() {
  need_program ip iproute2
  need_program /usr/sbin/sshd openssh-server
  need_program ssh openssh-client
  need_program ssh-keygen openssh-client
  need_program unshare util-linux
  need_program flock util-linux
  need_program md5sum coreutils
  # Without PAM, sshd refuses every login to a locked account ("!" in /etc/shadow), keys too.
  local root_password
  root_password="$(getent shadow root 2>/dev/null | cut -d: -f2 || true)"
  if [[ "$root_password" == '!'* ]]; then
    die "root's account is locked ('!' in /etc/shadow), and sshd without PAM refuses a locked" \
        "account even with a key; unlock it without a password: usermod -p '*' root"
  fi
}

# ---------------------------------------------------------------------------------------------
# A free /24: none of its addresses on any local interface or route, nor reserved by another
# cluster's state folder (whose bridge may not have its address yet). Called under a lock.

ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# Every IPv4 prefix this machine uses, as "start end" integer pairs (the default route aside).
used_ranges() {
  local word address length start size
  {
    ip -4 -o addr show | awk '{print $4}'
    ip -4 route show table all | awk '{print ($1 ~ /^(local|broadcast|unicast|anycast|multicast|blackhole|unreachable|prohibit|throw)$/) ? $2 : $1}'
  } | while read -r word; do
    [ "$word" = "default" ] && continue
    [[ "$word" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(/[0-9]+)?$ ]] || continue
    address="${word%/*}"
    length=32
    [[ "$word" == */* ]] && length="${word#*/}"
    [ "$length" -eq 0 ] && continue
    size=$((1 << (32 - length)))
    start=$(($(ip_to_int "$address") & ~(size - 1) & 0xffffffff))
    echo "$start $((start + size - 1))"
  done
}

pick_subnet() {
  local ranges reserved x start end used range_start range_end
  ranges="$(used_ranges)"
  reserved="$(cat "$(state_root)"/*/subnet 2>/dev/null || true)"
  for x in $(seq 0 255); do
    grep -qx "$SUBNET_BASE.$x.0/24" <<<"$reserved" && continue
    start=$(ip_to_int "$SUBNET_BASE.$x.0")
    end=$((start + 255))
    used=0
    while read -r range_start range_end; do
      [ -z "$range_start" ] && continue
      if [ "$range_start" -le "$end" ] && [ "$range_end" -ge "$start" ]; then
        used=1
        break
      fi
    done <<<"$ranges"
    if [ "$used" -eq 0 ]; then
      echo "$SUBNET_BASE.$x"
      return
    fi
  done
  die "no free /24 left in $SUBNET_BASE.0.0/16 (every one overlaps a local address or route)"
}

# ---------------------------------------------------------------------------------------------
# up

hosts_count=""
private=0
workdir=""
hides=()

parse_up_args() {
  [ $# -ge 1 ] || die "up needs the number of hosts (see -h)"
  hosts_count="$1"
  shift
  [[ "$hosts_count" =~ ^[0-9]+$ ]] && [ "$hosts_count" -ge 1 ] && [ "$hosts_count" -le $MAX_HOSTS ] ||
    die "up needs a number of hosts from 1 to $MAX_HOSTS, not '$hosts_count'"
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) [ $# -ge 2 ] || die "--name needs a value"; prefix="$2"; shift 2 ;;
      --private) private=1; shift ;;
      --workdir) [ $# -ge 2 ] || die "--workdir needs a folder"; workdir="$2"; shift 2 ;;
      --hide) [ $# -ge 2 ] || die "--hide needs a folder"; hides+=("$2"); shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument '$1' for up (see -h)" ;;
    esac
  done
  check_prefix
  if [ "$private" -eq 1 ]; then
    [ -n "$workdir" ] || die "--private needs --workdir DIR (the folder each host gets of its own)"
  else
    [ -z "$workdir" ] || die "--workdir needs --private"
    [ ${#hides[@]} -eq 0 ] || die "--hide needs --private"
  fi
  local dir
  for dir in "$workdir" "${hides[@]}"; do
    [ -z "$dir" ] && continue
    [[ "$dir" == /* ]] || die "'$dir' must be an absolute path"
    [[ "$dir" != *[[:space:]\'\"\\]* ]] || die "'$dir': no spaces or quotes in --workdir and --hide"
    [ "$(readlink -m "$dir")" != "/" ] || die "'$dir': cannot cover the root folder"
  done
}

make_network() {
  local bridge net="$1" i ns veth
  bridge="$(bridge_name)"
  ip link add "$bridge" type bridge
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$hosts_count"); do
    ns="$(namespace_name "$i")"
    veth="$(veth_name "$i")"
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

write_etc_hosts() {
  local net="$1" i ns
  for i in $(seq 1 "$hosts_count"); do
    ns="$(namespace_name "$i")"
    mkdir -p "/etc/netns/$ns"
    {
      echo "127.0.0.1 localhost"
      echo "::1 localhost ip6-localhost ip6-loopback"
      local j
      for j in $(seq 1 "$hosts_count"); do
        echo "$net.$((10 + j)) $(namespace_name "$j")"
      done
    } >"/etc/netns/$ns/hosts"
  done
}

write_sshd_config() {  # write_sshd_config HOST_DIR ADDRESS
  cat >"$1/sshd_config" <<EOF
# sshd of a fake host (scripts/fake-cluster.sh); its own key, pid file and log.
ListenAddress $2
Port 22
HostKey $1/ssh_host_ed25519_key
PidFile $1/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $state/id_ed25519.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
X11Forwarding no
PrintMotd no
PrintLastLog no
# mpirun and rsync open several connections at once
MaxStartups 200
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel INFO
EOF
}

# The script a host's sshd starts from, inside its UTS (and with --private, mount) namespace.
write_start_script() {  # write_start_script HOST_DIR HOSTNAME
  {
    echo "#!/bin/sh"
    echo "set -e"
    echo "echo '$2' >/proc/sys/kernel/hostname"
    if [ "$private" -eq 1 ]; then
      echo "mount -t tmpfs -o mode=0755 amlflow-fake-workdir '$workdir'"
      local dir
      for dir in "${hides[@]}"; do
        echo "mount -t tmpfs -o mode=0755 amlflow-fake-hidden '$dir'"
      done
    fi
    echo "exec /usr/sbin/sshd -f '$1/sshd_config' -E '$1/sshd.log'"
  } >"$1/start.sh"
}

start_host() {  # start_host INDEX ADDRESS
  local i="$1" address="$2" ns host_dir
  ns="$(namespace_name "$i")"
  host_dir="$state/h$i"
  mkdir -p "$host_dir"
  ssh-keygen -q -t ed25519 -N "" -C "$ns" -f "$host_dir/ssh_host_ed25519_key"
  write_sshd_config "$host_dir" "$address"
  write_start_script "$host_dir" "$ns"
  /usr/sbin/sshd -t -f "$host_dir/sshd_config" || die "sshd rejects $host_dir/sshd_config"
  echo "$ns,$address $(cut -d' ' -f1,2 "$host_dir/ssh_host_ed25519_key.pub")" >>"$state/known_hosts"
  local unshare_args=(--uts)
  [ "$private" -eq 1 ] && unshare_args+=(--mount --propagation private)
  ip netns exec "$ns" unshare "${unshare_args[@]}" /bin/sh "$host_dir/start.sh" ||
    die "sshd of '$ns' did not start (see $host_dir/sshd.log)"
}

write_client_files() {
  local net="$1" i
  ssh-keygen -q -t ed25519 -N "" -C "amlflow-fake-cluster-$prefix" -f "$state/id_ed25519"
  : >"$state/known_hosts"
  : >"$state/hosts"
  {
    echo "# ssh -F this file; made by scripts/fake-cluster.sh for cluster '$prefix'"
    for i in $(seq 1 "$hosts_count"); do
      echo "Host $(namespace_name "$i")"
      echo "  HostName $net.$((10 + i))"
      namespace_name "$i" >>"$state/hosts"
    done
    echo "Host *"
    echo "  User root"
    echo "  Port 22"
    echo "  IdentityFile $state/id_ed25519"
    echo "  IdentitiesOnly yes"
    echo "  UserKnownHostsFile $state/known_hosts"
    echo "  GlobalKnownHostsFile /dev/null"
    echo "  StrictHostKeyChecking yes"
    echo "  BatchMode yes"
    echo "  ConnectTimeout 10"
    echo "  LogLevel ERROR"
  } >"$state/ssh_config"
}

write_env() {
  local net="$1" i names="" addresses="" namespaces=""
  for i in $(seq 1 "$hosts_count"); do
    names+="${names:+ }$(namespace_name "$i")"
    addresses+="${addresses:+ }$net.$((10 + i))"
    namespaces+="${namespaces:+ }$(namespace_name "$i")"
  done
  {
    echo "FAKE_CLUSTER_SSH_CONFIG=$state/ssh_config"
    echo "FAKE_CLUSTER_HOSTS=\"$names\""
    echo "FAKE_CLUSTER_ADDRESSES=\"$addresses\""
    echo "FAKE_CLUSTER_SUBNET=$net.0/24"
    echo "FAKE_CLUSTER_BRIDGE_ADDRESS=$net.1"
    echo "FAKE_CLUSTER_NAMESPACES=\"$namespaces\""
    echo "FAKE_CLUSTER_IDENTITY_FILE=$state/id_ed25519"
    echo "FAKE_CLUSTER_KNOWN_HOSTS=$state/known_hosts"
    echo "FAKE_CLUSTER_STATE_DIR=$state"
    [ "$private" -eq 1 ] && echo "FAKE_CLUSTER_WORKDIR=$workdir"
    true
  } >"$state/env"
}

wait_for_hosts() {
  local i ns deadline
  for i in $(seq 1 "$hosts_count"); do
    ns="$(namespace_name "$i")"
    deadline=$((SECONDS + 10))
    until [ -s "$state/h$i/sshd.pid" ]; do
      [ $SECONDS -lt $deadline ] || die "sshd of '$ns' wrote no pid file (see $state/h$i/sshd.log)"
      sleep 0.05
    done
    local answer
    answer="$(ssh -F "$state/ssh_config" "$ns" hostname 2>&1)" ||
      die "ssh to '$ns' failed: $answer (see $state/h$i/sshd.log)"
    [ "$answer" = "$ns" ] || die "ssh to '$ns' answered hostname '$answer'"
  done
}

up_failed() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "${claimed:-}" ]; then
    say "up failed; removing what it made"
    down_cluster || true
  fi
  exit "$status"
}

cmd_up() {
  parse_up_args "$@"
  need_root
  check_up_tools
  local root net i
  root="$(state_root)"
  state="$root/$prefix"
  ip netns list | awk '{print $1}' | grep -qE "$(namespace_regex)" &&
    die "cluster '$prefix' has namespaces already; run: $0 down --name $prefix"
  mkdir "$state" 2>/dev/null ||
    die "cluster '$prefix' is up already ($state exists); run: $0 down --name $prefix"
  claimed=1
  trap up_failed EXIT
  trap 'exit 130' INT TERM
  chmod 0755 "$state"
  if [ "$private" -eq 1 ] && [ ! -d "$workdir" ]; then
    mkdir -p "$workdir"
    echo "$workdir" >"$state/created_workdir"
  fi
  local dir
  for dir in "${hides[@]}"; do mkdir -p "$dir"; done
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
  # One lock around choosing the subnet and giving the bridge its address, so two clusters
  # made at once never pick the same /24.
  exec 9>"$root/.lock"
  flock 9
  net="$(pick_subnet)"
  echo "$net.0/24" >"$state/subnet"
  say "cluster '$prefix': $hosts_count hosts on $net.0/24 (bridge $(bridge_name) at $net.1)"
  make_network "$net"
  flock -u 9
  exec 9>&-
  write_etc_hosts "$net"
  write_client_files "$net"
  for i in $(seq 1 "$hosts_count"); do
    start_host "$i" "$net.$((10 + i))"
  done
  wait_for_hosts
  write_env "$net"
  trap - EXIT INT TERM
  say "cluster '$prefix' is up; ssh -F $state/ssh_config $(namespace_name 1)"
  cat "$state/env"
}

# ---------------------------------------------------------------------------------------------
# down: everything named by the prefix, whether or not up got as far as writing it down.

kill_namespace_processes() {  # kill_namespace_processes NS
  local ns="$1" pids attempt
  # shellcheck disable=SC2086  # $pids: one word a process
  for attempt in $(seq 1 40); do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -z "$pids" ] && return 0
    if [ "$attempt" -le 20 ]; then
      kill -TERM $pids 2>/dev/null || true
    else
      kill -KILL $pids 2>/dev/null || true
    fi
    sleep 0.1
  done
  say "processes left in '$ns': $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

# An sshd whose namespace is gone already (deleted by hand): found by its pid file, killed only
# when it still runs with this cluster's config.
kill_stray_sshd() {  # kill_stray_sshd STATE
  local pidfile pid
  for pidfile in "$1"/h*/sshd.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(dirname "$pidfile")/sshd_config"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

down_cluster() {
  local ns link state_dir
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$(namespace_regex)" || true); do
    kill_namespace_processes "$ns"
    ip netns delete "$ns" 2>/dev/null || say "could not delete namespace '$ns'"
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
                grep -E "$(link_regex)" || true); do
    ip link delete "$link" 2>/dev/null || true
  done
  for ns in /etc/netns/*; do
    if [ -d "$ns" ] && grep -qE "$(namespace_regex)" <<<"$(basename "$ns")"; then
      rm -rf "$ns"
    fi
  done
  rmdir /etc/netns 2>/dev/null || true  # only when no other cluster (nor anyone) uses it
  state_dir="$(existing_state_dir)"
  while [ -n "$state_dir" ]; do
    kill_stray_sshd "$state_dir"
    if [ -f "$state_dir/created_workdir" ]; then
      rmdir "$(cat "$state_dir/created_workdir")" 2>/dev/null || true
    fi
    rm -rf "$state_dir"
    state_dir="$(existing_state_dir)"
  done
}

cmd_down() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) [ $# -ge 2 ] || die "--name needs a value"; prefix="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument '$1' for down (see -h)" ;;
    esac
  done
  check_prefix
  need_root
  need_program ip iproute2
  down_cluster
  say "cluster '$prefix' is down"
}

cmd_env() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) [ $# -ge 2 ] || die "--name needs a value"; prefix="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument '$1' for env (see -h)" ;;
    esac
  done
  check_prefix
  local state_dir
  state_dir="$(existing_state_dir)"
  [ -n "$state_dir" ] && [ -f "$state_dir/env" ] ||
    die "no cluster '$prefix' is up (scripts/fake-cluster.sh up N --name $prefix makes one)"
  cat "$state_dir/env"
}

main() {
  [ $# -ge 1 ] || { usage >&2; exit 1; }
  local command="$1"
  shift
  case "$command" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown command '$command'" ;;
  esac
}

main "$@"
