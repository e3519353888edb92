//! The suite's binary at `--quick` sizes, for the benchmarks that need no broker: it
//! runs, and writes a results file with the section and its target.

use std::process::Command;

#[test]
fn the_memory_benchmark_runs_and_reports_its_target() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_ccpulse-bench"))
        .args(["memory", "--quick", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success(), "ccpulse-bench memory --quick: {status}");
    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(
        md.contains("## Memory per open interaction and per agent"),
        "{md}"
    );
    assert!(
        md.contains("| memory per open interaction | ≤ 1 KiB |"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let worker = &json["sections"][0]["raw"]["worker"];
    let per_contact = worker["heap_per_open_interaction"].as_f64().unwrap();
    // Open interactions cost something, and far less than a megabyte each.
    assert!(per_contact > 100.0 && per_contact < 1_048_576.0, "{worker}");
}

#[test]
fn a_benchmark_that_needs_the_broker_says_how_to_get_one() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ccpulse-bench"))
        .args(["ingest", "--quick", "--out"])
        .arg(out.path())
        .env_remove("CCPULSE_TEST_BROKERS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("scripts/bench.sh"), "{stderr}");
}
