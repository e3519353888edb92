//! A benchmark's result: a Markdown section ready for `BENCHMARKS.md` (method, table,
//! targets), and its raw numbers as JSON. [`write`] puts every section of the run in
//! `<out>/results.md` and `<out>/results.json`, after the machine's description.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::context::Context;
use crate::machine::Machine;

/// One benchmark's result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Section {
    /// Short name, also the key in `results.json` (`ingest`, `sql`, …).
    pub(crate) id: &'static str,
    /// Heading (`Ingest throughput`).
    pub(crate) title: String,
    /// How it was measured: sizes, settings, what the clock covers.
    pub(crate) method: Vec<String>,
    /// The results.
    pub(crate) table: Table,
    /// Each target of the issue this benchmark answers.
    pub(crate) targets: Vec<Target>,
    /// What limits the result, and anything else a reader should know.
    pub(crate) notes: Vec<String>,
    /// The raw numbers.
    pub(crate) raw: serde_json::Value,
}

/// A Markdown table.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "a row of {:?}", self.header);
        self.rows.push(cells);
    }

    /// The table in GitHub Markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.header));
        out.push_str(&line(&vec!["---".to_owned(); self.header.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// A target and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    /// What is measured (`ingest / raw consume rate`).
    pub(crate) what: String,
    /// The target as written (`≥ 70 %`).
    pub(crate) target: String,
    /// The measurement, formatted (`83 %`).
    pub(crate) measured: String,
    pub(crate) met: bool,
}

impl Target {
    pub(crate) fn new(what: &str, target: &str, measured: String, met: bool) -> Self {
        Self {
            what: what.to_owned(),
            target: target.to_owned(),
            measured,
            met,
        }
    }
}

impl Section {
    /// The section in Markdown: heading, method, table, targets, notes.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        if !self.method.is_empty() {
            out.push_str("**Method.**\n");
            for line in &self.method {
                let _ = writeln!(out, "- {line}");
            }
            out.push('\n');
        }
        out.push_str(&self.table.markdown());
        if !self.targets.is_empty() {
            out.push('\n');
            out.push_str(&targets_table(self.targets.iter()).markdown());
        }
        if !self.notes.is_empty() {
            out.push_str("\n**Notes.**\n");
            for line in &self.notes {
                let _ = writeln!(out, "- {line}");
            }
        }
        out
    }
}

fn targets_table<'a>(targets: impl Iterator<Item = &'a Target>) -> Table {
    let mut table = Table::new(&["target", "goal", "measured", "met"]);
    for t in targets {
        table.row(vec![
            t.what.clone(),
            t.target.clone(),
            t.measured.clone(),
            if t.met { "yes" } else { "**no**" }.to_owned(),
        ]);
    }
    table
}

/// The whole run in Markdown: machine, summary of targets, then every section.
pub(crate) fn markdown(machine: &Machine, sections: &[Section]) -> String {
    let mut out = String::from("# ccpulse benchmark results\n\n");
    out.push_str(&machine.markdown());
    out.push_str("\n## Targets\n\n");
    out.push_str(&targets_table(sections.iter().flat_map(|s| s.targets.iter())).markdown());
    for section in sections {
        out.push('\n');
        out.push_str(&section.markdown());
    }
    out
}

/// Writes `results.md` and `results.json` under the output directory.
pub(crate) fn write(ctx: &Context, sections: &[Section]) -> Result<()> {
    let machine = Machine::describe(ctx);
    let md = ctx.out.join("results.md");
    std::fs::write(&md, markdown(&machine, sections))
        .with_context(|| format!("writing `{}`", md.display()))?;
    let json = serde_json::json!({
        "machine": machine,
        "sections": sections,
    });
    let path = ctx.out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
}

/// `1234567.8` → `1,234,568`.
pub(crate) fn thousands(value: f64) -> String {
    let rounded = value.round();
    if !rounded.is_finite() {
        return value.to_string();
    }
    let digits = format!("{}", rounded.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A byte count in binary units (`1.5 GiB`, `830 B`).
pub(crate) fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = value;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(-12_345.0), "-12,345");
    }

    #[test]
    fn bytes_picks_a_binary_unit() {
        assert_eq!(bytes(830.0), "830 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }

    #[test]
    fn a_section_lists_missed_targets_in_bold() {
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["1".into(), "2".into()]);
        let section = Section {
            id: "x",
            title: "X".into(),
            method: vec!["how".into()],
            table,
            targets: vec![
                Target::new("speed", "≥ 1", "2".into(), true),
                Target::new("size", "≤ 1", "2".into(), false),
            ],
            notes: vec!["why".into()],
            raw: serde_json::Value::Null,
        };
        let md = section.markdown();
        assert!(md.starts_with("## X\n"), "{md}");
        assert!(md.contains("| a | b |\n| --- | --- |\n| 1 | 2 |\n"), "{md}");
        assert!(md.contains("| speed | ≥ 1 | 2 | yes |"), "{md}");
        assert!(md.contains("| size | ≤ 1 | 2 | **no** |"), "{md}");
        assert!(md.contains("- why"), "{md}");
    }
}
