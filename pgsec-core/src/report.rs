//! Findings and reports: what the evaluator returns and the renderers print.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Severity;

/// Where a finding is: a line of a file, or a named object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Location {
    /// A file, and a 1-based line (`None`: the whole file, e.g. a setting left unset).
    File {
        /// Path as given (shared: every finding on a file points at one allocation).
        path: Arc<str>,
        /// 1-based line number.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
    },
    /// A server object: a setting, role, schema, table, policy, view, function,
    /// extension, language, or the connection.
    Object {
        /// Object kind (`setting`, `role`, `table`, ...).
        object_type: String,
        /// Its name (`schema.table`, `role`, ...), with the database when it matters.
        name: String,
    },
}

impl Location {
    /// A file line.
    pub fn file_line(path: impl Into<Arc<str>>, line: usize) -> Self {
        Location::File {
            path: path.into(),
            line: Some(line),
        }
    }

    /// A whole file.
    pub fn file(path: impl Into<Arc<str>>) -> Self {
        Location::File {
            path: path.into(),
            line: None,
        }
    }

    /// A named object.
    pub fn object(object_type: impl Into<String>, name: impl Into<String>) -> Self {
        Location::Object {
            object_type: object_type.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File {
                path,
                line: Some(l),
            } => write!(f, "{path}:{l}"),
            Location::File { path, line: None } => f.write_str(path),
            Location::Object { object_type, name } => write!(f, "{object_type} {name}"),
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    id: String,
    severity: Severity,
    title: String,
    evidence: String,
    location: Location,
    remediation: String,
    fingerprint: String,
    #[serde(skip)]
    object: String,
}

impl Finding {
    /// A finding. The fingerprint is derived from `id` and `object` (a stable name of
    /// what was found: a setting name, a role, `file: <normalised hba line>`), so it
    /// survives line-number changes.
    pub fn new(
        id: impl Into<String>,
        severity: Severity,
        title: impl Into<String>,
        object: impl Into<String>,
        location: Location,
        evidence: impl Into<String>,
        remediation: impl Into<String>,
    ) -> Self {
        let id = id.into();
        let object = object.into();
        let fingerprint = fingerprint(&id, &object);
        Finding {
            id,
            severity,
            title: title.into(),
            evidence: evidence.into(),
            location,
            remediation: remediation.into(),
            fingerprint,
            object,
        }
    }

    /// Rule id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Severity (after policy overrides).
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// Rule title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// What triggered it, in words.
    pub fn evidence(&self) -> &str {
        &self.evidence
    }
    /// Where.
    pub fn location(&self) -> &Location {
        &self.location
    }
    /// Configuration lines or SQL to paste.
    pub fn remediation(&self) -> &str {
        &self.remediation
    }
    /// Stable fingerprint (hex prefix of SHA-256 of id and object) for suppressions.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    /// The object name the fingerprint is computed from.
    pub fn object(&self) -> &str {
        &self.object
    }

    pub(crate) fn set_severity(&mut self, severity: Severity) {
        self.severity = severity;
    }
}

/// The fingerprint of a finding of rule `id` on `object`: the first 16 hex digits of
/// SHA-256(`id` NUL `object`).
pub fn fingerprint(id: &str, object: &str) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update([0u8]);
    h.update(object.as_bytes());
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A rule that could not be decided, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Rule id.
    pub id: String,
    /// Why (e.g. "needs a live connection", "needs superuser to read pg_authid").
    pub reason: String,
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Critical findings.
    pub critical: usize,
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Info findings.
    pub info: usize,
    /// Skipped rules (entries).
    pub skipped: usize,
    /// Suppressed findings.
    pub suppressed: usize,
}

impl Summary {
    /// Count of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    /// Total findings (not counting skipped or suppressed).
    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.info
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} findings: {} critical, {} high, {} medium, {} low, {} info; {} skipped, {} suppressed",
            self.total(),
            self.critical,
            self.high,
            self.medium,
            self.low,
            self.info,
            self.skipped,
            self.suppressed
        )
    }
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    target: String,
    findings: Vec<Finding>,
    skipped: Vec<Skipped>,
    suppressed: Vec<Finding>,
}

impl Report {
    /// A report of `target` (findings are sorted: most severe first, then by id and
    /// location).
    pub fn new(
        target: impl Into<String>,
        mut findings: Vec<Finding>,
        skipped: Vec<Skipped>,
        suppressed: Vec<Finding>,
    ) -> Self {
        sort_findings(&mut findings);
        Report {
            target: target.into(),
            findings,
            skipped,
            suppressed,
        }
    }

    /// What was audited.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Findings, most severe first.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Rules that could not be decided.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Findings the policy suppressed.
    pub fn suppressed(&self) -> &[Finding] {
        &self.suppressed
    }

    /// Counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            skipped: self.skipped.len(),
            suppressed: self.suppressed.len(),
            ..Summary::default()
        };
        for f in &self.findings {
            match f.severity {
                Severity::Critical => s.critical += 1,
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Info => s.info += 1,
            }
        }
        s
    }

    /// True when a finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }

    /// Findings of rule `id`.
    pub fn findings_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.id == id)
    }

    /// True when rule `id` was skipped (entirely or in part).
    pub fn is_skipped(&self, id: &str) -> bool {
        self.skipped.iter().any(|s| s.id == id)
    }

    /// The same report restricted to rules whose id satisfies `keep` (e.g. the hba
    /// rules for `pgsec hba lint`).
    #[must_use]
    pub fn retain_rules(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.findings.retain(|f| keep(&f.id));
        self.skipped.retain(|s| keep(&s.id));
        self.suppressed.retain(|f| keep(&f.id));
        self
    }
}

fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| location_key(&a.location).cmp(&location_key(&b.location)))
            .then_with(|| a.object.cmp(&b.object))
    });
}

fn location_key(l: &Location) -> (u8, &str, usize) {
    match l {
        Location::File { path, line } => (0, &**path, line.unwrap_or(0)),
        Location::Object { name, .. } => (1, name.as_str(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, sev: Severity, obj: &str) -> Finding {
        Finding::new(id, sev, "t", obj, Location::object("role", obj), "e", "r")
    }

    #[test]
    fn fingerprints_depend_on_id_and_object_only() {
        let a = f("role.bypassrls", Severity::High, "app");
        let b = Finding::new(
            "role.bypassrls",
            Severity::Low,
            "x",
            "app",
            Location::file("f"),
            "y",
            "z",
        );
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
        assert_ne!(
            a.fingerprint(),
            f("role.bypassrls", Severity::High, "app2").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            f("role.superusers", Severity::High, "app").fingerprint()
        );
    }

    #[test]
    fn summary_and_threshold() {
        let r = Report::new(
            "t",
            vec![
                f("a.b", Severity::Low, "x"),
                f("c.d", Severity::Critical, "y"),
            ],
            vec![Skipped {
                id: "e.f".into(),
                reason: "r".into(),
            }],
            vec![],
        );
        assert_eq!(r.findings()[0].severity(), Severity::Critical);
        let s = r.summary();
        assert_eq!((s.critical, s.low, s.skipped, s.total()), (1, 1, 1, 2));
        assert!(r.fails(Severity::High));
        assert!(r.fails(Severity::Critical));
        let low_only = r.clone().retain_rules(|id| id == "a.b");
        assert!(!low_only.fails(Severity::Medium));
        assert!(low_only.fails(Severity::Low));
    }
}
