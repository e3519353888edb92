//! The fold alone, per core (issue 7, point 1): the criterion benchmark
//! `benches/fold.rs` measures; this module reads its estimates
//! (`target/criterion/<group>/<name>/new/`) into the report.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::context::Context;
use crate::report::{Section, Table, Target, thousands};

/// Target: the fold alone folds at least this many events per second on one core.
const TARGET_EVENTS_PER_S: f64 = 1_000_000.0;

/// The benchmarks of `benches/fold.rs`: criterion id and what it measures.
const STAGES: [(&str, &str); 3] = [
    (
        "fold/apply",
        "fold (`Fold::apply`, advancing as the aggregator does by default)",
    ),
    ("decode/json", "decode and validate the JSON (`decode`)"),
    (
        "tables/to_batches",
        "Arrow conversion of the final rows (`tables::to_batches`)",
    ),
];

/// One criterion estimate.
#[derive(Debug, Clone)]
struct Estimate {
    /// Elements (events) per iteration.
    elements: f64,
    /// Mean time per iteration and its 95 % confidence interval, ns.
    mean_ns: f64,
    low_ns: f64,
    high_ns: f64,
}

impl Estimate {
    fn read(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<serde_json::Value> {
            let path = dir.join("new").join(name);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading `{}`: run `cargo bench --bench fold` first (scripts/bench.sh does)",
                    path.display()
                )
            })?;
            serde_json::from_str(&text).with_context(|| format!("parsing `{}`", path.display()))
        };
        let estimates = read("estimates.json")?;
        let benchmark = read("benchmark.json")?;
        let mean = &estimates["mean"];
        let number = |value: &serde_json::Value, what: &str| {
            value.as_f64().with_context(|| {
                format!("no {what} in criterion's output under `{}`", dir.display())
            })
        };
        Ok(Self {
            elements: number(&benchmark["throughput"]["Elements"], "element count")?,
            mean_ns: number(&mean["point_estimate"], "mean")?,
            low_ns: number(&mean["confidence_interval"]["lower_bound"], "lower bound")?,
            high_ns: number(&mean["confidence_interval"]["upper_bound"], "upper bound")?,
        })
    }

    /// Events per second at the mean; at the interval's ends (slow, fast).
    fn rates(&self) -> (f64, f64, f64) {
        let rate = |ns: f64| self.elements / (ns / 1e9);
        (rate(self.mean_ns), rate(self.high_ns), rate(self.low_ns))
    }
}

pub(crate) fn run(ctx: &Context) -> Result<Section> {
    let mut table = Table::new(&[
        "stage",
        "events/s on one core",
        "95 % interval",
        "ns per event",
    ]);
    let mut raw = serde_json::Map::new();
    let mut fold_rate = 0.0;
    for (id, what) in STAGES {
        let estimate = Estimate::read(&ctx.criterion.join(id))?;
        let (mean, slow, fast) = estimate.rates();
        if id == "fold/apply" {
            fold_rate = mean;
        }
        table.row(vec![
            what.to_owned(),
            thousands(mean),
            format!("{} – {}", thousands(slow), thousands(fast)),
            format!("{:.0}", estimate.mean_ns / estimate.elements),
        ]);
        raw.insert(
            id.to_owned(),
            json!({"events_per_s": mean, "mean_ns_per_iteration": estimate.mean_ns,
                   "events_per_iteration": estimate.elements}),
        );
    }
    Ok(Section {
        id: "fold",
        title: "The fold alone, per core".into(),
        method: vec![
            "criterion (`cargo bench --bench fold`, release profile): the first 200,000 \
             events of a simulated day of 8 tenants, already decoded, folded on one \
             thread into a fresh fold per iteration; 10 samples."
                .into(),
            "Next to it, the two stages around the fold in ingest: JSON decoding with \
             validation, and the Arrow conversion a checkpoint does."
                .into(),
        ],
        table,
        targets: vec![Target::new(
            "fold events/s per core",
            "≥ 1,000,000",
            thousands(fold_rate),
            fold_rate >= TARGET_EVENTS_PER_S,
        )],
        notes: Vec::new(),
        raw: serde_json::Value::Object(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":90000000.0,"upper_bound":110000000.0},"point_estimate":100000000.0,"standard_error":1.0}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"fold","function_id":"apply","throughput":{"Elements":200000}}"#,
        )
        .unwrap();
        let estimate = Estimate::read(dir.path()).unwrap();
        let (mean, slow, fast) = estimate.rates();
        assert!((mean - 2_000_000.0).abs() < 1e-6, "{mean}");
        assert!(slow < mean && mean < fast, "{slow} {mean} {fast}");
    }

    #[test]
    fn a_missing_estimate_says_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = Estimate::read(dir.path()).unwrap_err();
        assert!(
            format!("{error:#}").contains("cargo bench --bench fold"),
            "{error:#}"
        );
    }
}
