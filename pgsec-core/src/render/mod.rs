//! Report renderers: text, JSON and SARIF 2.1.0. Rendering never decides anything.
//!
//! The `write_*` functions and [`render_to`] stream a report into any [`io::Write`]
//! (standard output, a file) one finding at a time: the JSON and SARIF documents are
//! serialized from the report as they are written, never built whole first, so a large
//! report costs about the same memory and time in every format. The functions that
//! return a `String` or a `serde_json::Value` are for small reports and tests.
//!
//! ```
//! use pgsec_core::render::{render_to, Format};
//! use pgsec_core::{evaluate, Policy, Snapshot};
//!
//! let report = evaluate(&Snapshot::new("example", 0), &Policy::default());
//! let mut out = Vec::new();
//! render_to(&report, Format::Sarif, false, &mut out)?;
//! let log: serde_json::Value = serde_json::from_slice(&out)?;
//! assert_eq!(log["version"], "2.1.0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod html;
mod json;
mod sarif;
mod text;
mod writer;

use std::fmt;
use std::io;
use std::str::FromStr;

use crate::{Error, Report};

pub use html::{escape_html, html, write_html};
pub use json::{json, json_value, write_json};
pub use sarif::{sarif, sarif_value, write_sarif};
pub use text::{text, write_text};

/// How a report is written, beyond its [`Format`].
///
/// `max_findings` caps the findings written one by one (the most severe come first);
/// the rest are counted: the text ends its list with `… N more findings not shown`
/// and a count per rule, JSON adds `"counts_by_rule"` and `"findings_not_shown"`, SARIF
/// a `note` notification and the same counts in the run's `properties`. The summary
/// still counts every finding, and so does [`Report::fails`].
///
/// ```
/// use pgsec_core::render::{render_to_with, Format, RenderOptions};
/// use pgsec_core::{evaluate, Policy, Snapshot};
///
/// let report = evaluate(&Snapshot::new("example", 0), &Policy::default());
/// let mut out = Vec::new();
/// render_to_with(&report, Format::Json, &RenderOptions::default().max_findings(Some(10)), &mut out)?;
/// let doc: serde_json::Value = serde_json::from_slice(&out)?;
/// assert!(doc["findings_not_shown"].is_number());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct RenderOptions {
    /// ANSI colours (text only; decide with `std::io::IsTerminal`).
    pub color: bool,
    /// Write at most this many findings one by one (`None`: all).
    pub max_findings: Option<usize>,
}

impl RenderOptions {
    /// Sets whether text is coloured.
    pub fn color(mut self, yes: bool) -> Self {
        self.color = yes;
        self
    }

    /// Sets the cap on findings written one by one.
    pub fn max_findings(mut self, max: Option<usize>) -> Self {
        self.max_findings = max;
        self
    }

    /// How many of `report`'s findings are written one by one.
    fn shown(&self, report: &Report) -> usize {
        let all = report.findings().len();
        self.max_findings.map_or(all, |m| m.min(all))
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Human-readable text, grouped by severity.
    #[default]
    Text,
    /// The documented JSON format (see [`json()`]).
    Json,
    /// SARIF 2.1.0 (see [`sarif()`]).
    Sarif,
    /// One self-contained HTML page: charts by severity and category, a sortable table
    /// of the findings (see [`html()`]).
    Html,
}

impl FromStr for Format {
    type Err = Error;

    /// `text`, `json` or `sarif`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "html" => Ok(Format::Html),
            _ => Err(Error::UnknownName {
                kind: "format",
                value: s.to_owned(),
                expected: "text, json, sarif, html",
            }),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Html => "html",
        })
    }
}

/// Renders `report` in `format`; `color` applies to text only (decide it with
/// `std::io::IsTerminal`).
///
/// The whole output is held in memory; to print or save a report, use [`render_to`].
pub fn render(report: &Report, format: Format, color: bool) -> String {
    to_string(|out| render_to(report, format, color, out))
}

/// Writes `report` in `format` into `out` as it is rendered, one finding at a time;
/// `color` applies to text only. `out` is buffered here and flushed before returning,
/// so a bare `File` or `Stdout` is fine.
///
/// # Errors
/// Writing to `out` failed.
pub fn render_to(
    report: &Report,
    format: Format,
    color: bool,
    out: impl io::Write,
) -> io::Result<()> {
    render_to_with(report, format, &RenderOptions::default().color(color), out)
}

/// [`render_to`] with [`RenderOptions`] (a cap on the findings written one by one).
///
/// # Errors
/// Writing to `out` failed.
pub fn render_to_with(
    report: &Report,
    format: Format,
    options: &RenderOptions,
    out: impl io::Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write_text_with(report, options, out),
        Format::Json => json::write_json_with(report, options, out),
        Format::Sarif => sarif::write_sarif_with(report, options, out),
        Format::Html => html::write_html_with(report, options, out),
    }
}

/// The renderers' write buffer: large enough that a report goes out in few system calls.
const BUFFER: usize = 64 * 1024;

/// What `write` writes into memory, parsed as JSON (`Null` should it not parse, which
/// the renderers' tests rule out).
fn parsed(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> serde_json::Value {
    let mut buf = Vec::new();
    // Writing into a Vec does not fail.
    let _ = write(&mut buf);
    serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null)
}

/// What `write` writes into memory, as a string.
fn to_string(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut buf = Vec::new();
    // Writing into a Vec does not fail; the renderers write only UTF-8 (Rust strings,
    // ASCII escapes). Neither fallback is taken.
    let _ = write(&mut buf);
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Finding, Location, Severity, Skipped};

    fn report() -> Report {
        let finding = |id: &str, severity, location| {
            Finding::new(
                id,
                severity,
                "A \"title\"",
                "obj\u{0}",
                location,
                "evidence\twith\u{1b}[31m control \u{202e} and \u{10ffff}",
                "line one\nline two",
            )
        };
        Report::new(
            "p\u{7f}.conf, /abs dir/x#y.conf",
            vec![
                finding(
                    "hba.trust_network",
                    Severity::Critical,
                    Location::file_line("pg_hba.conf", 3),
                ),
                finding(
                    "not.a_rule",
                    Severity::Info,
                    Location::file("/abs dir/x#y.conf"),
                ),
                finding(
                    "role.bypassrls",
                    Severity::High,
                    Location::object("role", "app\u{1}"),
                ),
                finding(
                    "hba.md5",
                    Severity::Low,
                    Location::file_line("pg_hba.conf", 0),
                ),
            ],
            vec![
                Skipped {
                    id: "rls.disabled".into(),
                    reason: "needs a live connection".into(),
                },
                Skipped {
                    id: "no.such_rule".into(),
                    reason: "r".into(),
                },
            ],
            vec![finding(
                "tls.ssl_off",
                Severity::Medium,
                Location::object("setting", "ssl"),
            )],
        )
    }

    #[test]
    fn streamed_documents_are_the_sorted_value_trees_byte_for_byte() {
        // `serde_json::Value` sorts object keys: the streamed documents must keep that
        // order (what pgsec wrote when it built the tree first).
        let r = report();
        let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap() + "\n";
        assert_eq!(json(&r), pretty(&json_value(&r)));
        assert_eq!(sarif(&r), pretty(&sarif_value(&r)));
        let empty = Report::new("", vec![], vec![], vec![]);
        assert_eq!(json(&empty), pretty(&json_value(&empty)));
        assert_eq!(sarif(&empty), pretty(&sarif_value(&empty)));
        assert!(json(&empty).contains("\"findings\": [],"));
    }

    #[test]
    fn render_and_render_to_agree() {
        let r = report();
        for format in [Format::Text, Format::Json, Format::Sarif] {
            for color in [false, true] {
                let mut out = Vec::new();
                render_to(&r, format, color, &mut out).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), render(&r, format, color));
            }
        }
    }

    /// Accepts `left` bytes, then fails.
    struct FailAfter {
        left: usize,
    }

    impl io::Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_errors_are_returned_not_panics() {
        let r = report();
        for format in [Format::Text, Format::Json, Format::Sarif] {
            for left in [0, 1, 100, BUFFER + 7] {
                let err = render_to(&r, format, false, FailAfter { left });
                if left < render(&r, format, false).len() {
                    assert_eq!(err.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
                }
            }
        }
    }
}
