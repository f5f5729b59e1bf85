//! Findings and reports: what the evaluator returns and the renderers print.

use std::borrow::Cow;
use std::cmp::Ordering;
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
#[derive(Clone, PartialEq, Eq)]
pub struct Finding {
    // The evaluator's ids and titles are the catalogue's static strings: a large
    // report (one finding per line of a 100,000-line pg_hba.conf) copies neither.
    id: Cow<'static, str>,
    severity: Severity,
    title: Cow<'static, str>,
    location: Location,
    fingerprint: Fingerprint,
    /// Evidence, remediation and object, one allocation per finding instead of three.
    text: FindingText,
}

/// The evidence, remediation and object of a finding, one after the other in one
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FindingText {
    buf: String,
    evidence_end: usize,
    remediation_end: usize,
}

impl FindingText {
    /// Writes the evidence, the remediation and the object, in that order, into one
    /// buffer of `capacity` bytes (it grows if that is too small).
    pub(crate) fn write(
        capacity: usize,
        evidence: impl FnOnce(&mut String),
        remediation: impl FnOnce(&mut String),
        object: impl FnOnce(&mut String),
    ) -> Self {
        let mut buf = String::with_capacity(capacity);
        evidence(&mut buf);
        let evidence_end = buf.len();
        remediation(&mut buf);
        let remediation_end = buf.len();
        object(&mut buf);
        FindingText {
            buf,
            evidence_end,
            remediation_end,
        }
    }

    /// The three texts, copied into one buffer.
    pub(crate) fn of(evidence: &str, remediation: &str, object: &str) -> Self {
        FindingText::write(
            evidence.len() + remediation.len() + object.len(),
            |b| b.push_str(evidence),
            |b| b.push_str(remediation),
            |b| b.push_str(object),
        )
    }

    // The ends are taken from `buf.len()` between whole strings, so they are in range
    // and on character boundaries; `get` spares a panic path all the same.
    fn evidence(&self) -> &str {
        self.buf.get(..self.evidence_end).unwrap_or_default()
    }

    fn remediation(&self) -> &str {
        self.buf
            .get(self.evidence_end..self.remediation_end)
            .unwrap_or_default()
    }

    fn object(&self) -> &str {
        self.buf.get(self.remediation_end..).unwrap_or_default()
    }
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
        Finding::of_parts(
            Cow::Owned(id.into()),
            severity,
            Cow::Owned(title.into()),
            location,
            FindingText::of(&evidence.into(), &remediation.into(), &object.into()),
        )
    }

    /// A finding of a catalogue rule (static id and title) with its texts.
    pub(crate) fn of_rule(
        id: &'static str,
        severity: Severity,
        title: &'static str,
        location: Location,
        text: FindingText,
    ) -> Self {
        Finding::of_parts(
            Cow::Borrowed(id),
            severity,
            Cow::Borrowed(title),
            location,
            text,
        )
    }

    fn of_parts(
        id: Cow<'static, str>,
        severity: Severity,
        title: Cow<'static, str>,
        location: Location,
        text: FindingText,
    ) -> Self {
        let fingerprint = Fingerprint::of(&id, text.object());
        Finding {
            id,
            severity,
            title,
            location,
            fingerprint,
            text,
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
        self.text.evidence()
    }
    /// Where.
    pub fn location(&self) -> &Location {
        &self.location
    }
    /// Configuration lines or SQL to paste.
    pub fn remediation(&self) -> &str {
        self.text.remediation()
    }
    /// Stable fingerprint (hex prefix of SHA-256 of id and object) for suppressions.
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.as_str()
    }
    /// The object name the fingerprint is computed from.
    pub fn object(&self) -> &str {
        self.text.object()
    }

    pub(crate) fn set_severity(&mut self, severity: Severity) {
        self.severity = severity;
    }
}

// Debug and Serialize by hand show the texts as separate fields, as they were when each
// had its own String.
impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("id", &self.id)
            .field("severity", &self.severity)
            .field("title", &self.title)
            .field("evidence", &self.evidence())
            .field("location", &self.location)
            .field("remediation", &self.remediation())
            .field("fingerprint", &self.fingerprint)
            .field("object", &self.object())
            .finish()
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Finding", 7)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("evidence", self.evidence())?;
        s.serialize_field("location", &self.location)?;
        s.serialize_field("remediation", self.remediation())?;
        s.serialize_field("fingerprint", &self.fingerprint)?;
        s.end()
    }
}

/// The fingerprint of a finding of rule `id` on `object`: the first 16 hex digits of
/// SHA-256(`id` NUL `object`).
pub fn fingerprint(id: &str, object: &str) -> String {
    Fingerprint::of(id, object).as_str().to_owned()
}

/// A fingerprint's 16 lower-case hex digits, kept inline (no allocation per finding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Fingerprint([u8; 16]);

impl Fingerprint {
    fn of(id: &str, object: &str) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        h.update([0u8]);
        h.update(object.as_bytes());
        let digest = h.finalize();
        let mut hex = [0u8; 16];
        for (pair, b) in hex.chunks_exact_mut(2).zip(digest.iter()) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        Fingerprint(hex)
    }

    fn as_str(&self) -> &str {
        // Always ASCII hex digits, so the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

    /// The findings grouped by severity and rule, with counts, in report order (most
    /// severe first): what a report of tens of thousands of findings prints instead of
    /// every line past `--max-findings`.
    pub fn counts_by_rule(&self) -> Vec<RuleCount<'_>> {
        counts_by_rule(&self.findings)
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

/// How many findings of one rule at one severity a report holds (see
/// [`Report::counts_by_rule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleCount<'a> {
    /// Rule id.
    pub id: &'a str,
    /// Severity of these findings (a rule may lower some of its findings).
    pub severity: Severity,
    /// Number of findings.
    pub count: usize,
}

/// Groups sorted `findings` into runs of one severity and rule.
pub(crate) fn counts_by_rule(findings: &[Finding]) -> Vec<RuleCount<'_>> {
    let mut out: Vec<RuleCount<'_>> = Vec::new();
    for f in findings {
        match out.last_mut() {
            Some(last) if last.severity == f.severity && last.id == f.id() => last.count += 1,
            _ => out.push(RuleCount {
                id: f.id(),
                severity: f.severity,
                count: 1,
            }),
        }
    }
    out
}

fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| cmp_shared(&a.id, &b.id))
            .then_with(|| location_order(&a.location, &b.location))
            .then_with(|| a.object().cmp(b.object()))
    });
}

/// Compares strings, equal at once when they are the same string (a rule's id, a
/// file's path: tens of thousands of findings share a few).
fn cmp_shared(a: &str, b: &str) -> Ordering {
    if std::ptr::eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

/// Files (by path, then line; a whole file first) before objects (by name).
fn location_order(a: &Location, b: &Location) -> Ordering {
    match (a, b) {
        (Location::File { path: pa, line: la }, Location::File { path: pb, line: lb }) => {
            cmp_shared(pa, pb).then_with(|| la.unwrap_or(0).cmp(&lb.unwrap_or(0)))
        }
        (Location::File { .. }, Location::Object { .. }) => Ordering::Less,
        (Location::Object { .. }, Location::File { .. }) => Ordering::Greater,
        (Location::Object { name: na, .. }, Location::Object { name: nb, .. }) => na.cmp(nb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, sev: Severity, obj: &str) -> Finding {
        Finding::new(id, sev, "t", obj, Location::object("role", obj), "e", "r")
    }

    #[test]
    fn counts_by_rule_group_severity_and_id_runs() {
        let r = Report::new(
            "t",
            vec![
                f("rls.disabled", Severity::Low, "a"),
                f("rls.disabled", Severity::High, "b"),
                f("rls.disabled", Severity::Low, "c"),
                f("role.bypassrls", Severity::High, "d"),
            ],
            vec![],
            vec![],
        );
        let counts: Vec<(&str, Severity, usize)> = r
            .counts_by_rule()
            .iter()
            .map(|c| (c.id, c.severity, c.count))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("rls.disabled", Severity::High, 1),
                ("role.bypassrls", Severity::High, 1),
                ("rls.disabled", Severity::Low, 2),
            ]
        );
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
    fn fingerprint_is_a_hex_prefix_of_sha256() {
        for (id, object) in [
            ("role.bypassrls", "app"),
            ("hba.md5", "pg_hba.conf: host all all 0.0.0.0/0 md5"),
            ("", ""),
            ("x", "ünïcode"),
        ] {
            let mut h = Sha256::new();
            h.update(id.as_bytes());
            h.update([0u8]);
            h.update(object.as_bytes());
            let expected: String = h
                .finalize()
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(fingerprint(id, object), expected);
            let f = Finding::new(
                id,
                Severity::Low,
                "t",
                object,
                Location::file("f"),
                "e",
                "r",
            );
            assert_eq!(f.fingerprint(), expected);
        }
    }

    #[test]
    fn texts_share_a_buffer_but_show_as_fields() {
        let f = Finding::new(
            "a.b",
            Severity::High,
            "T",
            "öbj",
            Location::file_line("p", 3),
            "évidence",
            "",
        );
        assert_eq!(
            (f.evidence(), f.remediation(), f.object()),
            ("évidence", "", "öbj")
        );
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            format!(
                r#"{{"id":"a.b","severity":"high","title":"T","evidence":"évidence","location":{{"kind":"file","path":"p","line":3}},"remediation":"","fingerprint":"{}"}}"#,
                f.fingerprint()
            )
        );
        assert_eq!(
            format!("{f:?}"),
            format!(
                r#"Finding {{ id: "a.b", severity: High, title: "T", evidence: "évidence", location: File {{ path: "p", line: Some(3) }}, remediation: "", fingerprint: "{}", object: "öbj" }}"#,
                f.fingerprint()
            )
        );
        let g = Finding::new(
            "a.b",
            Severity::High,
            "T",
            "öbj",
            f.location().clone(),
            "évidenc",
            "e",
        );
        assert_ne!(f, g, "the same bytes split differently are different texts");
    }

    #[test]
    fn findings_sort_by_severity_id_location_object() {
        let path: Arc<str> = Arc::from("b.conf");
        let locations = [
            Location::file_line(path.clone(), 10),
            Location::file_line(path.clone(), 2),
            Location::file(path),
            Location::file_line("a.conf", 7),
            Location::object("role", "zed"),
            Location::object("table", "abc"),
        ];
        let mut findings = Vec::new();
        for (n, location) in locations.iter().enumerate() {
            for (id, severity) in [
                ("x.b", Severity::Low),
                ("x.a", Severity::Low),
                ("x.c", Severity::High),
            ] {
                for object in ["o2", "o1"] {
                    let object = format!("{object}{}", n % 2);
                    findings.push(Finding::new(
                        id,
                        severity,
                        "t",
                        object,
                        location.clone(),
                        "e",
                        "r",
                    ));
                }
            }
        }
        // The order as one key: severity (descending), id, (0 path line | 1 name), object.
        let key = |f: &Finding| {
            let (kind, name, line) = match f.location() {
                Location::File { path, line } => (0, path.to_string(), line.unwrap_or(0)),
                Location::Object { name, .. } => (1, name.clone(), 0),
            };
            (
                std::cmp::Reverse(f.severity()),
                f.id().to_owned(),
                kind,
                name,
                line,
                f.object().to_owned(),
            )
        };
        let mut expected = findings.clone();
        expected.sort_by_key(key);
        findings.reverse();
        let report = Report::new("t", findings, vec![], vec![]);
        assert_eq!(report.findings(), &expected[..]);
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
