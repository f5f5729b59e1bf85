//! What a check found, and how it reads.

use std::fmt;
use std::time::Duration;

pub use super::schema::RelationKind;

/// How tenant isolation was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A tenant's select returned rows of another tenant (or, through a view, rows
    /// the view would not show over that tenant's rows alone).
    ForeignRowsVisible,
    /// A select with no tenant set returned tenant rows.
    RowsWithoutTenant,
    /// A tenant's select did not return all of its own rows.
    OwnRowsHidden,
    /// A tenant inserted a row carrying another tenant's id.
    ForeignRowInserted,
    /// A tenant updated a row of another tenant.
    ForeignRowChanged,
    /// A tenant deleted a row of another tenant.
    ForeignRowDeleted,
    /// A tenant changed the tenant column of one of its rows to another tenant.
    RowMovedToOtherTenant,
}

impl ViolationKind {
    /// A stable snake_case name (`foreign_rows_visible`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::ForeignRowsVisible => "foreign_rows_visible",
            ViolationKind::RowsWithoutTenant => "rows_without_tenant",
            ViolationKind::OwnRowsHidden => "own_rows_hidden",
            ViolationKind::ForeignRowInserted => "foreign_row_inserted",
            ViolationKind::ForeignRowChanged => "foreign_row_changed",
            ViolationKind::ForeignRowDeleted => "foreign_row_deleted",
            ViolationKind::RowMovedToOtherTenant => "row_moved_to_other_tenant",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row that crossed a tenant boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeakedRow {
    /// The tenant the row belongs to, when known.
    pub owner: Option<String>,
    /// The row as PostgreSQL prints a record (`(1,acme,"first invoice")`).
    pub row: String,
}

/// One broken expectation, tied to a numbered step of the counterexample.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The step (1-based) of [`Counterexample::steps`] where it happened.
    pub step: usize,
    /// What was broken.
    pub kind: ViolationKind,
    /// The table or view (`schema.name`).
    pub relation: String,
    /// The tenant that acted; `None` for a transaction without a tenant.
    pub tenant: Option<String>,
    /// One sentence saying what happened.
    pub message: String,
    /// The rows concerned (leaked, written, or hidden).
    pub rows: Vec<LeakedRow>,
    /// The static findings (`rule id: object`) about this relation or function that
    /// predict the leak; empty when no static rule does.
    pub predicted_by: Vec<String>,
}

/// One numbered step of a counterexample: the SQL sent, in order, with what came back
/// as comments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// 1-based.
    pub number: usize,
    /// Who runs it and on which connection.
    pub title: String,
    /// Statements and `-- result` comments, one per line, values inlined as literals.
    pub sql: Vec<String>,
}

/// The shortest failing case proptest found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counterexample {
    /// Which case (1-based) of the run first failed.
    pub case: u32,
    /// Operations in that case before shrinking.
    pub original_steps: usize,
    /// Cases run while shrinking.
    pub shrink_runs: u32,
    /// The minimal case, step by step.
    pub steps: Vec<Step>,
    /// Everything the minimal case broke.
    pub violations: Vec<Violation>,
}

/// Whether something the application can reach was exercised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoverageStatus {
    /// Read (and, for tables, written) by tenants; the counts are in [`Coverage`].
    Exercised,
    /// Left out by name (`IsolationConfig::exclude`, `--exclude`).
    Excluded,
    /// The application role holds no privilege on it: nothing to exercise.
    NoPrivilege,
    /// It holds no tenant column and reads no tenant table: nothing to compare.
    NoTenantRows,
    /// Readable but not exercised, and why (a type that cannot be generated, an
    /// error, a foreign table, ...). Makes the verdict [`Verdict::Incomplete`].
    NotExercised(String),
}

impl CoverageStatus {
    /// A stable snake_case name (`exercised`, `not_exercised`, ...).
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverageStatus::Exercised => "exercised",
            CoverageStatus::Excluded => "excluded",
            CoverageStatus::NoPrivilege => "no_privilege",
            CoverageStatus::NoTenantRows => "no_tenant_rows",
            CoverageStatus::NotExercised(_) => "not_exercised",
        }
    }
}

/// Coverage of one relation or function the checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Coverage {
    /// `schema.name`, or `schema.name(argument types)` for a function.
    pub name: String,
    /// What it is.
    pub kind: RelationKind,
    /// Exercised, or why not.
    pub status: CoverageStatus,
    /// Tenants whose read (or call) of it succeeded.
    pub tenants: usize,
    /// Rows those reads returned, in all.
    pub rows_seen: u64,
    /// Rows written to it (inserted, updated, deleted; every write rolled back).
    pub rows_written: u64,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// No violation, and everything the application can read was exercised.
    Clean,
    /// No violation in what was exercised, but something readable was not (see
    /// [`IsolationReport::coverage`]); exclude it by name to accept that.
    Incomplete,
    /// A tenant saw or changed another tenant's rows.
    Leak,
}

impl Verdict {
    /// `clean`, `incomplete` or `leak`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Incomplete => "incomplete",
            Verdict::Leak => "leak",
        }
    }

    /// The exit code of `pgsec isolation`: 0 clean, 1 leak, 3 incomplete (2 is a
    /// usage or connection error).
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Clean => 0,
            Verdict::Leak => 1,
            Verdict::Incomplete => 3,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantSummary {
    /// The id as text.
    pub value: String,
    /// Why it was generated ("case variant of 'acme'").
    pub role: String,
    /// Whether it begins TenantPool transactions (ids that `TenantId` refuses, such as
    /// ones with spaces or non-ASCII letters, only own rows).
    pub acts: bool,
    /// Rows seeded for it in each writable tenant table.
    pub rows_per_table: usize,
}

/// The result of [`crate::isolation::check`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IsolationReport {
    /// The seed; the same seed, schema and case count replay the same run.
    pub seed: u64,
    /// Cases asked for.
    pub cases_requested: u32,
    /// Cases run before stopping (all of them, or up to the first failing one).
    pub cases_run: u32,
    /// Operations run, shrinking included.
    pub operations_run: u64,
    /// Tenant tables found (`schema.name`).
    pub tables: Vec<String>,
    /// Views and materialized views over them.
    pub views: Vec<String>,
    /// The generated tenants.
    pub tenants: Vec<TenantSummary>,
    /// What TenantPool's start-up guard said about the application role (empty when
    /// it would accept it; the check runs either way).
    pub guard_findings: Vec<pgsec_core::Finding>,
    /// The minimal failing case, if any case failed.
    pub counterexample: Option<Counterexample>,
    /// Things the checker could not exercise (a table no tenant could read, ...).
    pub notes: Vec<String>,
    /// Every relation and function found, exercised or why not.
    pub coverage: Vec<Coverage>,
    /// pgsec-core's static `rls.*` and `fn.*` findings for the same database and
    /// application role.
    pub static_findings: Vec<pgsec_core::Finding>,
    /// Why the static rules could not be evaluated, when they could not.
    pub static_skipped: Option<String>,
    /// Wall-clock time of the cases (seeding excluded).
    pub elapsed: Duration,
}

impl IsolationReport {
    /// True when no case broke tenant isolation (see [`IsolationReport::verdict`] for
    /// whether everything was exercised).
    #[must_use]
    pub fn is_isolated(&self) -> bool {
        self.counterexample.is_none()
    }

    /// Leak when a case broke isolation; else incomplete when something readable was
    /// not exercised; else clean.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        if self.counterexample.is_some() {
            Verdict::Leak
        } else if self
            .coverage
            .iter()
            .any(|c| matches!(c.status, CoverageStatus::NotExercised(_)))
        {
            Verdict::Incomplete
        } else {
            Verdict::Clean
        }
    }

    /// The report as one JSON object: verdict, seed, counts, coverage, static
    /// findings, notes and the counterexample.
    #[must_use]
    pub fn to_json(&self) -> String {
        let s = |v: &str| json_string(v);
        let list = |items: Vec<String>| format!("[{}]", items.join(","));
        let coverage = list(
            self.coverage
                .iter()
                .map(|c| {
                    format!(
                        "{{\"name\":{},\"kind\":{},\"status\":{},\"reason\":{},\"tenants\":{},\"rows_seen\":{},\"rows_written\":{}}}",
                        s(&c.name),
                        s(c.kind.as_str()),
                        s(c.status.as_str()),
                        match &c.status {
                            CoverageStatus::NotExercised(r) => s(r),
                            _ => "null".to_owned(),
                        },
                        c.tenants,
                        c.rows_seen,
                        c.rows_written
                    )
                })
                .collect(),
        );
        let findings = |fs: &[pgsec_core::Finding]| {
            list(
                fs.iter()
                    .map(|f| {
                        format!(
                            "{{\"id\":{},\"severity\":{},\"object\":{},\"evidence\":{}}}",
                            s(f.id()),
                            s(&f.severity().to_string()),
                            s(f.object()),
                            s(f.evidence())
                        )
                    })
                    .collect(),
            )
        };
        let counterexample = match &self.counterexample {
            None => "null".to_owned(),
            Some(c) => format!(
                "{{\"case\":{},\"original_steps\":{},\"shrink_runs\":{},\"steps\":{},\"violations\":{}}}",
                c.case,
                c.original_steps,
                c.shrink_runs,
                list(
                    c.steps
                        .iter()
                        .map(|st| format!(
                            "{{\"number\":{},\"title\":{},\"sql\":{}}}",
                            st.number,
                            s(&st.title),
                            list(st.sql.iter().map(|l| s(l)).collect())
                        ))
                        .collect()
                ),
                list(
                    c.violations
                        .iter()
                        .map(|v| format!(
                            "{{\"step\":{},\"kind\":{},\"relation\":{},\"tenant\":{},\"message\":{},\"rows\":{},\"predicted_by\":{}}}",
                            v.step,
                            s(v.kind.as_str()),
                            s(&v.relation),
                            v.tenant.as_deref().map_or("null".to_owned(), s),
                            s(&v.message),
                            list(
                                v.rows
                                    .iter()
                                    .map(|r| format!(
                                        "{{\"owner\":{},\"row\":{}}}",
                                        r.owner.as_deref().map_or("null".to_owned(), s),
                                        s(&r.row)
                                    ))
                                    .collect()
                            ),
                            list(v.predicted_by.iter().map(|p| s(p)).collect())
                        ))
                        .collect()
                )
            ),
        };
        format!(
            "{{\"verdict\":{},\"exit_code\":{},\"seed\":{},\"cases_requested\":{},\"cases_run\":{},\"operations_run\":{},\"elapsed_seconds\":{:.3},\"coverage\":{coverage},\"static_findings\":{},\"static_skipped\":{},\"guard_findings\":{},\"notes\":{},\"counterexample\":{counterexample}}}\n",
            s(self.verdict().as_str()),
            self.verdict().exit_code(),
            self.seed,
            self.cases_requested,
            self.cases_run,
            self.operations_run,
            self.elapsed.as_secs_f64(),
            findings(&self.static_findings),
            self.static_skipped.as_deref().map_or("null".to_owned(), s),
            findings(&self.guard_findings),
            list(self.notes.iter().map(|n| s(n)).collect()),
        )
    }

    /// The violations of the minimal counterexample (empty when isolated).
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        self.counterexample
            .as_ref()
            .map_or(&[], |c| c.violations.as_slice())
    }

    /// Operation sequences per second over the run.
    #[must_use]
    pub fn cases_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            f64::from(self.cases_run) / secs
        } else {
            0.0
        }
    }
}

/// A JSON string literal.
fn json_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl IsolationReport {
    fn fmt_coverage(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "coverage:")?;
        writeln!(
            f,
            "  {:<40} {:<18} {:<14} {:>7} {:>9} {:>9}",
            "relation or function", "kind", "status", "tenants", "rows seen", "written"
        )?;
        for c in &self.coverage {
            writeln!(
                f,
                "  {:<40} {:<18} {:<14} {:>7} {:>9} {:>9}",
                c.name,
                c.kind.as_str(),
                c.status.as_str(),
                c.tenants,
                c.rows_seen,
                c.rows_written
            )?;
            if let CoverageStatus::NotExercised(why) = &c.status {
                writeln!(f, "      not exercised: {why}")?;
            }
        }
        match (&self.static_skipped, self.static_findings.is_empty()) {
            (Some(why), _) => writeln!(f, "static rules: not evaluated ({why})")?,
            (None, true) => writeln!(f, "static rules (rls.*, fn.*): no finding")?,
            (None, false) => {
                writeln!(f, "static rules (rls.*, fn.*):")?;
                for finding in &self.static_findings {
                    writeln!(
                        f,
                        "  - [{}] {}: {}",
                        finding.severity(),
                        finding.id(),
                        finding.evidence()
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for IsolationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tenant tables: {}",
            if self.tables.is_empty() {
                "none".to_owned()
            } else {
                self.tables.join(", ")
            }
        )?;
        if !self.views.is_empty() {
            writeln!(f, "views over them: {}", self.views.join(", "))?;
        }
        let actors = self.tenants.iter().filter(|t| t.acts).count();
        writeln!(
            f,
            "tenants: {} ({} acting through TenantPool, the others only own rows)",
            self.tenants.len(),
            actors
        )?;
        for t in &self.tenants {
            writeln!(
                f,
                "  {:<24} {}{}",
                super::sql::literal(&t.value),
                t.role,
                if t.acts { "" } else { " (owns rows only)" }
            )?;
        }
        if self.guard_findings.is_empty() {
            writeln!(f, "start-up guard: accepts the application role")?;
        } else {
            writeln!(
                f,
                "start-up guard: would refuse the application role ({} finding{}); the \
                 check ran with the guard skipped:",
                self.guard_findings.len(),
                if self.guard_findings.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )?;
            for finding in &self.guard_findings {
                writeln!(
                    f,
                    "  - [{}] {}: {} ({})",
                    finding.severity(),
                    finding.id(),
                    finding.title(),
                    finding.evidence()
                )?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        self.fmt_coverage(f)?;
        match &self.counterexample {
            None => {
                writeln!(
                    f,
                    "no isolation violation in {} cases ({} operations, {:.1} s, {:.0} cases/s); seed {}",
                    self.cases_run,
                    self.operations_run,
                    self.elapsed.as_secs_f64(),
                    self.cases_per_second(),
                    self.seed
                )?;
                match self.verdict() {
                    Verdict::Incomplete => writeln!(
                        f,
                        "verdict: incomplete: {} readable relation(s) or function(s) not \
                         exercised (listed above; --exclude NAME to accept)",
                        self.coverage
                            .iter()
                            .filter(|c| matches!(c.status, CoverageStatus::NotExercised(_)))
                            .count()
                    ),
                    _ => writeln!(f, "verdict: clean"),
                }
            }
            Some(c) => {
                writeln!(
                    f,
                    "\nTENANT ISOLATION VIOLATED in case {} of {} (seed {}); shrunk from {} \
                     operation{} to {} in {} runs:\n",
                    c.case,
                    self.cases_requested,
                    self.seed,
                    c.original_steps,
                    if c.original_steps == 1 { "" } else { "s" },
                    c.steps.len(),
                    c.shrink_runs
                )?;
                write!(f, "{c}")?;
                writeln!(
                    f,
                    "\nreplay: the same schema with seed {} and {} cases (pgsec isolation \
                     --seed {} --cases {})",
                    self.seed, self.cases_requested, self.seed, self.cases_requested
                )?;
                writeln!(f, "verdict: leak")
            }
        }
    }
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{}. {}", step.number, step.title)?;
            for line in &step.sql {
                writeln!(f, "     {line}")?;
            }
            for v in self.violations.iter().filter(|v| v.step == step.number) {
                writeln!(
                    f,
                    "   VIOLATION [{}] on {}: {}",
                    v.kind, v.relation, v.message
                )?;
                if v.predicted_by.is_empty() {
                    writeln!(f, "       predicted by: no static rule")?;
                } else {
                    writeln!(f, "       predicted by: {}", v.predicted_by.join("; "))?;
                }
                for row in &v.rows {
                    match &row.owner {
                        Some(owner) => writeln!(
                            f,
                            "       tenant {}: {}",
                            super::sql::literal(owner),
                            row.row
                        )?,
                        None => writeln!(f, "       {}", row.row)?,
                    }
                }
            }
        }
        Ok(())
    }
}
