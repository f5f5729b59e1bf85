//! Property-tested Row-Level Security isolation.
//!
//! Point the checker at a database and it tries, with generated tenants and operation
//! sequences, to make one tenant see or change another's rows, then shows the shortest
//! sequence that does. It finds what static rules cannot: a prefix or case-insensitive
//! match in a policy, a view that runs with its owner's rights, an OR-ed permissive
//! policy, an UPDATE that hands rows to another tenant, a policy that opens up when
//! the tenant setting is empty.
//!
//! How a run goes:
//! 1. **Discover** the tenant tables (a column named like one of
//!    [`IsolationConfig::tenant_columns`]: tables, partitioned tables, partitions,
//!    inheritance children), their columns and foreign keys, the views and
//!    materialized views over them (`pg_depend`/`pg_rewrite`), the functions the
//!    application role may execute that return rows or a composite (SECURITY DEFINER
//!    ones included), and every other relation it can reach (foreign tables among
//!    them); and evaluate pgsec-core's static `rls.*` and `fn.*` rules for the same
//!    database and application role.
//! 2. **Generate tenants** of the column's type with proptest: uuid, integer or text.
//!    Text ids are adversarial: prefixes of each other, case variants, surrounding
//!    spaces, Unicode look-alikes, a LIKE pattern, a 128-character id.
//! 3. **Seed** one to three rows per tenant and table through the admin connection
//!    (committed; deleted again at the end), plus rows whose columns that a policy, a
//!    view or a function body reads take varied values (booleans both ways, NULL, enum
//!    labels, numeric and timestamp bounds, the literals the policies compare with);
//!    then refresh the materialized views, as production would (REFRESH runs with the
//!    view owner's rights).
//! 4. **Run cases**: each is a sequence of up to [`MAX_OPERATIONS_PER_CASE`]
//!    operations (select; insert one's own row; insert with another tenant's id;
//!    update one's own row; rewrite, hand to another tenant, or delete every row the
//!    tenant may touch; select through each view; call each function with generated
//!    arguments (no-argument calls first, other tenants' ids among the arguments;
//!    calls roll back); a transaction with no tenant, on a
//!    fresh connection and on the pooled one; a tenant switch on one connection as a
//!    pool that does not reset sessions would run it; tenants at the same time on
//!    separate connections), run as the application role, mostly through
//!    [`pgsec_client::TenantPool`]. The bulk writes carry no
//!    WHERE on purpose: a statement that reads a column makes PostgreSQL add the SELECT
//!    policies, so only a WHERE-less `UPDATE`/`DELETE` shows what the UPDATE and DELETE
//!    policies alone allow. Writes roll back, so every case starts from the same rows;
//!    reads commit, so session state a policy leaves behind meets the next tenant.
//! 5. **Compare with the model**: a tenant sees exactly its own rows (through a view:
//!    exactly what the view shows over its own rows alone), cannot write a row of
//!    another tenant, cannot move a row to another tenant, and sees no tenant rows (or
//!    gets an error) with no tenant set. Rows whose tenant column is NULL count as
//!    shared, not leaked.
//! 6. **Shrink** the first failing case with proptest and print it as numbered SQL
//!    steps with the rows that leaked, the static rule that predicts each leak, and
//!    the seed that replays it. Without a failure, a **coverage sweep** reads whatever
//!    fewer than two tenants read yet, one operation per case.
//! 7. **Report coverage**: per relation and function, exercised (tenants, rows seen,
//!    rows written) or why not. The [`Verdict`] is clean only when everything readable
//!    was exercised, incomplete when something was not (unless
//!    [`IsolationConfig::exclude`] names it), leak on a violation.
//!
//! TenantPool's start-up guard is run first and its findings are listed; where it
//! would refuse the role, the checker opts out of it and runs anyway: its job is to
//! show the leak.
//!
//! Run it against a test database: the seeded rows are committed while the check runs.
//!
//! ```no_run
//! use pgsec_testkit::isolation::{check, IsolationConfig};
//!
//! # async fn demo() -> Result<(), pgsec_testkit::Error> {
//! let server = pgsec_testkit::shared().await?;
//! let db = server.fresh_database().await?;
//! db.admin_client().await?.batch_execute(
//!     "create table notes (id bigserial primary key, tenant_id text not null, body text);
//!      alter table notes enable row level security;
//!      alter table notes force row level security;
//!      create policy tenant on notes
//!        using (tenant_id = current_setting('app.current_tenant_id', true));
//!      grant select, insert, update, delete on notes to pgsec_app;
//!      grant usage on sequence notes_id_seq to pgsec_app;",
//! ).await?;
//!
//! let report = check(IsolationConfig {
//!     admin_conninfo: db.admin_conninfo(),
//!     app_conninfo: db.app_conninfo(),
//!     seed: Some(42),
//!     ..IsolationConfig::default()
//! })
//! .await?;
//! assert!(report.is_isolated(), "{report}");
//! # Ok(()) }
//! ```
//!
//! For repeated runs over one seeding (benchmarks, long soaks), use
//! [`IsolationChecker`] directly.

mod engine;
mod ops;
mod report;
mod schema;
mod seed;
mod sql;
mod tenants;

use std::fmt;
use std::time::Instant;

use pgsec_client::{Config, Environment, SettingName, TenantPool};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};

pub use report::{
    Counterexample, Coverage, CoverageStatus, IsolationReport, LeakedRow, RelationKind, Step,
    TenantSummary, Verdict, Violation, ViolationKind,
};

use crate::{Error, Result};
use engine::{Connections, Engine};
use ops::{Bare, Op, Shape};

/// Cases a check runs by default. Each broken schema of the mutation suite
/// (`tests/isolation/schemas/broken`) is caught within its first 13 cases across 13
/// seeds, and a default run over five tables takes well under a second on a local
/// server (about two with the container backend).
pub const DEFAULT_CASES: u32 = 256;

/// Most operations in one generated case.
pub const MAX_OPERATIONS_PER_CASE: usize = 6;

/// Most cases run while shrinking a failure.
const MAX_SHRINK_RUNS: u32 = 256;

/// What to check and how hard.
///
/// Build it with struct update syntax over [`Default`]:
/// `IsolationConfig { admin_conninfo, app_conninfo, ..IsolationConfig::default() }`.
#[derive(Clone)]
pub struct IsolationConfig {
    /// libpq connection string (or `postgres://` URL) of a role that sees every row:
    /// a superuser or a `BYPASSRLS` role. It seeds rows and computes what each
    /// tenant should see. The `PG*` environment variables fill what it leaves out.
    pub admin_conninfo: String,
    /// libpq connection string of the application role, the one the application's
    /// TenantPool uses.
    pub app_conninfo: String,
    /// The setting that carries the tenant (default `app.current_tenant_id`).
    pub setting: SettingName,
    /// Column names that make a table a tenant table (default `tenant_id`); the first
    /// one a table has is its tenant column.
    pub tenant_columns: Vec<String>,
    /// Cases to run (default [`DEFAULT_CASES`]).
    pub cases: u32,
    /// Seed of the random generator; `None` picks one (printed in the report, so the
    /// run can be replayed).
    pub seed: Option<u64>,
    /// Relations and functions to leave out, by name: `schema.name`, `name`, or for a
    /// function also `schema.name(argument types)`. They are not exercised, and the
    /// coverage lists them as excluded instead of making the verdict incomplete.
    pub exclude: Vec<String>,
}

impl Default for IsolationConfig {
    fn default() -> Self {
        Self {
            admin_conninfo: String::new(),
            app_conninfo: String::new(),
            setting: SettingName::default(),
            tenant_columns: vec!["tenant_id".to_owned()],
            cases: DEFAULT_CASES,
            seed: None,
            exclude: Vec::new(),
        }
    }
}

impl fmt::Debug for IsolationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Connection strings may hold passwords.
        f.debug_struct("IsolationConfig")
            .field("admin_conninfo", &"<redacted>")
            .field("app_conninfo", &"<redacted>")
            .field("setting", &self.setting)
            .field("tenant_columns", &self.tenant_columns)
            .field("cases", &self.cases)
            .field("seed", &self.seed)
            .field("exclude", &self.exclude)
            .finish()
    }
}

/// Runs a complete check: connect, discover, seed, run `config.cases` cases (stopping
/// at the first failing one and shrinking it), delete the seeded rows.
///
/// A violation is not an error: it is [`IsolationReport::counterexample`].
///
/// # Errors
/// - [`Error::IsolationConnect`] when a connection string is invalid or a connection
///   fails (verify-full TLS unless the string says otherwise);
/// - [`Error::IsolationPool`] when the TenantPool cannot be built for a reason other
///   than the start-up guard's refusal;
/// - [`Error::IsolationSetup`] when there is nothing to check or the schema cannot be
///   seeded (the message says what to change);
/// - [`Error::IsolationQuery`] when one of the checker's own queries fails.
pub async fn check(config: IsolationConfig) -> Result<IsolationReport> {
    let mut checker = IsolationChecker::prepare(&config).await?;
    let report = checker.run(config.cases).await;
    let cleaned = checker.cleanup().await;
    let report = report?;
    cleaned?;
    Ok(report)
}

/// A prepared check: connections open, schema discovered, rows seeded. Cases can be
/// run on it repeatedly; call [`IsolationChecker::cleanup`] to delete the seeded rows.
pub struct IsolationChecker {
    engine: Engine,
    runner: TestRunner,
    strategy: BoxedStrategy<Vec<Op>>,
    seed: u64,
    guard_findings: Vec<pgsec_core::Finding>,
    static_findings: Vec<pgsec_core::Finding>,
    static_skipped: Option<String>,
    exclude: Vec<String>,
}

/// True when `name` (`schema.name` or `schema.name(args)`) is one of `exclude`.
fn is_excluded(exclude: &[String], name: &str) -> bool {
    let bare = name.split_once('(').map_or(name, |(b, _)| b);
    let unqualified = |n: &str| n.split_once('.').map_or(n, |(_, r)| r).to_owned();
    exclude
        .iter()
        .any(|x| x == name || x == bare || *x == unqualified(name) || *x == unqualified(bare))
}

/// pgsec-core's `rls.*` and `fn.*` rules over the live catalog, for the application
/// role: the findings, or why they could not be evaluated.
async fn static_view(
    admin: &tokio_postgres::Client,
    app: &str,
    config: &IsolationConfig,
) -> (Vec<pgsec_core::Finding>, Option<String>) {
    let options =
        pgsec_core::live::CollectOptions::default().tenant_setting(config.setting.as_str());
    match pgsec_core::live::collect(admin, &options).await {
        Err(e) => (Vec::new(), Some(e.to_string())),
        Ok(collection) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let snapshot = collection
                .into_snapshot("isolation check", now)
                .with_app_role(app);
            let policy = pgsec_core::Policy::default()
                .with_app_role(app)
                .with_tenant_columns(config.tenant_columns.iter().cloned())
                .with_tenant_setting(config.setting.as_str());
            let report = pgsec_core::evaluate_rules(&snapshot, &policy, |id| {
                id.starts_with("rls.") || id.starts_with("fn.") || id.starts_with("func.")
            });
            (report.findings().to_vec(), None)
        }
    }
}

/// The static findings about `relation` (`schema.name` or a function signature).
fn predicting(findings: &[pgsec_core::Finding], relation: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| {
            let object = f.object();
            let rest = object.split_once('/').map_or(object, |(_, r)| r);
            rest == relation || rest.starts_with(&format!("{relation}/"))
        })
        .map(|f| format!("{} [{}] ({})", f.id(), f.severity(), f.object()))
        .collect()
}

impl fmt::Debug for IsolationChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsolationChecker")
            .field("seed", &self.seed)
            .field("tables", &self.engine.schema.tables.len())
            .field("views", &self.engine.schema.views.len())
            .field("tenants", &self.engine.world.tenants.len())
            .finish_non_exhaustive()
    }
}

/// Expands a 64-bit seed into ChaCha's 32 bytes (splitmix64).
fn chacha_seed(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

fn connect_error(role: &'static str) -> impl FnOnce(pgsec_client::Error) -> Error {
    move |source| Error::IsolationConnect { role, source }
}

impl IsolationChecker {
    /// Connects, discovers the tenant tables and views, runs TenantPool's start-up
    /// guard (recording its findings), generates the tenants and seeds their rows.
    ///
    /// # Errors
    /// As [`check`].
    pub async fn prepare(config: &IsolationConfig) -> Result<Self> {
        let env = Environment::current();
        let admin_config =
            Config::parse_with_env(&config.admin_conninfo, &env).map_err(connect_error("admin"))?;
        let app_config =
            Config::parse_with_env(&config.app_conninfo, &env).map_err(connect_error("app"))?;
        if config.tenant_columns.is_empty() {
            return Err(Error::IsolationSetup {
                reason: "name at least one tenant column".to_owned(),
            });
        }

        let (admin, _) = pgsec_client::connect(&admin_config)
            .await
            .map_err(connect_error("admin"))?;
        let facts = admin
            .query_one(
                "SELECT r.rolsuper, r.rolbypassrls, pg_catalog.current_setting('server_encoding')
                   FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
                &[],
            )
            .await
            .map_err(|source| Error::IsolationQuery {
                step: "reading the admin role's attributes".to_owned(),
                source,
            })?;
        let (superuser, bypassrls, encoding): (bool, bool, String) =
            (facts.get(0), facts.get(1), facts.get(2));
        if !superuser && !bypassrls {
            return Err(Error::IsolationSetup {
                reason: "the admin connection's role must be a superuser or have BYPASSRLS, \
                         so that it can seed and read every tenant's rows"
                    .to_owned(),
            });
        }

        let (fresh, _) = pgsec_client::connect(&app_config)
            .await
            .map_err(connect_error("app"))?;
        let app_role: String = fresh
            .query_one("SELECT current_user::text", &[])
            .await
            .map_err(|source| Error::IsolationQuery {
                step: "reading the application role's name".to_owned(),
                source,
            })?
            .get(0);
        let schema = schema::discover(&admin, &config.tenant_columns, &app_role).await?;
        let (static_findings, static_skipped) = static_view(&admin, &app_role, config).await;

        let seed = config.seed.unwrap_or_else(rand::random);
        let mut runner = TestRunner::new_with_rng(
            ProptestConfig {
                failure_persistence: None,
                ..ProptestConfig::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &chacha_seed(seed)),
        );
        let mut world = tenants::world(schema.kind)
            .new_tree(&mut runner)
            .map_err(|reason| Error::IsolationSetup {
                reason: format!("generating tenants: {reason}"),
            })?
            .current();
        // Keep the tenants every tenant column can hold.
        let limit = schema
            .tables
            .iter()
            .filter_map(|t| t.tenant().max_len)
            .min();
        let keep: Vec<bool> = world
            .tenants
            .iter()
            .map(|t| {
                limit.is_none_or(|max| t.value.chars().count() <= max)
                    && (encoding.eq_ignore_ascii_case("UTF8") || t.value.is_ascii())
            })
            .collect();
        let mut k = 0;
        world.tenants.retain(|_| {
            k += 1;
            keep[k - 1]
        });
        let mut k = 0;
        world.rows.retain(|_| {
            k += 1;
            keep[k - 1]
        });

        let (raw, _) = pgsec_client::connect(&app_config)
            .await
            .map_err(connect_error("app"))?;
        let builder = || {
            TenantPool::builder(&app_config)
                .tenant_setting(config.setting.clone())
                .tenant_columns(config.tenant_columns.iter().cloned())
        };
        let (serial, guard_findings) = match builder().max_size(1).build().await {
            Ok(pool) => (pool, Vec::new()),
            Err(pgsec_client::Error::Unsafe { findings }) => {
                let pool = builder()
                    .max_size(1)
                    .dangerous_skip_startup_guard()
                    .build()
                    .await
                    .map_err(|source| Error::IsolationPool { source })?;
                (pool, findings)
            }
            Err(source) => return Err(Error::IsolationPool { source }),
        };
        // The guard's verdict is known; the second pool would only repeat it.
        let concurrent = builder()
            .max_size(3)
            .dangerous_skip_startup_guard()
            .build()
            .await
            .map_err(|source| Error::IsolationPool { source })?;

        let plans: Vec<seed::InsertPlan> =
            schema.tables.iter().map(seed::InsertPlan::new).collect();
        let seeded = seed::seed(&admin, &schema, &world, &plans).await?;
        let conns = Connections {
            admin,
            admin_is_superuser: superuser,
            fresh,
            raw,
            serial,
            concurrent,
        };
        let exclude = config.exclude.clone();
        let mut engine = Engine::new(schema, world, seeded, conns, config.setting.clone(), &|n| {
            is_excluded(&exclude, n)
        })?;
        engine.refresh_materialized_views().await;
        if let Err(e) = engine.load().await {
            let _ = seed::cleanup(&engine.conns.admin, &engine.schema, &engine.seeded).await;
            return Err(e);
        }
        let shape = Shape {
            actors: engine.actor_count(),
            tenants: engine.world.tenants.len(),
            tables: engine.readable_count(),
            writable: engine.writable_count(),
            views: engine.readable_view_count(),
            calls: engine.calls.len(),
            max_ops: MAX_OPERATIONS_PER_CASE,
        };
        Ok(Self {
            engine,
            runner,
            strategy: ops::case(shape),
            seed,
            guard_findings,
            static_findings,
            static_skipped,
            exclude: config.exclude.clone(),
        })
    }

    /// The seed of this checker's generator.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs up to `cases` cases, continuing this checker's random sequence; stops at
    /// the first failing case and shrinks it.
    ///
    /// # Errors
    /// [`Error::IsolationPool`] or [`Error::IsolationQuery`] when a connection fails
    /// during the run.
    pub async fn run(&mut self, cases: u32) -> Result<IsolationReport> {
        let started = Instant::now();
        let operations_before = self.engine.operations;
        let (cases_run, mut counterexample) = self.random_cases(cases).await?;
        if counterexample.is_none() {
            counterexample = self.coverage_sweep(cases_run).await?;
        }
        if let Some(c) = &mut counterexample {
            for v in &mut c.violations {
                v.predicted_by = predicting(&self.static_findings, &v.relation);
            }
        }
        Ok(IsolationReport {
            seed: self.seed,
            cases_requested: cases,
            cases_run,
            operations_run: self.engine.operations - operations_before,
            tables: self
                .engine
                .schema
                .tables
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            views: self
                .engine
                .schema
                .views
                .iter()
                .map(|v| v.name.clone())
                .collect(),
            tenants: self
                .engine
                .world
                .tenants
                .iter()
                .zip(&self.engine.world.rows)
                .map(|(t, rows)| TenantSummary {
                    value: t.value.clone(),
                    role: t.role.clone(),
                    acts: t.id.is_some(),
                    rows_per_table: *rows,
                })
                .collect(),
            guard_findings: self.guard_findings.clone(),
            counterexample,
            notes: self.notes(),
            coverage: self.coverage(),
            static_findings: self.static_findings.clone(),
            static_skipped: self.static_skipped.clone(),
            elapsed: started.elapsed(),
        })
    }

    /// Up to `cases` random cases; the first that shows a violation is shrunk and
    /// returned with the number of cases run.
    async fn random_cases(&mut self, cases: u32) -> Result<(u32, Option<Counterexample>)> {
        for case in 1..=cases {
            let mut tree = self.strategy.new_tree(&mut self.runner).map_err(|reason| {
                Error::IsolationSetup {
                    reason: format!("generating a case: {reason}"),
                }
            })?;
            let first = self.engine.run_case(&tree.current()).await?;
            if first.violations.is_empty() {
                continue;
            }
            let original_steps = tree.current().len();
            let (best, shrink_runs) = self.shrink(&mut tree, first).await?;
            let counterexample = Counterexample {
                case,
                original_steps,
                shrink_runs,
                steps: best.steps,
                violations: best.violations,
            };
            return Ok((case, Some(counterexample)));
        }
        Ok((cases, None))
    }

    /// proptest's shrinking, run against the server: simplify while the case still
    /// fails, complicate back when a simpler one passes, at most [`MAX_SHRINK_RUNS`]
    /// runs. The smallest failing run, and how many runs it took.
    async fn shrink(
        &mut self,
        tree: &mut impl ValueTree<Value = Vec<Op>>,
        first: engine::CaseRun,
    ) -> Result<(engine::CaseRun, u32)> {
        let mut best = first;
        let mut shrink_runs = 0;
        if !tree.simplify() {
            return Ok((best, shrink_runs));
        }
        while shrink_runs < MAX_SHRINK_RUNS {
            shrink_runs += 1;
            let candidate = self.engine.run_case(&tree.current()).await?;
            let more = if candidate.violations.is_empty() {
                tree.complicate()
            } else {
                best = candidate;
                tree.simplify()
            };
            if !more {
                break;
            }
        }
        Ok((best, shrink_runs))
    }

    /// The coverage sweep after clean random cases: whatever no two tenants have read
    /// yet is read by two tenants and with no tenant, one operation per case (already
    /// minimal), numbered after the `cases_run` random ones.
    async fn coverage_sweep(&mut self, cases_run: u32) -> Result<Option<Counterexample>> {
        let mut sweep_case = cases_run;
        for (target, name) in self.engine.sweep_targets() {
            if self
                .engine
                .reads
                .get(&name)
                .is_some_and(|ex| ex.tenants.len() >= 2)
            {
                continue;
            }
            for op in [
                Op::Read { actor: 0, target },
                Op::Read { actor: 1, target },
                Op::NoTenant {
                    bare: Bare::Fresh,
                    via: 0,
                    target,
                },
            ] {
                sweep_case += 1;
                let run = self.engine.run_case(std::slice::from_ref(&op)).await?;
                if !run.violations.is_empty() {
                    return Ok(Some(Counterexample {
                        case: sweep_case,
                        original_steps: 1,
                        shrink_runs: 0,
                        steps: run.steps,
                        violations: run.violations,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// What was exercised of everything found, and why not.
    fn coverage(&self) -> Vec<Coverage> {
        let engine = &self.engine;
        let excluded = |name: &str| is_excluded(&self.exclude, name);
        let entry = |name: &str, kind: RelationKind, status: CoverageStatus| {
            let ex = engine.reads.get(name);
            Coverage {
                name: name.to_owned(),
                kind,
                status,
                tenants: ex.map_or(0, |e| e.tenants.len()),
                rows_seen: ex.map_or(0, |e| e.rows),
                rows_written: engine.writes.get(name).copied().unwrap_or(0),
            }
        };
        let by_reads = |name: &str| match engine.reads.get(name) {
            Some(ex) if !ex.tenants.is_empty() => CoverageStatus::Exercised,
            Some(ex) => CoverageStatus::NotExercised(format!(
                "every read failed: {}",
                ex.first_error.as_deref().unwrap_or("error")
            )),
            None => CoverageStatus::NotExercised("no case read it".to_owned()),
        };
        let mut out = Vec::new();
        for t in &engine.schema.tables {
            let status = if excluded(&t.name) {
                CoverageStatus::Excluded
            } else if !t.app_reads && !t.app_writes {
                CoverageStatus::NoPrivilege
            } else if !t.app_reads {
                // Write-only: exercised when a tenant wrote to it.
                if engine.writes.get(&t.name).is_some_and(|n| *n > 0) {
                    CoverageStatus::Exercised
                } else {
                    CoverageStatus::NotExercised("no tenant could write to it".to_owned())
                }
            } else {
                by_reads(&t.name)
            };
            out.push(entry(&t.name, t.kind, status));
        }
        for v in &engine.schema.views {
            let kind = if v.materialized {
                RelationKind::MaterializedView
            } else {
                RelationKind::View
            };
            let status = if excluded(&v.name) {
                CoverageStatus::Excluded
            } else if !v.app_reads {
                CoverageStatus::NoPrivilege
            } else if let Some(e) = engine.refresh_errors.get(&v.name) {
                CoverageStatus::NotExercised(e.clone())
            } else {
                by_reads(&v.name)
            };
            out.push(entry(&v.name, kind, status));
        }
        for f in &engine.schema.functions {
            let status = if excluded(&f.name) {
                CoverageStatus::Excluded
            } else if let Some(why) = &f.unusable {
                CoverageStatus::NotExercised(why.clone())
            } else {
                by_reads(&f.name)
            };
            let mut c = entry(&f.name, RelationKind::Function, status);
            if f.security_definer {
                c.name.push_str(" SECURITY DEFINER");
            }
            out.push(c);
        }
        for o in &engine.schema.others {
            let status = if excluded(&o.name) {
                CoverageStatus::Excluded
            } else {
                match &o.reason {
                    Some(why) => CoverageStatus::NotExercised(why.clone()),
                    None => CoverageStatus::NoTenantRows,
                }
            };
            out.push(entry(&o.name, o.kind, status));
        }
        out
    }

    /// What the run could not exercise.
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (name, ex) in &self.engine.reads {
            if ex.ok == 0 && ex.failed > 0 {
                notes.push(format!(
                    "every read of {name} failed ({}); its rows were not compared",
                    ex.first_error.as_deref().unwrap_or("error")
                ));
            }
        }
        notes.extend(self.engine.seeded.notes.iter().cloned());
        for (name, ex) in &self.engine.own_inserts {
            let writes = self
                .engine
                .schema
                .tables
                .iter()
                .any(|t| &t.name == name && t.app_writes);
            if ex.ok == 0 && ex.failed > 0 && writes {
                notes.push(format!(
                    "no tenant could insert its own row into {name} ({})",
                    ex.first_error.as_deref().unwrap_or("error")
                ));
            }
        }
        for view in &self.engine.schema.views {
            if !view.security_invoker && !view.materialized {
                notes.push(format!(
                    "view {} runs with its owner's rights (no security_invoker)",
                    view.name
                ));
            }
        }
        notes
    }

    /// Deletes the seeded rows and closes the pools.
    ///
    /// # Errors
    /// [`Error::IsolationQuery`] when the delete fails (the rows stay).
    pub async fn cleanup(self) -> Result<()> {
        let mut engine = self.engine;
        engine.conns.serial.close();
        engine.conns.concurrent.close();
        let cleaned = seed::cleanup(&engine.conns.admin, &engine.schema, &engine.seeded).await;
        // Materialized views lose the seeded rows too.
        engine.refresh_materialized_views().await;
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_expand_deterministically_and_differ() {
        assert_eq!(chacha_seed(7), chacha_seed(7));
        assert_ne!(chacha_seed(7), chacha_seed(8));
        assert_ne!(chacha_seed(0), [0u8; 32]);
    }

    #[test]
    fn config_debug_hides_connection_strings() {
        let config = IsolationConfig {
            admin_conninfo: "host=x password=hunter2".to_owned(),
            app_conninfo: "host=x password=swordfish".to_owned(),
            ..IsolationConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
        assert!(shown.contains("tenant_id"));
    }
}
