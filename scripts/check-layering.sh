#!/usr/bin/env bash
# Fails when a crate depends on one it must not (ARCHITECTURE.md, "Crate graph"):
# ingest and query never depend on each other; library crates never depend on
# sample-data, tests, the benchmarks or the binary; schemas depends on no ccpulse crate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
deps = {p["name"]: {d["name"] for d in p["dependencies"] if d["name"].startswith("ccpulse")} for p in meta["packages"]}
forbidden = {
    "ccpulse-schemas": {"ccpulse-ingest", "ccpulse-query", "ccpulse-dashboard-api", "ccpulse-sample-data", "ccpulse-tests", "ccpulse", "ccpulse-bench"},
    "ccpulse-ingest": {"ccpulse-query", "ccpulse-dashboard-api", "ccpulse-sample-data", "ccpulse-tests", "ccpulse", "ccpulse-bench"},
    "ccpulse-query": {"ccpulse-ingest", "ccpulse-dashboard-api", "ccpulse-sample-data", "ccpulse-tests", "ccpulse", "ccpulse-bench"},
    "ccpulse-dashboard-api": {"ccpulse-sample-data", "ccpulse-tests", "ccpulse", "ccpulse-bench"},
    "ccpulse-sample-data": {"ccpulse-ingest", "ccpulse-query", "ccpulse-dashboard-api", "ccpulse-tests", "ccpulse", "ccpulse-bench"},
}
bad = [(crate, dep) for crate, banned in forbidden.items() for dep in deps.get(crate, ()) if dep in banned]
for crate, dep in bad:
    print(f"check-layering: {crate} must not depend on {dep}", file=sys.stderr)
sys.exit(1 if bad else 0)
'
echo "check-layering: crate graph ok" >&2
