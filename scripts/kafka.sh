#!/usr/bin/env bash
# A real Kafka-protocol broker (tansu, in-memory storage) on a free loopback port, for
# tests and local runs. No Docker, no JVM.
#
#   scripts/kafka.sh start   install tansu if missing, start it, create the default topics,
#                            write the address to .kafka/env (CCPULSE_TEST_BROKERS=…)
#   scripts/kafka.sh stop    stop the broker started here
#   scripts/kafka.sh status  say whether it runs, and where
#
# Set TANSU to use a tansu binary elsewhere. The first install builds tansu from
# crates.io (about 15 minutes on 2 cores); later runs reuse ~/.cargo/bin/tansu.
set -euo pipefail

TANSU_VERSION=0.6.0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state="$repo/.kafka"
tansu=${TANSU:-}

log() { printf 'kafka.sh: %s\n' "$*" >&2; }

find_tansu() {
  if [ -n "$tansu" ] && [ -x "$tansu" ]; then return 0; fi
  for candidate in "$(command -v tansu 2>/dev/null || true)" "$HOME/.cargo/bin/tansu"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] \
      && "$candidate" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
      tansu=$candidate
      return 0
    fi
  done
  return 1
}

install_tansu() {
  if find_tansu; then return 0; fi
  log "installing tansu $TANSU_VERSION with the dynostore feature (first time only, ~15 minutes)"
  # dynostore is required: without it the in-memory storage engine refuses to start.
  cargo install tansu --version "$TANSU_VERSION" --features dynostore --locked --quiet
  find_tansu || { log "tansu was installed but is not runnable"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() {
  local port=$1 pid=$2
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "tansu exited during start-up; its log:"; cat "$state/broker.log" >&2; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "tansu did not listen on port $port within 30 s"; return 1
}

create_topic() {
  local name=$1 partitions=$2 port=$3
  # Run from the state directory: tansu loads a .env from its working directory.
  (cd "$state" && "$tansu" topic create "$name" --partitions "$partitions" \
      --broker "tcp://127.0.0.1:$port") >>"$state/broker.log" 2>&1 \
    || { log "creating topic $name failed; see $state/broker.log"; return 1; }
}

start() {
  if status >/dev/null 2>&1; then
    log "already running: $(cat "$state/env")"; return 0
  fi
  install_tansu
  mkdir -p "$state"
  : >"$state/broker.log"
  local port; port=$(free_port)
  (cd "$state" && exec "$tansu" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "memory://tansu/" >>"$state/broker.log" 2>&1) &
  local pid=$!
  echo "$pid" >"$state/broker.pid"
  wait_for_port "$port" "$pid"
  create_topic ccpulse.events 4 "$port"
  create_topic ccpulse.events.dlq 1 "$port"
  echo "export CCPULSE_TEST_BROKERS=127.0.0.1:$port" >"$state/env"
  log "tansu $TANSU_VERSION listening on 127.0.0.1:$port (pid $pid); topics ccpulse.events, ccpulse.events.dlq"
}

stop() {
  if [ -f "$state/broker.pid" ]; then
    local pid; pid=$(cat "$state/broker.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      log "stopped tansu (pid $pid)"
    fi
    rm -f "$state/broker.pid" "$state/env"
  fi
}

status() {
  if [ -f "$state/broker.pid" ] && kill -0 "$(cat "$state/broker.pid")" 2>/dev/null && [ -f "$state/env" ]; then
    echo "running: $(cat "$state/env")"; return 0
  fi
  echo "not running"; return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  install) install_tansu; echo "$tansu" ;;
  *) echo "usage: scripts/kafka.sh start|stop|status|install" >&2; exit 2 ;;
esac
