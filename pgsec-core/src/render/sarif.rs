//! SARIF 2.1.0: every catalogue rule in `tool.driver.rules`, one result per finding with
//! a physical location (`artifactLocation.uri` + `region.startLine`) for file findings
//! and a logical location for server objects; skipped rules as tool notifications;
//! fingerprints in `partialFingerprints`.

use std::io;

use serde_json::Value;

use super::writer::JsonWriter;
use super::RenderOptions;
use crate::{catalogue, Finding, Location, Report, Rule, Severity, Skipped};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` (CVSS-like score).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The URI of `path` as a string (see [`push_path_uri`]).
#[cfg(test)]
pub(crate) fn path_uri(path: &str) -> String {
    let mut out = Vec::new();
    push_path_uri(&mut out, path);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends a relative or absolute path as a URI reference (RFC 3986), percent-encoding
/// what needs it: the result holds only unreserved characters, `/`, `:` and `%XX`, none
/// of which needs escaping in a JSON string.
fn push_path_uri(out: &mut Vec<u8>, path: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if path.starts_with('/') {
        out.extend_from_slice(b"file://");
    }
    let bytes = path.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/') {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

// Keys are written in sorted order throughout: what earlier versions wrote from a
// `serde_json::Value` (which sorts them).

fn write_rule<W: io::Write>(w: &mut JsonWriter<W>, r: &Rule) {
    w.begin_object();
    w.key("defaultConfiguration");
    w.begin_object();
    w.field("level", level(r.severity));
    w.end_object();
    w.key("fullDescription");
    text_object(w, &[r.rationale]);
    w.key("help");
    w.begin_object();
    w.key("markdown");
    w.string_of(&[
        r.rationale,
        "\n\n**Remediation**\n\n```\n",
        r.remediation,
        "\n```",
    ]);
    w.key("text");
    w.string_of(&[r.rationale, "\n\nRemediation:\n", r.remediation]);
    w.end_object();
    w.field("id", r.id);
    w.field("name", r.id);
    w.key("properties");
    w.begin_object();
    w.field("security-severity", security_severity(r.severity));
    w.field("severity", r.severity.as_str());
    w.key("sources");
    w.begin_array();
    for source in r.sources {
        w.element();
        w.string(&source.to_string());
    }
    w.end_array();
    w.key("tags");
    w.begin_array();
    w.element();
    w.string("security");
    w.element();
    w.string(r.category());
    w.end_array();
    w.end_object();
    w.key("shortDescription");
    text_object(w, &[r.title]);
    w.end_object();
}

/// `{"text": parts joined}`.
fn text_object<W: io::Write>(w: &mut JsonWriter<W>, parts: &[&str]) {
    w.begin_object();
    w.key("text");
    w.string_of(parts);
    w.end_object();
}

fn write_notification<W: io::Write>(w: &mut JsonWriter<W>, s: &Skipped) {
    w.begin_object();
    if let Some(index) = rule_index(&s.id) {
        w.key("associatedRule");
        w.begin_object();
        w.field("id", &s.id);
        w.key("index");
        w.number(index);
        w.end_object();
    }
    w.field("level", "note");
    w.key("message");
    text_object(w, &["rule ", &s.id, " skipped: ", &s.reason]);
    w.end_object();
}

fn write_location<W: io::Write>(w: &mut JsonWriter<W>, location: &Location) {
    w.begin_object();
    match location {
        Location::File { path, line } => {
            w.key("physicalLocation");
            w.begin_object();
            w.key("artifactLocation");
            w.begin_object();
            w.key("uri");
            w.plain_string(|out| push_path_uri(out, path));
            if !path.starts_with('/') {
                // Relative paths are relative to where pgsec ran (code scanning's
                // conventional source-root base).
                w.field("uriBaseId", "%SRCROOT%");
            }
            w.end_object();
            if let Some(line) = line.filter(|l| *l >= 1) {
                w.key("region");
                w.begin_object();
                w.key("startLine");
                w.number(line);
                w.end_object();
            }
            w.end_object();
        }
        Location::Object { object_type, name } => {
            w.key("logicalLocations");
            w.begin_array();
            w.element();
            w.begin_object();
            w.key("fullyQualifiedName");
            w.string_of(&[object_type, " ", name]);
            w.field("kind", object_type);
            w.field("name", name);
            w.end_object();
            w.end_array();
        }
    }
    w.end_object();
}

fn write_result<W: io::Write>(w: &mut JsonWriter<W>, f: &Finding, rule_index: Option<usize>) {
    w.begin_object();
    w.field("level", level(f.severity()));
    w.key("locations");
    w.begin_array();
    w.element();
    write_location(w, f.location());
    w.end_array();
    w.key("message");
    text_object(w, &[f.title(), ": ", f.evidence()]);
    w.key("partialFingerprints");
    w.begin_object();
    w.field("pgsecFingerprint/v1", f.fingerprint());
    w.end_object();
    w.key("properties");
    w.begin_object();
    w.field("remediation", f.remediation());
    w.field("severity", f.severity().as_str());
    w.end_object();
    w.field("ruleId", f.id());
    if let Some(index) = rule_index {
        w.key("ruleIndex");
        w.number(index);
    }
    w.end_object();
}

/// The index of rule `id` in the catalogue (the first, should an id repeat).
fn rule_index(id: &str) -> Option<usize> {
    catalogue().iter().position(|r| r.id == id)
}

/// Writes the report as a pretty-printed SARIF 2.1.0 log and a final newline into
/// `out`, one result at a time (no JSON tree of the whole log is built). `out` is
/// buffered here and flushed before returning.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_sarif(report: &Report, out: impl io::Write) -> io::Result<()> {
    write_sarif_with(report, &RenderOptions::default(), out)
}

/// [`write_sarif`] with a cap on the results listed: with `max_findings`, the run's
/// `properties` also hold `countsByRule` and `findingsNotShown`, and a `note`
/// notification says how many results were left out.
pub(super) fn write_sarif_with(
    report: &Report,
    options: &RenderOptions,
    out: impl io::Write,
) -> io::Result<()> {
    let shown = options.shown(report);
    let hidden = report.findings().len() - shown;
    let mut w = JsonWriter::new(out);
    w.begin_object();
    w.field("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    w.key("runs");
    w.begin_array();
    w.element();
    w.begin_object();
    w.key("invocations");
    w.begin_array();
    w.element();
    w.begin_object();
    w.key("executionSuccessful");
    w.bool(true);
    w.key("toolExecutionNotifications");
    w.begin_array();
    for s in report.skipped() {
        w.element();
        write_notification(&mut w, s);
    }
    if hidden > 0 {
        w.element();
        w.begin_object();
        w.field("level", "note");
        w.key("message");
        let (hidden, shown) = (hidden.to_string(), shown.to_string());
        text_object(
            &mut w,
            &[
                &hidden,
                " more results not shown (--max-findings ",
                &shown,
                "); run.properties.countsByRule counts every result",
            ],
        );
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.end_array();
    w.key("properties");
    w.begin_object();
    if options.max_findings.is_some() {
        w.key("countsByRule");
        super::json::write_counts(&mut w, report);
        w.key("findingsNotShown");
        w.number(hidden);
    }
    w.field("target", report.target());
    w.end_object();
    w.key("results");
    w.begin_array();
    // Findings come sorted by severity, then id: look a rule up once per run of ids.
    let mut last: Option<(&str, Option<usize>)> = None;
    for f in &report.findings()[..shown] {
        let index = match last {
            Some((id, index)) if id == f.id() => index,
            _ => {
                let index = rule_index(f.id());
                last = Some((f.id(), index));
                index
            }
        };
        w.element();
        write_result(&mut w, f, index);
        w.spill()?;
    }
    w.end_array();
    w.key("tool");
    w.begin_object();
    w.key("driver");
    w.begin_object();
    w.field("informationUri", "https://example.invalid/pgsec");
    w.field("name", "pgsec");
    w.key("rules");
    w.begin_array();
    for r in catalogue() {
        w.element();
        write_rule(&mut w, r);
    }
    w.end_array();
    w.field("semanticVersion", env!("CARGO_PKG_VERSION"));
    w.field("version", env!("CARGO_PKG_VERSION"));
    w.end_object();
    w.end_object();
    w.end_object();
    w.end_array();
    w.field("version", "2.1.0");
    w.end_object();
    w.finish()
}

/// The report as a SARIF 2.1.0 log: the written log, parsed.
///
/// This holds the whole log in memory (for checks such as schema validation); to
/// print or save a report, use [`write_sarif`].
pub fn sarif_value(report: &Report) -> Value {
    super::parsed(|out| write_sarif(report, out))
}

/// The report as pretty-printed SARIF 2.1.0 JSON.
pub fn sarif(report: &Report) -> String {
    super::to_string(|out| write_sarif(report, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(path_uri("pg_hba.conf"), "pg_hba.conf");
        assert_eq!(
            path_uri("/etc/postgresql/15/main/pg_hba.conf"),
            "file:///etc/postgresql/15/main/pg_hba.conf"
        );
        assert_eq!(path_uri("my dir/a#b.conf"), "my%20dir/a%23b.conf");
    }
}
