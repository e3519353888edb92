//! The machine the numbers come from: CPU, cores, memory, kernel, toolchain, commit.

use std::process::Command;

use serde::Serialize;

use crate::context::Context;

/// What `BENCHMARKS.md` says of the machine.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) commit: String,
    pub(crate) date: String,
    pub(crate) quick: bool,
}

impl Machine {
    /// Reads `/proc` and asks `rustc` and `git`; what cannot be read is `unknown`.
    pub(crate) fn describe(ctx: &Context) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, name)| name.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
            rustc: output("rustc", &["--version"]),
            commit: output("git", &["rev-parse", "--short", "HEAD"]),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            quick: ctx.quick,
        }
    }

    /// A Markdown table.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!(
            "| machine | |\n| --- | --- |\n| CPU | {} |\n| cores | {} |\n| memory | {:.1} GiB |\n\
             | kernel | {} |\n| toolchain | {} |\n| commit | {} |\n| date | {} |\n",
            self.cpu, self.cores, self.memory_gib, self.kernel, self.rustc, self.commit, self.date
        );
        if self.quick {
            out.push_str(
                "\n**`--quick` run: small sizes, to check that the suite works; the numbers \
                 are not the benchmark.**\n",
            );
        }
        out
    }
}

/// A command's first line of output, or `unknown`.
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| {
            String::from_utf8(out.stdout)
                .ok()?
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
