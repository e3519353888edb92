#!/usr/bin/env bash
# The one test command (README, CI): starts a real Kafka-protocol broker, builds, and
# runs every test of the workspace against it. Does all set-up itself.
#
#   scripts/test.sh              all tests
#   scripts/test.sh -p CRATE …   extra arguments go to `cargo test`
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scripts/kafka.sh start
trap 'scripts/kafka.sh stop' EXIT
# shellcheck disable=SC1091
source .kafka/env
echo "test.sh: broker at $CCPULSE_TEST_BROKERS" >&2

scripts/install-browser.sh
cargo build --workspace --all-targets --locked
cargo test --workspace --locked "$@"
