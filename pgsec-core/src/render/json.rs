//! The JSON report.
//!
//! Stable format (fields are only ever added; keys are written in this order, sorted):
//!
//! ```json
//! {
//!   "findings": [
//!     {
//!       "evidence": "pg_hba.conf:3: host all all 0.0.0.0/0 trust (...)",
//!       "fingerprint": "3f1c0a9b5e7d2c41",
//!       "id": "hba.trust_network",
//!       "location": {"kind": "file", "line": 3, "path": "pg_hba.conf"},
//!       "remediation": "hostssl all all 0.0.0.0/0 scram-sha-256",
//!       "severity": "critical",
//!       "title": "Network connections are trusted without a password"
//!     }
//!   ],
//!   "pgsec_version": "0.1.0",
//!   "skipped": [{"id": "rls.disabled", "reason": "needs a live connection"}],
//!   "summary": {"critical": 1, "high": 0, "info": 0, "low": 0, "medium": 0,
//!               "skipped": 1, "suppressed": 0, "total": 1},
//!   "suppressed": [ /* findings, same shape */ ],
//!   "target": "postgresql.conf, pg_hba.conf"
//! }
//! ```
//!
//! With `--max-findings N` ([`RenderOptions::max_findings`](super::RenderOptions)),
//! `"findings"` lists the first N and two keys are added: `"counts_by_rule"` (`[{"count",
//! "id", "severity"}]`, every finding) and `"findings_not_shown"` (a number).
//!
//! `location` is `{"kind": "file", "line"?, "path"}` or
//! `{"kind": "object", "name", "object_type"}`. Findings are ordered most severe first.
//!
//! The document is written from the report straight into the output, one finding at a
//! time: no JSON tree of the whole report is built (a report of hundreds of thousands
//! of findings costs no more memory as JSON than as text).

use std::io;

use serde_json::Value;

use super::writer::JsonWriter;
use super::RenderOptions;
use crate::{Finding, Location, Report};

fn write_findings<W: io::Write>(w: &mut JsonWriter<W>, findings: &[Finding]) -> io::Result<()> {
    w.begin_array();
    for f in findings {
        w.element();
        write_finding(w, f);
        w.spill()?;
    }
    w.end_array();
    Ok(())
}

/// One finding; keys in sorted order, as everywhere in this document.
fn write_finding<W: io::Write>(w: &mut JsonWriter<W>, f: &Finding) {
    w.begin_object();
    w.field("evidence", f.evidence());
    w.field("fingerprint", f.fingerprint());
    w.field("id", f.id());
    w.key("location");
    w.begin_object();
    match f.location() {
        Location::File { path, line } => {
            w.field("kind", "file");
            if let Some(line) = line {
                w.key("line");
                w.number(*line);
            }
            w.field("path", path);
        }
        Location::Object { object_type, name } => {
            w.field("kind", "object");
            w.field("name", name);
            w.field("object_type", object_type);
        }
    }
    w.end_object();
    w.field("remediation", f.remediation());
    w.field("severity", f.severity().as_str());
    w.field("title", f.title());
    w.end_object();
}

/// Writes the report as pretty-printed JSON and a final newline into `out`, one finding
/// at a time (see the module documentation for the format). `out` is buffered here and
/// flushed before returning.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_json(report: &Report, out: impl io::Write) -> io::Result<()> {
    write_json_with(report, &RenderOptions::default(), out)
}

/// The counts of [`Report::counts_by_rule`] as an array of `{count, id, severity}`.
pub(super) fn write_counts<W: io::Write>(w: &mut JsonWriter<W>, report: &Report) {
    w.begin_array();
    for c in report.counts_by_rule() {
        w.element();
        w.begin_object();
        w.key("count");
        w.number(c.count);
        w.field("id", c.id);
        w.field("severity", c.severity.as_str());
        w.end_object();
    }
    w.end_array();
}

/// [`write_json`] with a cap on the findings listed: with `max_findings`, the document
/// also has `"counts_by_rule"` (every finding, by severity and rule) and
/// `"findings_not_shown"` (how many are not in `"findings"`).
pub(super) fn write_json_with(
    report: &Report,
    options: &RenderOptions,
    out: impl io::Write,
) -> io::Result<()> {
    let mut w = JsonWriter::new(out);
    let shown = options.shown(report);
    // Keys in sorted order: what earlier versions wrote from a `serde_json::Value`.
    w.begin_object();
    if options.max_findings.is_some() {
        w.key("counts_by_rule");
        write_counts(&mut w, report);
    }
    w.key("findings");
    write_findings(&mut w, &report.findings()[..shown])?;
    if options.max_findings.is_some() {
        w.key("findings_not_shown");
        w.number(report.findings().len() - shown);
    }
    w.field("pgsec_version", env!("CARGO_PKG_VERSION"));
    w.key("skipped");
    w.begin_array();
    for s in report.skipped() {
        w.element();
        w.begin_object();
        w.field("id", &s.id);
        w.field("reason", &s.reason);
        w.end_object();
    }
    w.end_array();
    let s = report.summary();
    w.key("summary");
    w.begin_object();
    for (key, n) in [
        ("critical", s.critical),
        ("high", s.high),
        ("info", s.info),
        ("low", s.low),
        ("medium", s.medium),
        ("skipped", s.skipped),
        ("suppressed", s.suppressed),
        ("total", s.total()),
    ] {
        w.key(key);
        w.number(n);
    }
    w.end_object();
    w.key("suppressed");
    write_findings(&mut w, report.suppressed())?;
    w.field("target", report.target());
    w.end_object();
    w.finish()
}

/// The report as a JSON value (see the module documentation for the format): the
/// written document, parsed.
///
/// This holds the whole document in memory; to print or save a report, use
/// [`write_json`].
pub fn json_value(report: &Report) -> Value {
    super::parsed(|out| write_json(report, out))
}

/// The report as pretty-printed JSON (see the module documentation for the format).
pub fn json(report: &Report) -> String {
    super::to_string(|out| write_json(report, out))
}
