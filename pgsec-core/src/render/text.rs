//! The text report: findings grouped by severity, evidence and fix under each, skipped
//! rules grouped by reason, a summary line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{Report, Severity};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

/// Renders the report as text; ANSI colours only when `color` is true.
pub fn text(report: &Report, color: bool) -> String {
    let paint = |code: &'static str, s: &str| -> String {
        if color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(BOLD, &format!("pgsec report: {}", report.target()))
    );
    for sev in Severity::ALL_DESCENDING {
        let group: Vec<_> = report
            .findings()
            .iter()
            .filter(|f| f.severity() == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}",
            paint(
                colour(sev),
                &format!("{} ({})", sev.as_str().to_uppercase(), group.len())
            )
        );
        for f in group {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                paint(colour(sev), &format!("[{sev}]")),
                paint(BOLD, f.id()),
                f.title()
            );
            let _ = writeln!(out, "    at:       {}", f.location());
            let _ = writeln!(out, "    evidence: {}", f.evidence());
            let mut lines = f.remediation().lines();
            if let Some(first) = lines.next() {
                let _ = writeln!(out, "    fix:      {first}");
                for l in lines {
                    let _ = writeln!(out, "              {l}");
                }
            }
            let _ = writeln!(
                out,
                "    {}",
                paint(DIM, &format!("fingerprint {}", f.fingerprint()))
            );
        }
    }
    if !report.skipped().is_empty() {
        let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in report.skipped() {
            by_reason.entry(&s.reason).or_default().push(&s.id);
        }
        let _ = writeln!(
            out,
            "\n{}",
            paint(BOLD, &format!("SKIPPED ({})", report.skipped().len()))
        );
        for (reason, ids) in by_reason {
            let _ = writeln!(out, "  {reason}:");
            let _ = writeln!(out, "    {}", ids.join(", "));
        }
    }
    if report.findings().is_empty() {
        let _ = writeln!(out, "\nNo findings.");
    }
    let _ = writeln!(out, "\n{}", report.summary());
    out
}
