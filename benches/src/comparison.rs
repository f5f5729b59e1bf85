//! The same-run comparison table: absolute numbers and ratios against a baseline.
//!
//! Only ratios measured in one run mean anything on a shared, noisy machine, so the
//! table carries both and the machine it ran on.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::samples::Samples;

/// The machine and the run a comparison comes from.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Environment {
    /// CPUs available to the process.
    pub cpus: usize,
    /// The CPU model from `/proc/cpuinfo` (`unknown` elsewhere).
    pub cpu_model: String,
    /// PostgreSQL's `server_version`.
    pub postgres: String,
    /// How the server ran (the pgsec-testkit backend).
    pub backend: String,
    /// `quick` or `full`.
    pub mode: String,
    /// The command that reproduces the run.
    pub command: String,
    /// Set-up facts a reader needs (pool sizes, server settings …).
    pub notes: Vec<String>,
}

impl Environment {
    /// This machine's CPUs and CPU model, with the given server facts.
    #[must_use]
    pub fn of_this_machine(postgres: &str, backend: &str, quick: bool, command: &str) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "unknown".to_owned());
        Environment {
            cpus,
            cpu_model,
            postgres: postgres.to_owned(),
            backend: backend.to_owned(),
            mode: if quick { "quick" } else { "full" }.to_owned(),
            command: command.to_owned(),
            notes: Vec::new(),
        }
    }
}

/// The first `model name` of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// One variant at one concurrency, with its ratios to the baseline at the same
/// concurrency.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ComparisonRow {
    /// Concurrent tasks.
    pub concurrency: usize,
    /// Variant name.
    pub variant: String,
    /// Transactions measured.
    pub transactions: usize,
    /// Transactions per second.
    pub tps: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// `tps / baseline tps` (higher is better).
    pub tps_ratio: Option<f64>,
    /// `p50 / baseline p50` (lower is better).
    pub p50_ratio: Option<f64>,
    /// `p99 / baseline p99` (lower is better).
    pub p99_ratio: Option<f64>,
}

/// A goal checked against the measured ratios.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Goal {
    /// What is compared, e.g. "TenantPool p50 at concurrency 1 ÷ baseline".
    pub what: String,
    /// The measured value (absent when the run did not measure it).
    pub measured: Option<f64>,
    /// The limit.
    pub limit: f64,
    /// True when `measured` must not exceed `limit`, false when it must reach it.
    pub at_most: bool,
}

impl Goal {
    /// A goal that `measured ≤ limit`.
    #[must_use]
    pub fn at_most(what: impl Into<String>, measured: Option<f64>, limit: f64) -> Self {
        Goal {
            what: what.into(),
            measured,
            limit,
            at_most: true,
        }
    }

    /// A goal that `measured ≥ limit`.
    #[must_use]
    pub fn at_least(what: impl Into<String>, measured: Option<f64>, limit: f64) -> Self {
        Goal {
            what: what.into(),
            measured,
            limit,
            at_most: false,
        }
    }

    /// Whether the goal was measured and met.
    #[must_use]
    pub fn met(&self) -> bool {
        match self.measured {
            Some(m) if self.at_most => m <= self.limit,
            Some(m) => m >= self.limit,
            None => false,
        }
    }

    fn line(&self) -> String {
        let op = if self.at_most { "≤" } else { "≥" };
        match self.measured {
            Some(m) => format!(
                "{}: {m:.3} (goal {op} {:.2}): {}",
                self.what,
                self.limit,
                if self.met() { "met" } else { "MISSED" }
            ),
            None => format!(
                "{}: not measured in this run (goal {op} {:.2})",
                self.what, self.limit
            ),
        }
    }
}

/// Measurements of several variants at several concurrencies, compared with a
/// baseline variant measured in the same run.
#[derive(Debug, Clone)]
pub struct Comparison {
    title: String,
    baseline: String,
    environment: Environment,
    measured: Vec<(usize, String, Samples)>,
    goals: Vec<Goal>,
}

#[derive(Serialize)]
struct Document<'a> {
    title: &'a str,
    baseline: &'a str,
    environment: &'a Environment,
    rows: Vec<ComparisonRow>,
    goals: &'a [Goal],
}

fn ms(d: Option<std::time::Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

fn ratio(value: f64, base: f64) -> Option<f64> {
    (base > 0.0 && base.is_finite() && value.is_finite()).then(|| value / base)
}

impl Comparison {
    /// An empty comparison against the variant named `baseline`.
    #[must_use]
    pub fn new(
        title: impl Into<String>,
        baseline: impl Into<String>,
        environment: Environment,
    ) -> Self {
        Comparison {
            title: title.into(),
            baseline: baseline.into(),
            environment,
            measured: Vec::new(),
            goals: Vec::new(),
        }
    }

    /// Adds (or extends) the samples of `variant` at `concurrency`.
    pub fn add(&mut self, concurrency: usize, variant: &str, samples: Samples) {
        match self
            .measured
            .iter_mut()
            .find(|(c, v, _)| *c == concurrency && v == variant)
        {
            Some((_, _, existing)) => existing.merge(samples),
            None => self
                .measured
                .push((concurrency, variant.to_owned(), samples)),
        }
    }

    /// Adds a set-up fact to the environment's notes.
    pub fn add_note(&mut self, note: impl Into<String>) {
        self.environment.notes.push(note.into());
    }

    /// Adds a goal to report.
    pub fn add_goal(&mut self, goal: Goal) {
        self.goals.push(goal);
    }

    /// The machine and run this comparison was measured on.
    #[must_use]
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The goals added so far.
    #[must_use]
    pub fn goals(&self) -> &[Goal] {
        &self.goals
    }

    /// The rows in the order added, ratios filled in where the baseline was measured at
    /// the same concurrency.
    #[must_use]
    pub fn rows(&self) -> Vec<ComparisonRow> {
        let mut measured = self.measured.clone();
        let mut rows: Vec<ComparisonRow> = measured
            .iter_mut()
            .map(|(concurrency, variant, samples)| ComparisonRow {
                concurrency: *concurrency,
                variant: variant.clone(),
                transactions: samples.count(),
                tps: samples.per_second(),
                p50_ms: ms(samples.quantile(0.50)),
                p99_ms: ms(samples.quantile(0.99)),
                tps_ratio: None,
                p50_ratio: None,
                p99_ratio: None,
            })
            .collect();
        let bases: Vec<(usize, f64, f64, f64)> = rows
            .iter()
            .filter(|r| r.variant == self.baseline)
            .map(|r| (r.concurrency, r.tps, r.p50_ms, r.p99_ms))
            .collect();
        for row in &mut rows {
            if let Some(&(_, tps, p50, p99)) = bases.iter().find(|b| b.0 == row.concurrency) {
                row.tps_ratio = ratio(row.tps, tps);
                row.p50_ratio = ratio(row.p50_ms, p50);
                row.p99_ratio = ratio(row.p99_ms, p99);
            }
        }
        rows
    }

    /// The row of `variant` at `concurrency`.
    #[must_use]
    pub fn row(&self, concurrency: usize, variant: &str) -> Option<ComparisonRow> {
        self.rows()
            .into_iter()
            .find(|r| r.concurrency == concurrency && r.variant == variant)
    }

    /// The table as Markdown: the machine, the command, the rows and the goals.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let env = &self.environment;
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let _ = writeln!(
            out,
            "Ratios against `{}` measured in the same run. Machine: {} CPU(s), {}; \
             PostgreSQL {} ({} backend); {} mode.\n",
            self.baseline, env.cpus, env.cpu_model, env.postgres, env.backend, env.mode
        );
        let _ = writeln!(out, "Reproduce: `{}`\n", env.command);
        for note in &env.notes {
            let _ = writeln!(out, "- {note}");
        }
        if !env.notes.is_empty() {
            out.push('\n');
        }
        out.push_str(
            "| concurrency | variant | tx/s | p50 ms | p99 ms | tx/s ÷ base | p50 ÷ base | p99 ÷ base |\n\
             |---:|---|---:|---:|---:|---:|---:|---:|\n",
        );
        let r = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"));
        for row in self.rows() {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
                row.concurrency,
                row.variant,
                row.tps,
                row.p50_ms,
                row.p99_ms,
                r(row.tps_ratio),
                r(row.p50_ratio),
                r(row.p99_ratio),
            );
        }
        if !self.goals.is_empty() {
            out.push_str("\nGoals:\n");
            for goal in &self.goals {
                let _ = writeln!(out, "- {}", goal.line());
            }
        }
        out
    }

    /// A compact table for the README: one row per variant, the baseline in absolute
    /// numbers and every other variant as ratios, columns per concurrency, then the
    /// goals.
    #[must_use]
    pub fn to_compact_markdown(&self) -> String {
        let rows = self.rows();
        let mut levels: Vec<usize> = rows.iter().map(|r| r.concurrency).collect();
        levels.sort_unstable();
        levels.dedup();
        let mut variants: Vec<&str> = Vec::new();
        for row in &rows {
            if !variants.contains(&row.variant.as_str()) {
                variants.push(&row.variant);
            }
        }
        let mut out = String::from("| variant |");
        let mut rule = String::from("|---|");
        for c in &levels {
            let _ = write!(out, " {c}: tx/s | {c}: p50 | {c}: p99 |");
            rule.push_str("---:|---:|---:|");
        }
        let _ = writeln!(out, "\n{rule}");
        let x = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}×"));
        for variant in variants {
            let _ = write!(out, "| `{variant}` |");
            for c in &levels {
                match rows
                    .iter()
                    .find(|r| r.concurrency == *c && r.variant == variant)
                {
                    Some(r) if r.variant == self.baseline => {
                        let _ = write!(
                            out,
                            " {:.0}/s | {:.2} ms | {:.2} ms |",
                            r.tps, r.p50_ms, r.p99_ms
                        );
                    }
                    Some(r) => {
                        let _ = write!(
                            out,
                            " {} | {} | {} |",
                            x(r.tps_ratio),
                            x(r.p50_ratio),
                            x(r.p99_ratio)
                        );
                    }
                    None => out.push_str(" – | – | – |"),
                }
            }
            out.push('\n');
        }
        if !self.goals.is_empty() {
            out.push_str("\nGoals:\n");
            for goal in &self.goals {
                let _ = writeln!(out, "- {}", goal.line());
            }
        }
        out
    }

    /// The comparison as pretty JSON (environment, rows with ratios, goals).
    ///
    /// # Errors
    /// Serialisation failed (not expected for these types).
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(&Document {
            title: &self.title,
            baseline: &self.baseline,
            environment: &self.environment,
            rows: self.rows(),
            goals: &self.goals,
        })
    }

    /// Writes `NAME.md` and `NAME.json` into `dir` (created when missing) and returns
    /// their paths.
    ///
    /// # Errors
    /// The directory or a file could not be written.
    pub fn write(&self, dir: &Path, name: &str) -> io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let md = dir.join(format!("{name}.md"));
        let json = dir.join(format!("{name}.json"));
        std::fs::write(&md, self.to_markdown())?;
        let text = self.to_json().map_err(io::Error::other)?;
        std::fs::write(&json, text)?;
        Ok((md, json))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn samples(latency_ms: u64, count: usize, window_ms: u64) -> Samples {
        let mut s = Samples::new();
        for _ in 0..count {
            s.record(Duration::from_millis(latency_ms));
        }
        s.add_window(Duration::from_millis(window_ms));
        s
    }

    fn env() -> Environment {
        Environment::of_this_machine("15.0", "local", true, "cargo bench")
    }

    #[test]
    fn ratios_are_against_the_baseline_at_the_same_concurrency() {
        let mut c = Comparison::new("t", "base", env());
        c.add(1, "base", samples(2, 100, 1000));
        c.add(1, "other", samples(3, 50, 1000));
        c.add(8, "base", samples(4, 400, 1000));
        c.add(8, "other", samples(4, 200, 500));
        c.add(64, "other", samples(4, 10, 1000));
        let other1 = c.row(1, "other").unwrap();
        assert_eq!(other1.tps_ratio, Some(0.5));
        assert_eq!(other1.p50_ratio, Some(1.5));
        let other8 = c.row(8, "other").unwrap();
        assert_eq!(other8.tps_ratio, Some(1.0));
        assert_eq!(other8.p99_ratio, Some(1.0));
        assert_eq!(c.row(64, "other").unwrap().tps_ratio, None);
        assert_eq!(c.row(1, "base").unwrap().tps_ratio, Some(1.0));
    }

    #[test]
    fn adding_twice_merges_windows() {
        let mut c = Comparison::new("t", "base", env());
        c.add(1, "base", samples(1, 10, 100));
        c.add(1, "base", samples(1, 30, 300));
        let row = c.row(1, "base").unwrap();
        assert_eq!(row.transactions, 40);
        assert!((row.tps - 100.0).abs() < 1e-9);
    }

    #[test]
    fn markdown_and_json_carry_rows_and_goals() {
        let mut c = Comparison::new("tenant switching", "base", env());
        c.add_note("pools of 16");
        c.add(1, "base", samples(2, 100, 1000));
        c.add(1, "pool", samples(2, 99, 1000));
        let tps = c.row(1, "pool").and_then(|r| r.tps_ratio);
        c.add_goal(Goal::at_least("pool tx/s ÷ base", tps, 0.95));
        c.add_goal(Goal::at_most("pool p50 ÷ base", Some(1.2), 1.05));
        c.add_goal(Goal::at_most("never measured", None, 1.0));
        assert!(c.goals()[0].met());
        assert!(!c.goals()[1].met());
        assert!(!c.goals()[2].met());
        let md = c.to_markdown();
        assert!(
            md.contains("| 1 | pool | 99 | 2.00 | 2.00 | 0.99 | 1.00 | 1.00 |"),
            "{md}"
        );
        assert!(
            md.contains("pool p50 ÷ base: 1.200 (goal ≤ 1.05): MISSED"),
            "{md}"
        );
        assert!(md.contains("never measured: not measured"), "{md}");
        assert!(md.contains("- pools of 16\n"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&c.to_json().unwrap()).unwrap();
        assert_eq!(json["rows"][1]["variant"], "pool");
        assert_eq!(json["goals"][0]["at_most"], false);
        assert_eq!(json["environment"]["backend"], "local");

        let dir = std::env::temp_dir().join(format!("pgsec-bench-test-{}", std::process::id()));
        let (md_path, json_path) = c.write(&dir, "x").unwrap();
        assert_eq!(std::fs::read_to_string(md_path).unwrap(), md);
        assert!(std::fs::read_to_string(json_path)
            .unwrap()
            .contains("\"tps\""));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let text =
            "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("flags: x"), None);
    }
}
