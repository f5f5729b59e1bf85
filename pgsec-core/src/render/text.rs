//! The text report: findings grouped by severity, evidence and fix under each, skipped
//! rules grouped by reason, a summary line.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufWriter, Write};

use super::RenderOptions;
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

/// `text` in `code`'s colour when `color` is set.
fn paint(
    out: &mut impl Write,
    color: bool,
    code: &str,
    text: fmt::Arguments<'_>,
) -> io::Result<()> {
    if color {
        write!(out, "{code}{text}{RESET}")
    } else {
        out.write_fmt(text)
    }
}

/// Writes the report as text into `out`, one finding at a time; ANSI colours only when
/// `color` is true. `out` is buffered here and flushed before returning.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_text(report: &Report, color: bool, out: impl io::Write) -> io::Result<()> {
    write_text_with(report, &RenderOptions::default().color(color), out)
}

/// A report of more findings than this ends with their counts per rule, capped or not.
const COUNTS_FROM: usize = 50;

pub(super) fn write_text_with(
    report: &Report,
    options: &RenderOptions,
    out: impl io::Write,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(super::BUFFER, out);
    write_body(report, options, &mut out)?;
    out.flush()
}

fn write_body(report: &Report, options: &RenderOptions, out: &mut impl Write) -> io::Result<()> {
    let color = options.color;
    let shown = options.shown(report);
    let hidden = report.findings().len() - shown;
    let summary = report.summary();
    paint(
        out,
        color,
        BOLD,
        format_args!("pgsec report: {}", report.target()),
    )?;
    writeln!(out)?;
    for sev in Severity::ALL_DESCENDING {
        let group = || {
            report.findings()[..shown]
                .iter()
                .filter(move |f| f.severity() == sev)
        };
        let count = summary.count(sev);
        let listed = group().count();
        if listed == 0 {
            continue;
        }
        writeln!(out)?;
        if listed == count {
            paint(
                out,
                color,
                colour(sev),
                format_args!("{} ({count})", sev.as_str().to_uppercase()),
            )?;
        } else {
            paint(
                out,
                color,
                colour(sev),
                format_args!("{} ({count}, {listed} shown)", sev.as_str().to_uppercase()),
            )?;
        }
        writeln!(out)?;
        for f in group() {
            out.write_all(b"  ")?;
            paint(out, color, colour(sev), format_args!("[{sev}]"))?;
            out.write_all(b" ")?;
            paint(out, color, BOLD, format_args!("{}", f.id()))?;
            writeln!(out, "  {}", f.title())?;
            writeln!(out, "    at:       {}", f.location())?;
            writeln!(out, "    evidence: {}", f.evidence())?;
            let mut lines = f.remediation().lines();
            if let Some(first) = lines.next() {
                writeln!(out, "    fix:      {first}")?;
                for l in lines {
                    writeln!(out, "              {l}")?;
                }
            }
            out.write_all(b"    ")?;
            paint(
                out,
                color,
                DIM,
                format_args!("fingerprint {}", f.fingerprint()),
            )?;
            writeln!(out)?;
        }
    }
    if hidden > 0 {
        writeln!(out)?;
        paint(
            out,
            color,
            BOLD,
            format_args!(
                "… {hidden} more findings not shown (--max-findings {shown}); they count in \
                 the summary and the exit code"
            ),
        )?;
        writeln!(out)?;
    }
    if hidden > 0 || report.findings().len() > COUNTS_FROM {
        writeln!(out)?;
        paint(out, color, BOLD, format_args!("FINDINGS BY RULE"))?;
        writeln!(out)?;
        for c in report.counts_by_rule() {
            writeln!(
                out,
                "  {:>8}  {:<8}  {}",
                c.count,
                c.severity.as_str(),
                c.id
            )?;
        }
    }
    if !report.skipped().is_empty() {
        let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in report.skipped() {
            by_reason.entry(&s.reason).or_default().push(&s.id);
        }
        writeln!(out)?;
        paint(
            out,
            color,
            BOLD,
            format_args!("SKIPPED ({})", report.skipped().len()),
        )?;
        writeln!(out)?;
        for (reason, ids) in by_reason {
            writeln!(out, "  {reason}:")?;
            writeln!(out, "    {}", ids.join(", "))?;
        }
    }
    if report.findings().is_empty() {
        writeln!(out, "\nNo findings.")?;
    }
    writeln!(out, "\n{summary}")
}

/// Renders the report as text; ANSI colours only when `color` is true.
pub fn text(report: &Report, color: bool) -> String {
    super::to_string(|out| write_text(report, color, out))
}
