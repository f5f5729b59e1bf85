//! What a check found, and how it reads.

use std::fmt;
use std::time::Duration;

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
    /// Wall-clock time of the cases (seeding excluded).
    pub elapsed: Duration,
}

impl IsolationReport {
    /// True when no case broke tenant isolation.
    #[must_use]
    pub fn is_isolated(&self) -> bool {
        self.counterexample.is_none()
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
        match &self.counterexample {
            None => writeln!(
                f,
                "no isolation violation in {} cases ({} operations, {:.1} s, {:.0} cases/s); seed {}",
                self.cases_run,
                self.operations_run,
                self.elapsed.as_secs_f64(),
                self.cases_per_second(),
                self.seed
            ),
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
                )
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
