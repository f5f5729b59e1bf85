//! Property tests of the renderers: whatever a report holds (control characters,
//! bidirectional overrides, noncharacters, quotes and backslashes, very long texts,
//! any line number) and whatever the parsers made of arbitrary input, every format
//! renders without panicking, streamed and in-memory output agree, the JSON and SARIF
//! parse back as the documents they describe, are byte for byte what pgsec wrote
//! before it streamed them (the `reference` module), and the SARIF stays valid.
//!
//! The case count follows `PROPTEST_CASES` (CI runs a bounded pass).

use std::path::Path;
use std::sync::OnceLock;

use pgsec_core::conf::ConfFile;
use pgsec_core::hba::{format_view_table, HbaFile, PgVersion};
use pgsec_core::render::{json, json_value, render, render_to, sarif, sarif_value, text, Format};
use pgsec_core::{
    catalogue, evaluate, Finding, Location, MemoryLoader, Policy, Report, Severity, Skipped,
    Snapshot,
};
use proptest::prelude::*;
use serde_json::Value;

const FORMATS: [Format; 3] = [Format::Text, Format::Json, Format::Sarif];

/// Characters that trip up escaping and terminals, and plain ones.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => prop::char::range('\u{0}', '\u{1f}'),
        2 => prop::sample::select(vec![
            '\u{7f}', '\u{80}', '\u{9f}', '\u{85}', '\u{a0}', '\u{ad}', '\u{200b}', '\u{200d}',
            '\u{2028}', '\u{2029}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}', '\u{fffe}',
            '\u{ffff}', '\u{d7ff}', '\u{e000}', '\u{1f4a9}', '\u{10ffff}', '"', '\\', '/', '%',
            '#', '`', '*', '<', '>', '&', '\'',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

/// A string of nasty characters, or the lossy decoding of arbitrary bytes.
fn nasty_string(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(nasty_char(), 0..max).prop_map(|c| c.into_iter().collect()),
        prop::collection::vec(any::<u8>(), 0..max)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(Severity::ALL_DESCENDING.to_vec())
}

/// A catalogue rule id (SARIF links it to its rule) or any string.
fn rule_id() -> impl Strategy<Value = String> {
    let ids: Vec<String> = catalogue().iter().map(|r| r.id.to_owned()).collect();
    prop_oneof![prop::sample::select(ids), nasty_string(24)]
}

fn location() -> impl Strategy<Value = Location> {
    prop_oneof![
        (nasty_string(40), any::<usize>()).prop_map(|(p, l)| Location::file_line(p, l)),
        (nasty_string(40), 0usize..4).prop_map(|(p, l)| Location::file_line(p, l)),
        prop_oneof![Just("/".to_owned()), nasty_string(40)].prop_map(Location::file),
        (nasty_string(16), nasty_string(40)).prop_map(|(t, n)| Location::object(t, n)),
    ]
}

fn finding() -> impl Strategy<Value = Finding> {
    (
        rule_id(),
        severity(),
        nasty_string(40),
        nasty_string(40),
        location(),
        nasty_string(200),
        nasty_string(200),
    )
        .prop_map(|(id, sev, title, object, loc, evidence, fix)| {
            Finding::new(id, sev, title, object, loc, evidence, fix)
        })
}

fn skipped() -> impl Strategy<Value = Skipped> {
    (rule_id(), nasty_string(60)).prop_map(|(id, reason)| Skipped { id, reason })
}

fn report() -> impl Strategy<Value = Report> {
    (
        nasty_string(60),
        prop::collection::vec(finding(), 0..12),
        prop::collection::vec(skipped(), 0..4),
        prop::collection::vec(finding(), 0..3),
    )
        .prop_map(|(target, findings, skipped, suppressed)| {
            Report::new(target, findings, skipped, suppressed)
        })
}

fn sarif_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sarif-schema-2.1.0.json"
        ))
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    })
}

/// Every check of one report: no panic in any format, streamed output equals the
/// strings, JSON and SARIF parse back as their values, SARIF is valid.
fn check_report(r: &Report) -> Result<(), TestCaseError> {
    for format in FORMATS {
        for color in [false, true] {
            let mut streamed = Vec::new();
            render_to(r, format, color, &mut streamed).unwrap();
            prop_assert_eq!(
                String::from_utf8(streamed).unwrap(),
                render(r, format, color)
            );
        }
    }
    let plain = text(r, false);
    let summary = r.summary().to_string();
    prop_assert!(plain.ends_with(&format!("\n{summary}\n")), "{}", plain);

    let json_text = json(r);
    let back: Value = serde_json::from_str(&json_text)
        .map_err(|e| TestCaseError::fail(format!("JSON does not parse back: {e}\n{json_text}")))?;
    prop_assert_eq!(&back, &json_value(r));
    prop_assert_eq!(
        back["findings"].as_array().map(Vec::len),
        Some(r.findings().len())
    );
    for (doc, f) in back["findings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r.findings())
    {
        prop_assert_eq!(doc["evidence"].as_str(), Some(f.evidence()));
        prop_assert_eq!(doc["remediation"].as_str(), Some(f.remediation()));
    }

    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap() + "\n";
    prop_assert_eq!(&json_text, &pretty(&reference::json_value(r)));

    let sarif_text = sarif(r);
    prop_assert_eq!(&sarif_text, &pretty(&reference::sarif_value(r)));
    let log: Value = serde_json::from_str(&sarif_text).map_err(|e| {
        TestCaseError::fail(format!("SARIF does not parse back: {e}\n{sarif_text}"))
    })?;
    prop_assert_eq!(&log, &sarif_value(r));
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    prop_assert!(errors.is_empty(), "{:?}", errors);
    Ok(())
}

fn include_loader(text: &str) -> MemoryLoader {
    MemoryLoader::new()
        .with_file("/d/users", "alice, @users\nbob\n")
        .with_file("/d/inc.conf", text)
}

proptest! {
    #[test]
    fn any_report_renders_in_every_format(r in report()) {
        check_report(&r)?;
    }

    /// Arbitrary bytes as pg_hba.conf and postgresql.conf: what the parsers make of
    /// them goes through the evaluator and every format; `hba parse`'s JSON rows parse
    /// back and its table ends with the row count.
    #[test]
    fn any_parsed_input_renders_in_every_format(
        hba in nasty_string(400),
        conf in nasty_string(400),
        major in 13u32..=17,
    ) {
        let version = PgVersion::new(major).unwrap();
        let loader = include_loader(&hba);
        let file = HbaFile::parse(&hba, Path::new("/d/pg_hba.conf"), version, &loader);
        let rows = file.to_view_rows(version);
        let rows_json = serde_json::to_string_pretty(&rows).unwrap();
        let back: Value = serde_json::from_str(&rows_json).unwrap();
        prop_assert_eq!(back.as_array().map(Vec::len), Some(rows.len()));
        let table = format_view_table(&rows, version);
        prop_assert!(table.ends_with("row)\n") || table.ends_with("rows)\n"), "{}", table);

        let conf_file = ConfFile::parse(&conf, Path::new("/d/postgresql.conf"), &include_loader(&conf));
        let snapshot = Snapshot::new(hba.clone(), 0)
            .with_pg_version(version)
            .with_hba(file)
            .with_conf(conf_file);
        check_report(&evaluate(&snapshot, &Policy::default()))?;
    }
}

/// One very long text of control characters in every field, and a long report: the
/// renderers stay linear and their output still parses.
#[test]
fn huge_fields_and_many_findings() {
    let huge: String = (0..1_000_000u32)
        .map(|i| char::from_u32(i % 0x20).unwrap_or('?'))
        .collect();
    let one = Finding::new(
        huge.as_str(),
        Severity::Critical,
        huge.as_str(),
        huge.as_str(),
        Location::file_line(huge.as_str(), usize::MAX),
        huge.as_str(),
        huge.as_str(),
    );
    let many: Vec<Finding> = (0..20_000)
        .map(|i| {
            Finding::new(
                "hba.md5",
                Severity::High,
                "t",
                format!("o{i}"),
                Location::file_line("pg_hba.conf", i),
                "e\u{1b}",
                "r",
            )
        })
        .collect();
    for findings in [vec![one], many] {
        let r = Report::new(huge.as_str(), findings, vec![], vec![]);
        for format in FORMATS {
            let mut out = Vec::new();
            render_to(&r, format, true, &mut out).unwrap();
            let reference = match format {
                Format::Json => reference::json_value(&r),
                Format::Sarif => reference::sarif_value(&r),
                _ => continue,
            };
            let back: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, reference);
            assert!(out == (serde_json::to_string_pretty(&reference).unwrap() + "\n").as_bytes());
        }
    }
}

/// The renderers as they were before they streamed (pgsec 0.1.0: a `serde_json::Value`
/// tree of the whole document, pretty-printed), kept as the reference the streamed
/// output must equal byte for byte.
mod reference {
    use serde_json::{json as j, Value};

    use pgsec_core::{catalogue, Finding, Location, Report, Severity};

    fn finding(f: &Finding) -> Value {
        j!({
            "id": f.id(),
            "severity": f.severity().as_str(),
            "title": f.title(),
            "evidence": f.evidence(),
            "location": serde_json::to_value(f.location()).unwrap_or(Value::Null),
            "remediation": f.remediation(),
            "fingerprint": f.fingerprint(),
        })
    }

    /// The report as a JSON value (see the module documentation for the format).
    pub(crate) fn json_value(report: &Report) -> Value {
        let s = report.summary();
        j!({
            "pgsec_version": env!("CARGO_PKG_VERSION"),
            "target": report.target(),
            "findings": report.findings().iter().map(finding).collect::<Vec<_>>(),
            "skipped": report.skipped().iter().map(|s| j!({"id": s.id, "reason": s.reason})).collect::<Vec<_>>(),
            "suppressed": report.suppressed().iter().map(finding).collect::<Vec<_>>(),
            "summary": {
                "critical": s.critical,
                "high": s.high,
                "medium": s.medium,
                "low": s.low,
                "info": s.info,
                "total": s.total(),
                "skipped": s.skipped,
                "suppressed": s.suppressed,
            },
        })
    }

    fn level(s: Severity) -> &'static str {
        match s {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            // Low, Info (and any severity added later).
            _ => "note",
        }
    }

    /// GitHub code scanning's `security-severity` (CVSS-like score).
    fn security_severity(s: Severity) -> &'static str {
        match s {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            _ => "0.0",
        }
    }

    /// A relative or absolute path as a URI reference (RFC 3986), percent-encoding what
    /// needs it.
    fn path_uri(path: &str) -> String {
        let mut out = String::new();
        let absolute = path.starts_with('/');
        if absolute {
            out.push_str("file://");
        }
        for b in path.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                    out.push(b as char)
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    fn location(l: &Location) -> Value {
        match l {
            Location::File { path, line } => {
                let mut artifact = j!({ "uri": path_uri(path) });
                if !path.starts_with('/') {
                    // Relative paths are relative to where pgsec ran (code scanning's
                    // conventional source-root base).
                    artifact["uriBaseId"] = j!("%SRCROOT%");
                }
                let mut phys = j!({ "artifactLocation": artifact });
                if let Some(line) = line.filter(|l| *l >= 1) {
                    phys["region"] = j!({ "startLine": line });
                }
                j!({ "physicalLocation": phys })
            }
            Location::Object { object_type, name } => j!({
                "logicalLocations": [{ "name": name, "fullyQualifiedName": format!("{object_type} {name}"), "kind": object_type }]
            }),
            _ => Value::Null,
        }
    }

    fn result(f: &Finding) -> Value {
        let index = catalogue().iter().position(|r| r.id == f.id());
        let mut r = j!({
            "ruleId": f.id(),
            "level": level(f.severity()),
            "message": { "text": format!("{}: {}", f.title(), f.evidence()) },
            "locations": [location(f.location())],
            "partialFingerprints": { "pgsecFingerprint/v1": f.fingerprint() },
            "properties": { "severity": f.severity().as_str(), "remediation": f.remediation() },
        });
        if let Some(i) = index {
            r["ruleIndex"] = j!(i);
        }
        r
    }

    /// The report as a SARIF 2.1.0 log.
    pub(crate) fn sarif_value(report: &Report) -> Value {
        let rules: Vec<Value> = catalogue()
            .iter()
            .map(|r| {
                j!({
                    "id": r.id,
                    "name": r.id,
                    "shortDescription": { "text": r.title },
                    "fullDescription": { "text": r.rationale },
                    "help": {
                        "text": format!("{}\n\nRemediation:\n{}", r.rationale, r.remediation),
                        "markdown": format!("{}\n\n**Remediation**\n\n```\n{}\n```", r.rationale, r.remediation),
                    },
                    "defaultConfiguration": { "level": level(r.severity) },
                    "properties": {
                        "tags": ["security", r.category()],
                        "security-severity": security_severity(r.severity),
                        "severity": r.severity.as_str(),
                        "sources": r.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    },
                })
            })
            .collect();
        let notifications: Vec<Value> = report
            .skipped()
            .iter()
            .map(|s| {
                let mut n = j!({
                    "level": "note",
                    "message": { "text": format!("rule {} skipped: {}", s.id, s.reason) },
                });
                if let Some(i) = catalogue().iter().position(|r| r.id == s.id) {
                    n["associatedRule"] = j!({ "id": s.id, "index": i });
                }
                n
            })
            .collect();
        j!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "pgsec",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/pgsec",
                    "rules": rules,
                }},
                "invocations": [{
                    "executionSuccessful": true,
                    "toolExecutionNotifications": notifications,
                }],
                "properties": { "target": report.target() },
                "results": report.findings().iter().map(result).collect::<Vec<_>>(),
            }],
        })
    }
}
