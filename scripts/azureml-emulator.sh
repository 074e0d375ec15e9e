#!/usr/bin/env bash
# Starts or stops the Azure ML service emulator (tests/azureml_emulator) and the Azurite
# blob service under it, both on free loopback ports, in the background.
#
#   eval "$(scripts/azureml-emulator.sh start)"   # prints sh `export` lines for amlflow
#   scripts/azureml-emulator.sh stop
#
# State (pid files, ports, logs) lives in $AMLFLOW_EMULATOR_STATE, by default
# /tmp/amlflow-azureml-emulator. Extra emulator options go in $AMLFLOW_EMULATOR_ARGS
# (e.g. "--python /usr/bin/python3 --page-size 5"). The client secret is new at each start.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
emu="$root/tests/azureml_emulator"
state="${AMLFLOW_EMULATOR_STATE:-/tmp/amlflow-azureml-emulator}"

die() { echo "azureml-emulator: $*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to $2 seconds for file $1 to hold a line matching $3; prints the match.
wait_for() {
  local file="$1" seconds="$2" pattern="$3" pidfile="$4" i
  for ((i = 0; i < seconds * 10; i++)); do
    if [ -f "$file" ] && grep -Eo "$pattern" "$file" | head -n1 | grep .; then return 0; fi
    alive "$pidfile" || return 1
    sleep 0.1
  done
  return 1
}

stop_one() {
  local pidfile="$1" i
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

start() {
  command -v node >/dev/null 2>&1 || die "node is missing (scripts/install-deps.sh installs it)"
  [ -d "$emu/node_modules/azurite" ] || die "$emu/node_modules is missing: run scripts/install-node-deps.sh"
  mkdir -p "$state"
  if alive "$state/azurite.pid" || alive "$state/emulator.pid"; then
    die "already running (state in $state); run '$0 stop' first"
  fi
  rm -f "$state"/*.log "$state"/*.port
  setsid "$emu/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence \
    --extentMemoryLimit 512 --disableTelemetry --skipApiVersionCheck --loose --silent \
    >"$state/azurite.log" 2>&1 </dev/null &
  echo $! >"$state/azurite.pid"
  local blob
  blob="$(wait_for "$state/azurite.log" 30 'http://127\.0\.0\.1:[0-9]+' "$state/azurite.pid")" ||
    { stop_one "$state/azurite.pid"; die "azurite did not start within 30 s: $(tail -n 5 "$state/azurite.log")"; }
  local secret
  secret="emu-$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
  # shellcheck disable=SC2086
  setsid node "$emu/src/main.js" --blob-endpoint "$blob/devstoreaccount1" --port 0 \
    --port-file "$state/emulator.port" --exports-file "$state/env.sh" --client-secret "$secret" ${AMLFLOW_EMULATOR_ARGS:-} \
    >"$state/emulator.log" 2>&1 </dev/null &
  echo $! >"$state/emulator.pid"
  local url
  url="$(wait_for "$state/emulator.log" 30 'http://127\.0\.0\.1:[0-9]+' "$state/emulator.pid")" ||
    { stop_one "$state/emulator.pid"; stop_one "$state/azurite.pid"; die "the emulator did not start within 30 s: $(tail -n 5 "$state/emulator.log")"; }
  local health
  health="$(node -e "fetch(process.argv[1]).then(r => r.json()).then(j => console.log(JSON.stringify(j))).catch(e => { console.error(e.message); process.exit(1); })" "$url/_emulator/health")" ||
    { stop_one "$state/emulator.pid"; stop_one "$state/azurite.pid"; die "the emulator does not answer at $url"; }
  cat "$state/env.sh"
  [ -n "$health" ]
}

case "${1:-}" in
  start) start ;;
  stop)
    stop_one "$state/emulator.pid"
    stop_one "$state/azurite.pid"
    rm -f "$state"/*.port "$state/env.sh"
    ;;
  *) echo "usage: $0 start|stop   (state in \${AMLFLOW_EMULATOR_STATE:-/tmp/amlflow-azureml-emulator})" >&2; exit 2 ;;
esac
