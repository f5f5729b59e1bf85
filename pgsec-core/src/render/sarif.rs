//! SARIF 2.1.0: every catalogue rule in `tool.driver.rules`, one result per finding with
//! a physical location (`artifactLocation.uri` + `region.startLine`) for file findings
//! and a logical location for server objects; skipped rules as tool notifications;
//! fingerprints in `partialFingerprints`.

use serde_json::{json as j, Value};

use crate::{catalogue, Finding, Location, Report, Severity};

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

/// A relative or absolute path as a URI reference (RFC 3986), percent-encoding what
/// needs it.
pub(crate) fn path_uri(path: &str) -> String {
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
pub fn sarif_value(report: &Report) -> Value {
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

/// The report as pretty-printed SARIF 2.1.0 JSON.
pub fn sarif(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&sarif_value(report)).unwrap_or_default();
    s.push('\n');
    s
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
