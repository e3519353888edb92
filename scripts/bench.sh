#!/usr/bin/env bash
# The benchmark suite (BENCHMARKS.md), in one command: starts the broker, installs
# DuckDB (the SQL peer) in a venv, builds ccpulse and the suite in release mode, runs the
# criterion fold benchmark and then every benchmark, and writes BENCHMARKS.md-ready
# tables to target/bench/results.md (raw numbers: target/bench/results.json).
#
#   scripts/bench.sh           the full suite (~30 minutes on 2 cores, after the build)
#   scripts/bench.sh --quick   small sizes: checks the suite runs (numbers mean little)
#
# Extra arguments go to `ccpulse-bench suite`. Run one benchmark on its own with
# `target/release/ccpulse-bench <name>` after `scripts/kafka.sh start` and
# `source .kafka/env` (names: `target/release/ccpulse-bench --help`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

quick=false
for arg in "$@"; do [ "$arg" = "--quick" ] && quick=true; done

log() { printf 'bench.sh: %s\n' "$*" >&2; }
started=$(date +%s)

# Thousands of WebSocket clients need as many file descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "open files limit: $(ulimit -n)"

# DuckDB, the SQL benchmark's peer, from PyPI, in a venv of its own.
DUCKDB_VERSION=${DUCKDB_VERSION:-1.4.2}
venv="$repo/target/bench/venv"
if ! "$venv/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
  log "installing duckdb $DUCKDB_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION"
fi

scripts/kafka.sh start
trap 'scripts/kafka.sh stop' EXIT
# shellcheck disable=SC1091
source .kafka/env
log "broker at $CCPULSE_TEST_BROKERS"

build_started=$(date +%s)
# Two builds, not one `--workspace` build: each resolves the features of its own
# dependencies, as `cargo build --release` of the binary a user installs does, so the
# second reuses the first's dependency artifacts instead of building them again.
cargo build --release --locked --bin ccpulse
cargo build --release --locked -p ccpulse-bench
log "release build: $(( $(date +%s) - build_started )) s"

suite_started=$(date +%s)
if $quick; then
  cargo bench --locked -p ccpulse-bench --bench fold -- --warm-up-time 1 --measurement-time 2
else
  cargo bench --locked -p ccpulse-bench --bench fold
fi
target/release/ccpulse-bench suite --out target/bench --ccpulse target/release/ccpulse "$@"
log "suite: $(( $(date +%s) - suite_started )) s (whole script: $(( $(date +%s) - started )) s)"
log "results: target/bench/results.md (raw: target/bench/results.json)"
