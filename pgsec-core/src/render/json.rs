//! The JSON report.
//!
//! Stable format (fields are only ever added):
//!
//! ```json
//! {
//!   "pgsec_version": "0.1.0",
//!   "target": "postgresql.conf, pg_hba.conf",
//!   "findings": [
//!     {
//!       "id": "hba.trust_network",
//!       "severity": "critical",
//!       "title": "Network connections are trusted without a password",
//!       "evidence": "pg_hba.conf:3: host all all 0.0.0.0/0 trust (...)",
//!       "location": {"kind": "file", "path": "pg_hba.conf", "line": 3},
//!       "remediation": "hostssl all all 0.0.0.0/0 scram-sha-256",
//!       "fingerprint": "3f1c0a9b5e7d2c41"
//!     }
//!   ],
//!   "skipped": [{"id": "rls.disabled", "reason": "needs a live connection"}],
//!   "suppressed": [ /* findings, same shape */ ],
//!   "summary": {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0,
//!               "total": 1, "skipped": 1, "suppressed": 0}
//! }
//! ```
//!
//! `location` is `{"kind": "file", "path", "line"?}` or
//! `{"kind": "object", "object_type", "name"}`. Findings are ordered most severe first.

use serde_json::{json as j, Value};

use crate::{Finding, Report};

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
pub fn json_value(report: &Report) -> Value {
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

/// The report as pretty-printed JSON (see the module documentation for the format).
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&json_value(report)).unwrap_or_default();
    s.push('\n');
    s
}
