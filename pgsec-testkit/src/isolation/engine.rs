//! Runs operations as the application role and compares what comes back with the
//! model: a tenant sees exactly its own rows, writes only its own rows, cannot hand a
//! row to another tenant, and sees no tenant rows when no tenant is set.
//!
//! Reads commit (so whatever session state a policy leaves behind reaches the next
//! tenant on the same pooled connection); writes always roll back, so the seeded data
//! never changes and every case starts from the same rows.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use pgsec_client::{SettingName, TenantId, TenantPool, TenantTx};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use super::ops::{Bare, Op, Target};
use super::report::{LeakedRow, Step, Violation, ViolationKind};
use super::schema::{Arg, FkTarget, IdKind, Schema};
use super::seed::{Identity, InsertPlan, SeedRow, Seeded};
use super::sql;
use super::tenants::World;
use crate::{Error, Result};

/// A row read from a tenant table.
#[derive(Debug, Clone)]
struct TableRow {
    id: Identity,
    tenant: Option<String>,
    text: String,
}

/// What a select returned.
#[derive(Debug)]
enum Rows {
    Table(Vec<TableRow>),
    View(Vec<String>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Table(r) => r.len(),
            Rows::View(r) => r.len(),
        }
    }
}

/// Per-table statements, built once.
#[derive(Debug)]
struct TableSql {
    select: String,
    plan: InsertPlan,
    insert: String,
    touch: String,
    delete_all: String,
    /// `UPDATE .. SET tenant = $1` (and the other columns of composite foreign keys
    /// that include the tenant column, so the rows stay consistent) with no WHERE;
    /// `moving_fks` are those keys (indexes into the table's keys).
    set_all: String,
    moving_fks: Vec<usize>,
}

/// Counts of what could be exercised, for the report's notes and coverage.
#[derive(Debug, Default, Clone)]
pub(crate) struct Exercise {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) first_error: Option<String>,
    /// Tenants whose read succeeded.
    pub(crate) tenants: std::collections::BTreeSet<usize>,
    /// Rows those reads returned.
    pub(crate) rows: u64,
}

impl Exercise {
    fn record<T>(&mut self, result: &std::result::Result<T, tokio_postgres::Error>) {
        match result {
            Ok(_) => self.ok += 1,
            Err(e) => {
                self.failed += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(error_text(e));
                }
            }
        }
    }
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The outcome of one case.
#[derive(Debug, Default)]
pub(crate) struct CaseRun {
    pub(crate) steps: Vec<Step>,
    pub(crate) violations: Vec<Violation>,
}

/// Connections the engine uses.
pub(crate) struct Connections {
    pub(crate) admin: Client,
    pub(crate) admin_is_superuser: bool,
    /// Application role, never sets the tenant.
    pub(crate) fresh: Client,
    /// Application role, for tenant switches as a pool that does not reset sessions
    /// would run them (deadpool's `Fast` recycling, PgBouncer in transaction mode
    /// shared with other clients): TenantPool resets its sessions between tenants, but
    /// a schema must not depend on that.
    pub(crate) raw: Client,
    /// TenantPool of one connection: every sequential operation and every tenant
    /// switch happens on the same pooled session.
    pub(crate) serial: TenantPool,
    /// TenantPool for tenants running at the same time.
    pub(crate) concurrent: TenantPool,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("serial", &self.serial)
            .field("concurrent", &self.concurrent)
            .finish_non_exhaustive()
    }
}

/// A function with one generated argument list.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Index into the schema's functions.
    pub(crate) function: usize,
    /// `SELECT r::text FROM f(args) AS r`.
    stmt: String,
    /// `SELECT * FROM f(args);`.
    shown: String,
}

/// The model and the connections of one run.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) schema: Schema,
    pub(crate) world: World,
    pub(crate) seeded: Seeded,
    pub(crate) conns: Connections,
    setting: SettingName,
    /// Tenant indexes that act, in the order the strategy indexes them.
    actors: Vec<usize>,
    /// Writable table indexes, in the order the strategy indexes them.
    writable: Vec<usize>,
    sql: Vec<TableSql>,
    view_sql: Vec<String>,
    /// Tables the strategy reads (the application may read them), as table indexes.
    readable: Vec<usize>,
    /// Views the strategy reads, as view indexes.
    readable_views: Vec<usize>,
    /// Function calls the strategy makes.
    pub(crate) calls: Vec<Call>,
    /// `own[table][tenant]`: seeded rows of that tenant a read of that table returns.
    own: Vec<Vec<Vec<(Identity, String)>>>,
    /// Seeded rows of the plain plan: a tenant must see all of its own.
    plain: std::collections::BTreeSet<Identity>,
    /// `own_total[table][tenant]`: every row of the table with that tenant's id.
    own_total: Vec<Vec<u64>>,
    /// `oracle[tenant][output]`, the last entry for "no tenant": the sorted rows a view
    /// (outputs `0..views`) or a call (outputs `views..`) shows over that tenant's rows
    /// alone; `None` when the admin could not compute it.
    oracle: Vec<Vec<Option<Vec<String>>>>,
    counter: u64,
    pub(crate) operations: u64,
    pub(crate) reads: BTreeMap<String, Exercise>,
    pub(crate) own_inserts: BTreeMap<String, Exercise>,
    /// Rows written (inserted, updated, deleted; rolled back) per table.
    pub(crate) writes: BTreeMap<String, u64>,
    /// Materialized views whose refresh failed, with the error.
    pub(crate) refresh_errors: BTreeMap<String, String>,
}

fn pool_error(source: pgsec_client::Error) -> Error {
    Error::IsolationPool { source }
}

impl Engine {
    pub(crate) fn new(
        schema: Schema,
        world: World,
        seeded: Seeded,
        conns: Connections,
        setting: SettingName,
        excluded: &dyn Fn(&str) -> bool,
    ) -> Result<Self> {
        let actors = world.actors();
        if actors.is_empty() {
            return Err(Error::IsolationSetup {
                reason: "no generated tenant id can begin a TenantPool transaction".to_owned(),
            });
        }
        let writable: Vec<usize> = (0..schema.tables.len())
            .filter(|&t| !schema.tables[t].is_partition)
            .collect();
        let sql = schema
            .tables
            .iter()
            .map(|t| {
                let plan = InsertPlan::new(t);
                let tc = sql::ident(&t.tenant().name);
                let whereid = "WHERE t.tableoid = $1::text::oid AND t.ctid = $2::text::tid";
                let moving_fks: Vec<usize> = t
                    .fks
                    .iter()
                    .enumerate()
                    .filter(|(_, fk)| {
                        fk.columns.contains(&t.tenant_col)
                            && fk.columns.len() > 1
                            && matches!(fk.target, FkTarget::Tenant(_))
                    })
                    .map(|(i, _)| i)
                    .collect();
                let mut sets = vec![format!("{tc} = $1::text::{}", t.tenant().sql_type)];
                let mut n = 1;
                for &f in &moving_fks {
                    for &c in &t.fks[f].columns {
                        if c != t.tenant_col {
                            n += 1;
                            let col = &t.columns[c];
                            sets.push(format!(
                                "{} = ${n}::text::{}",
                                sql::ident(&col.name),
                                col.sql_type
                            ));
                        }
                    }
                }
                TableSql {
                    select: format!(
                        "SELECT t.tableoid, t.ctid::text, t.{tc}::text, t::text FROM {} AS t",
                        t.sql
                    ),
                    insert: plan.sql(t, 1, false),
                    plan,
                    touch: format!("UPDATE {} AS t SET {tc} = t.{tc} {whereid}", t.sql),
                    delete_all: format!("DELETE FROM {}", t.sql),
                    set_all: format!("UPDATE {} SET {}", t.sql, sets.join(", ")),
                    moving_fks,
                }
            })
            .collect();
        let view_sql = schema
            .views
            .iter()
            .map(|v| format!("SELECT v::text FROM {} AS v", v.sql))
            .collect();
        let mut readable: Vec<usize> = (0..schema.tables.len())
            .filter(|&t| schema.tables[t].app_reads && !excluded(&schema.tables[t].name))
            .collect();
        if readable.is_empty() {
            // Nothing the application may read: its reads show the refusals.
            readable = (0..schema.tables.len()).collect();
        }
        let readable_views = (0..schema.views.len())
            .filter(|&v| schema.views[v].app_reads && !excluded(&schema.views[v].name))
            .collect();
        let calls = calls(&schema, &world, &actors, excluded);
        Ok(Self {
            actors,
            writable,
            sql,
            view_sql,
            readable,
            readable_views,
            calls,
            own: Vec::new(),
            plain: seeded
                .rows
                .iter()
                .flatten()
                .flatten()
                .filter(|r| r.plain)
                .map(|r| r.id.clone())
                .collect(),
            own_total: Vec::new(),
            oracle: Vec::new(),
            counter: 1_000_000,
            operations: 0,
            reads: BTreeMap::new(),
            own_inserts: BTreeMap::new(),
            writes: BTreeMap::new(),
            refresh_errors: BTreeMap::new(),
            schema,
            world,
            seeded,
            conns,
            setting,
        })
    }

    /// Reads what the model compares with: each tenant's rows per table, and what
    /// each view shows per tenant.
    pub(crate) async fn load(&mut self) -> Result<()> {
        self.load_own_rows().await?;
        self.compute_oracles().await
    }

    /// For each readable table, the seeded rows of each tenant that a select of it
    /// returns (partitions return their share of the parent's rows).
    async fn load_own_rows(&mut self) -> Result<()> {
        let mut seeded_owner: BTreeMap<&Identity, (usize, &SeedRow)> = BTreeMap::new();
        for per_table in &self.seeded.rows {
            for (k, rows) in per_table.iter().enumerate() {
                for row in rows {
                    seeded_owner.insert(&row.id, (k, row));
                }
            }
        }
        let mut own = Vec::with_capacity(self.schema.tables.len());
        let mut own_total = Vec::with_capacity(self.schema.tables.len());
        for (t, table) in self.schema.tables.iter().enumerate() {
            let rows = self
                .conns
                .admin
                .query_typed(&self.sql[t].select, &[])
                .await
                .map_err(|source| Error::IsolationQuery {
                    step: format!("reading {} as the admin role", table.name),
                    source,
                })?;
            let mut per_tenant = vec![Vec::new(); self.world.tenants.len()];
            let mut totals = vec![0u64; self.world.tenants.len()];
            for row in rows.iter().map(table_row) {
                if let Some((k, seed)) = seeded_owner.get(&row.id) {
                    per_tenant[*k].push((row.id.clone(), seed.text.clone()));
                }
                if let Some(k) = self
                    .world
                    .tenants
                    .iter()
                    .position(|x| Some(&x.value) == row.tenant.as_ref())
                {
                    totals[k] += 1;
                }
            }
            own.push(per_tenant);
            own_total.push(totals);
        }
        self.own = own;
        self.own_total = own_total;
        Ok(())
    }

    /// What each view shows over one tenant's rows alone: the admin deletes every
    /// other tenant's rows inside a transaction it rolls back, sets the tenant, and
    /// reads the view (a materialized view through its defining query).
    async fn compute_oracles(&mut self) -> Result<()> {
        let n = self.world.tenants.len();
        let mut oracle = Vec::with_capacity(n + 1);
        if self.schema.views.is_empty() && self.calls.is_empty() {
            self.oracle = vec![Vec::new(); n + 1];
            return Ok(());
        }
        let mut order = self.schema.seed_order();
        order.reverse();
        let admin = &self.conns.admin;
        for k in 0..=n {
            // The last round is "no tenant".
            let tenant = self.world.tenants.get(k).map(|t| t.value.clone());
            let err = |source| Error::IsolationQuery {
                step: "computing what the views should show (as the admin role)".to_owned(),
                source,
            };
            admin.batch_execute("BEGIN").await.map_err(err)?;
            let prepared: std::result::Result<(), tokio_postgres::Error> = async {
                if self.conns.admin_is_superuser {
                    admin
                        .batch_execute("SET LOCAL session_replication_role = replica")
                        .await?;
                }
                let name = self.setting.as_str();
                let value = tenant.clone().unwrap_or_default();
                admin
                    .query_typed(
                        "SELECT pg_catalog.set_config($1, $2, true)",
                        &[(&name, Type::TEXT), (&value, Type::TEXT)],
                    )
                    .await?;
                for &t in &order {
                    let table = &self.schema.tables[t];
                    let stmt = format!(
                        "DELETE FROM {} AS t WHERE t.{}::text IS DISTINCT FROM $1",
                        table.sql,
                        sql::ident(&table.tenant().name)
                    );
                    admin.query_typed(&stmt, &[(&tenant, Type::TEXT)]).await?;
                }
                Ok(())
            }
            .await;
            if let Err(source) = prepared {
                let _ = admin.batch_execute("ROLLBACK").await;
                return Err(err(source));
            }
            let views = self.schema.views.len();
            let mut column = vec![None; views + self.calls.len()];
            for (v, slot) in column.iter_mut().enumerate() {
                let stmt = match self.schema.views.get(v) {
                    Some(view) if view.materialized => {
                        format!("SELECT v::text FROM ({}) AS v", view.definition)
                    }
                    Some(_) => self.view_sql[v].clone(),
                    None => self.calls[v - views].stmt.clone(),
                };
                admin
                    .batch_execute("SAVEPOINT view_oracle")
                    .await
                    .map_err(err)?;
                match admin.query_typed(&stmt, &[]).await {
                    Ok(rows) => {
                        let mut texts: Vec<String> = rows.iter().map(view_row).collect();
                        texts.sort_unstable();
                        *slot = Some(texts);
                        admin
                            .batch_execute("RELEASE view_oracle")
                            .await
                            .map_err(err)?;
                    }
                    Err(_) => {
                        admin
                            .batch_execute("ROLLBACK TO view_oracle")
                            .await
                            .map_err(err)?;
                    }
                }
            }
            admin.batch_execute("ROLLBACK").await.map_err(err)?;
            oracle.push(column);
        }
        self.oracle = oracle;
        Ok(())
    }

    pub(crate) fn actor_count(&self) -> usize {
        self.actors.len()
    }

    pub(crate) fn writable_count(&self) -> usize {
        self.writable.len()
    }

    fn actor(&self, index: usize) -> usize {
        self.actors[index % self.actors.len()]
    }

    fn tenant_id(&self, tenant: usize) -> Result<TenantId> {
        self.world.tenants[tenant]
            .id
            .clone()
            .ok_or_else(|| Error::IsolationSetup {
                reason: "internal: a tenant that cannot act was asked to act".to_owned(),
            })
    }

    /// The `index`-th tenant other than `actor`.
    fn other(&self, actor: usize, index: usize) -> usize {
        let n = self.world.tenants.len();
        if n < 2 {
            return actor;
        }
        let k = index % (n - 1);
        if k >= actor {
            k + 1
        } else {
            k
        }
    }

    fn quoted(&self, tenant: usize) -> String {
        sql::literal(&self.world.tenants[tenant].value)
    }

    fn target_name(&self, target: Target) -> &str {
        match target {
            Target::Table(i) => &self.schema.tables[i % self.schema.tables.len()].name,
            Target::View(i) => &self.schema.views[i % self.schema.views.len().max(1)].name,
            Target::Function(i) => {
                &self.schema.functions[self.calls[i % self.calls.len().max(1)].function].name
            }
        }
    }

    /// A target of the strategy (indexes over what the application may read) as a
    /// target of the schema (indexes into its tables, views and calls).
    fn resolve(&self, target: Target) -> Target {
        match target {
            Target::Table(i) => Target::Table(self.readable[i % self.readable.len()]),
            Target::View(i) if !self.readable_views.is_empty() => {
                Target::View(self.readable_views[i % self.readable_views.len()])
            }
            Target::Function(i) if !self.calls.is_empty() => Target::Function(i % self.calls.len()),
            // Nothing of that kind: read the first table instead.
            Target::View(_) | Target::Function(_) => Target::Table(self.readable[0]),
        }
    }

    /// How a read transaction of `target` ends: function calls roll back (a function
    /// may write), other reads commit.
    fn end_word(target: Target) -> &'static str {
        match target {
            Target::Function(_) => "ROLLBACK",
            _ => "COMMIT",
        }
    }

    pub(crate) fn readable_count(&self) -> usize {
        self.readable.len()
    }

    pub(crate) fn readable_view_count(&self) -> usize {
        self.readable_views.len()
    }

    /// The strategy-space targets of everything readable, for the coverage sweep.
    pub(crate) fn sweep_targets(&self) -> Vec<(Target, String)> {
        let mut out = Vec::new();
        for i in 0..self.readable.len() {
            out.push((
                Target::Table(i),
                self.target_name(self.resolve(Target::Table(i))).to_owned(),
            ));
        }
        for i in 0..self.readable_views.len() {
            out.push((
                Target::View(i),
                self.target_name(self.resolve(Target::View(i))).to_owned(),
            ));
        }
        for i in 0..self.calls.len() {
            out.push((
                Target::Function(i),
                self.target_name(Target::Function(i)).to_owned(),
            ));
        }
        out
    }

    /// Refreshes the materialized views over tenant tables, as production would after
    /// new rows (REFRESH runs the query with the rights of the view's owner). Errors
    /// are kept for the coverage report.
    pub(crate) async fn refresh_materialized_views(&mut self) {
        for view in self.schema.views.iter().filter(|v| v.materialized) {
            let stmt = format!("REFRESH MATERIALIZED VIEW {}", view.sql);
            if let Err(e) = self.conns.admin.batch_execute(&stmt).await {
                self.refresh_errors.insert(
                    view.name.clone(),
                    format!("refresh failed: {}", error_text(&e)),
                );
            }
        }
    }

    fn record_write(&mut self, name: &str, rows: u64) {
        *self.writes.entry(name.to_owned()).or_default() += rows;
    }

    fn target_sql(&self, target: Target) -> (&str, String) {
        match target {
            Target::Table(i) => {
                let i = i % self.schema.tables.len();
                (
                    &self.sql[i].select,
                    format!("SELECT * FROM {};", self.schema.tables[i].sql),
                )
            }
            Target::View(i) => {
                let i = i % self.view_sql.len().max(1);
                (
                    &self.view_sql[i],
                    format!("SELECT * FROM {};", self.schema.views[i].sql),
                )
            }
            Target::Function(i) => {
                let call = &self.calls[i % self.calls.len().max(1)];
                (&call.stmt, call.shown.clone())
            }
        }
    }

    fn begin_line(&self, tenant: usize) -> String {
        format!(
            "BEGIN; SELECT pg_catalog.set_config({}, {}, true);",
            sql::literal(self.setting.as_str()),
            self.quoted(tenant)
        )
    }

    /// Clears what earlier cases left in the pooled sessions (settings a policy set
    /// with `set_config(.., false)`), so that a case replays alone as it ran in the
    /// sequence. Statements cached on the connections survive.
    pub(crate) async fn reset_sessions(&mut self, concurrent: bool) -> Result<()> {
        // TenantPool's own reset (what `DISCARD ALL` does, keeping cached statements).
        self.conns
            .raw
            .batch_execute(pgsec_client::SESSION_RESET_SQL)
            .await
            .map_err(|source| Error::IsolationQuery {
                step: "resetting the raw session between cases".to_owned(),
                source,
            })?;
        let first = self.tenant_id(self.actors[0])?;
        let serial = self.conns.serial.begin(&first).await.map_err(pool_error)?;
        self.reset_one(serial, &first).await?;
        if concurrent {
            let txs = join_all((0..3).map(|_| self.conns.concurrent.begin(&first))).await;
            for tx in txs {
                let tx = tx.map_err(pool_error)?;
                self.reset_one(tx, &first).await?;
            }
        }
        Ok(())
    }

    async fn reset_one(&self, tx: TenantTx, tenant: &TenantId) -> Result<()> {
        let name = self.setting.as_str();
        let value = tenant.as_setting_value();
        let params: [(&(dyn ToSql + Sync), Type); 2] = [(&name, Type::TEXT), (&value, Type::TEXT)];
        let (reset, set) = futures_util::join!(
            tx.batch_execute("RESET ALL"),
            tx.query_typed("SELECT pg_catalog.set_config($1, $2, true)", &params),
        );
        let err = |source| Error::IsolationQuery {
            step: "resetting a pooled session between cases".to_owned(),
            source,
        };
        reset.map_err(err)?;
        set.map_err(err)?;
        tx.commit().await.map_err(pool_error)
    }

    /// Runs one case.
    pub(crate) async fn run_case(&mut self, ops: &[Op]) -> Result<CaseRun> {
        self.reset_sessions(ops.iter().any(Op::is_concurrent))
            .await?;
        let mut run = CaseRun::default();
        for (i, op) in ops.iter().enumerate() {
            self.operations += 1;
            self.run_op(op, i + 1, &mut run).await?;
        }
        Ok(run)
    }

    async fn read_tx(
        &self,
        tx: &TenantTx,
        target: Target,
    ) -> std::result::Result<Rows, tokio_postgres::Error> {
        let (stmt, _) = self.target_sql(target);
        let rows = tx.query_typed(stmt, &[]).await?;
        Ok(parse_rows(target, &rows))
    }

    /// One committed read transaction for `tenant` on the raw connection, as
    /// [`Engine::begin_line`] prints it.
    async fn read_raw(
        &self,
        tenant: usize,
        target: Target,
    ) -> std::result::Result<Rows, tokio_postgres::Error> {
        let raw = &self.conns.raw;
        raw.batch_execute(&self.begin_line(tenant)).await?;
        let (stmt, _) = self.target_sql(target);
        let rows = raw.query_typed(stmt, &[]).await;
        // COMMIT ends an aborted transaction too (as a rollback).
        raw.batch_execute(Self::end_word(target)).await?;
        Ok(parse_rows(target, &rows?))
    }

    async fn run_op(&mut self, op: &Op, number: usize, run: &mut CaseRun) -> Result<()> {
        let op = &match op.clone() {
            Op::Read { actor, target } => Op::Read {
                actor,
                target: self.resolve(target),
            },
            Op::NoTenant { bare, via, target } => Op::NoTenant {
                bare,
                via,
                target: self.resolve(target),
            },
            Op::Switch {
                first,
                second,
                target,
            } => Op::Switch {
                first,
                second,
                target: self.resolve(target),
            },
            Op::Concurrent { actors, target } => Op::Concurrent {
                actors,
                target: self.resolve(target),
            },
            other => other,
        };
        match op {
            Op::Read { actor, target } => {
                let a = self.actor(*actor);
                let tx = self.begin_serial(a).await?;
                let result = self.read_tx(&tx, *target).await;
                if matches!(target, Target::Function(_)) {
                    let _ = tx.rollback().await;
                } else {
                    let _ = tx.commit().await;
                }
                let mut sql = vec![self.begin_line(a)];
                self.check_read(number, Some(a), *target, &result, &mut sql, run);
                sql.push(format!("{};", Self::end_word(*target)));
                run.steps.push(Step {
                    number,
                    title: format!(
                        "as tenant {} (TenantPool, pooled connection)",
                        self.quoted(a)
                    ),
                    sql,
                });
            }
            Op::Switch {
                first,
                second,
                target,
            } => {
                // The second tenant is another one whenever there are two.
                let n = self.actors.len();
                let (a, b) = (
                    self.actor(*first),
                    self.actor(first % n + 1 + second % n.saturating_sub(1).max(1)),
                );
                let mut sql = Vec::new();
                for tenant in [a, b] {
                    let result = self.read_raw(tenant, *target).await;
                    sql.push(format!("-- tenant {}", self.quoted(tenant)));
                    sql.push(self.begin_line(tenant));
                    self.check_read(number, Some(tenant), *target, &result, &mut sql, run);
                    sql.push(format!("{};", Self::end_word(*target)));
                }
                run.steps.push(Step {
                    number,
                    title: format!(
                        "tenant switch on one connection of a pool that does not reset \
                         sessions: {} then {}",
                        self.quoted(a),
                        self.quoted(b)
                    ),
                    sql,
                });
            }
            Op::Concurrent { actors, target } => {
                let tenants: Vec<usize> = actors.iter().map(|a| self.actor(*a)).collect();
                let ids = tenants
                    .iter()
                    .map(|t| self.tenant_id(*t))
                    .collect::<Result<Vec<_>>>()?;
                let begun = join_all(ids.iter().map(|id| self.conns.concurrent.begin(id))).await;
                let txs = begun
                    .into_iter()
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(pool_error)?;
                let results = join_all(txs.iter().map(|tx| self.read_tx(tx, *target))).await;
                if matches!(target, Target::Function(_)) {
                    join_all(txs.into_iter().map(TenantTx::rollback)).await;
                } else {
                    join_all(txs.into_iter().map(TenantTx::commit)).await;
                }
                let mut sql = Vec::new();
                for (tenant, result) in tenants.iter().zip(&results) {
                    sql.push(format!("-- connection of tenant {}", self.quoted(*tenant)));
                    sql.push(self.begin_line(*tenant));
                    self.check_read(number, Some(*tenant), *target, result, &mut sql, run);
                    sql.push(format!("{};", Self::end_word(*target)));
                }
                let names: Vec<String> = tenants.iter().map(|t| self.quoted(*t)).collect();
                run.steps.push(Step {
                    number,
                    title: format!(
                        "tenants {} at the same time, each on its own pooled connection \
                         (transactions open together)",
                        names.join(", ")
                    ),
                    sql,
                });
            }
            Op::NoTenant { bare, via, target } => {
                self.no_tenant(*bare, *via, *target, number, run).await?
            }
            Op::InsertOwn { actor, table } => {
                let a = self.actor(*actor);
                self.insert(number, a, a, *table, run).await?;
            }
            Op::InsertForeign {
                actor,
                victim,
                table,
            } => {
                let a = self.actor(*actor);
                let v = self.other(a, *victim);
                self.insert(number, a, v, *table, run).await?;
            }
            Op::UpdateOwn { actor, table, row } => {
                let a = self.actor(*actor);
                self.update_own(number, a, *table, *row, run).await?;
            }
            Op::UpdateAll { actor, table } => {
                let a = self.actor(*actor);
                self.write_all(number, WriteAll::Update, a, *table, run)
                    .await?;
            }
            Op::MoveAll {
                actor,
                victim,
                table,
            } => {
                let a = self.actor(*actor);
                let v = self.other(a, *victim);
                self.write_all(number, WriteAll::Move(v), a, *table, run)
                    .await?;
            }
            Op::DeleteAll { actor, table } => {
                let a = self.actor(*actor);
                self.write_all(number, WriteAll::Delete, a, *table, run)
                    .await?;
            }
        }
        Ok(())
    }

    async fn begin_serial(&self, tenant: usize) -> Result<TenantTx> {
        let id = self.tenant_id(tenant)?;
        self.conns.serial.begin(&id).await.map_err(pool_error)
    }

    async fn no_tenant(
        &mut self,
        bare: Bare,
        via: usize,
        target: Target,
        number: usize,
        run: &mut CaseRun,
    ) -> Result<()> {
        let (stmt, shown) = self.target_sql(target);
        let stmt = stmt.to_owned();
        let mut sql = Vec::new();
        let (title, result) = match bare {
            Bare::Fresh => {
                let client = &self.conns.fresh;
                let (begin, rows, rollback) = futures_util::join!(
                    client.batch_execute("BEGIN"),
                    client.query_typed(&stmt, &[]),
                    client.batch_execute("ROLLBACK"),
                );
                let err = |source| Error::IsolationQuery {
                    step: "a transaction without a tenant on a fresh connection".to_owned(),
                    source,
                };
                begin.map_err(err)?;
                rollback.map_err(err)?;
                sql.push("BEGIN;".to_owned());
                (
                    format!(
                        "no tenant: a connection of the application role that never set {}",
                        self.setting
                    ),
                    rows.map(|r| parse_rows(target, &r)),
                )
            }
            Bare::Pooled => {
                let a = self.actor(via);
                let tx = self.begin_serial(a).await?;
                let name = self.setting.as_str();
                let empty = "";
                let cleared = tx
                    .query_typed(
                        "SELECT pg_catalog.set_config($1, $2, true)",
                        &[(&name, Type::TEXT), (&empty, Type::TEXT)],
                    )
                    .await;
                let rows = match cleared {
                    Ok(_) => tx
                        .query_typed(&stmt, &[])
                        .await
                        .map(|r| parse_rows(target, &r)),
                    Err(e) => Err(e),
                };
                let _ = tx.rollback().await;
                sql.push(self.begin_line(a));
                sql.push(format!(
                    "SELECT pg_catalog.set_config({}, '', true);",
                    sql::literal(self.setting.as_str())
                ));
                (
                    format!(
                        "no tenant: the pooled connection with {} emptied (as between tenant \
                         transactions)",
                        self.setting
                    ),
                    rows,
                )
            }
        };
        sql.push(shown);
        let name = self.target_name(target).to_owned();
        match &result {
            Err(e) => sql.push(format!("-- error: {}", error_text(e))),
            Ok(rows) => {
                sql.push(format!("-- {} row{}", rows.len(), plural(rows.len())));
                let leaked = self.leaks(None, target, rows);
                if !leaked.is_empty() {
                    run.violations.push(Violation {
                        predicted_by: Vec::new(),
                        step: number,
                        kind: ViolationKind::RowsWithoutTenant,
                        relation: name,
                        tenant: None,
                        message: if matches!(target, Target::View(_)) {
                            format!(
                                "with no tenant set, the view returned {} row{} it does not \
                                 show over no tenant's rows",
                                leaked.len(),
                                plural(leaked.len())
                            )
                        } else {
                            format!(
                                "with no tenant set, {} row{} of tenants came back",
                                leaked.len(),
                                plural(leaked.len())
                            )
                        },
                        rows: leaked,
                    });
                }
            }
        }
        sql.push("ROLLBACK;".to_owned());
        run.steps.push(Step { number, title, sql });
        Ok(())
    }

    /// Rows of `rows` that `tenant` (or no tenant) must not see.
    fn leaks(&self, tenant: Option<usize>, target: Target, rows: &Rows) -> Vec<LeakedRow> {
        let me = tenant.map(|t| self.world.tenants[t].value.as_str());
        match rows {
            Rows::Table(rows) => rows
                .iter()
                .filter(|r| r.tenant.is_some() && r.tenant.as_deref() != me)
                .map(|r| LeakedRow {
                    owner: r.tenant.clone(),
                    row: r.text.clone(),
                })
                .collect(),
            Rows::View(rows) => {
                // Calls must name whose row it is: a function may return what no
                // tenant owns (now(), a counter), which is not a leak.
                let (v, attributed) = match target {
                    Target::View(v) => (v % self.schema.views.len().max(1), false),
                    Target::Function(c) => {
                        (self.schema.views.len() + c % self.calls.len().max(1), true)
                    }
                    Target::Table(_) => return Vec::new(),
                };
                let k = tenant.unwrap_or(self.world.tenants.len());
                let Some(Some(expected)) = self.oracle.get(k).and_then(|o| o.get(v)) else {
                    return Vec::new();
                };
                let mut remaining = expected.clone();
                let mut leaked = Vec::new();
                let mut sorted = rows.clone();
                sorted.sort_unstable();
                for row in sorted {
                    match remaining.binary_search(&row) {
                        Ok(at) => {
                            remaining.remove(at);
                        }
                        Err(_) => {
                            // Whose row is it? The first tenant whose view shows it.
                            let owner = (0..self.world.tenants.len())
                                .filter(|&o| Some(o) != tenant)
                                .find(|&o| {
                                    matches!(
                                        self.oracle[o].get(v),
                                        Some(Some(rows)) if rows.binary_search(&row).is_ok()
                                    )
                                })
                                .map(|o| self.world.tenants[o].value.clone());
                            if attributed && owner.is_none() {
                                continue;
                            }
                            leaked.push(LeakedRow { owner, row });
                        }
                    }
                }
                leaked
            }
        }
    }

    /// Checks a tenant's read and appends the result lines.
    fn check_read(
        &mut self,
        number: usize,
        tenant: Option<usize>,
        target: Target,
        result: &std::result::Result<Rows, tokio_postgres::Error>,
        sql: &mut Vec<String>,
        run: &mut CaseRun,
    ) {
        let (_, shown) = self.target_sql(target);
        sql.push(shown);
        let name = self.target_name(target).to_owned();
        let exercise = self.reads.entry(name.clone()).or_default();
        exercise.record(result);
        if let (Ok(rows), Some(t)) = (result, tenant) {
            exercise.tenants.insert(t);
            exercise.rows += rows.len() as u64;
        }
        let rows = match result {
            Err(e) => {
                sql.push(format!("-- error: {}", error_text(e)));
                return;
            }
            Ok(rows) => rows,
        };
        sql.push(format!("-- {} row{}", rows.len(), plural(rows.len())));
        let Some(me) = tenant else { return };
        let leaked = self.leaks(tenant, target, rows);
        if !leaked.is_empty() {
            run.violations.push(Violation {
                predicted_by: Vec::new(),
                step: number,
                kind: ViolationKind::ForeignRowsVisible,
                relation: name.clone(),
                tenant: Some(self.world.tenants[me].value.clone()),
                message: format!(
                    "tenant {} saw {} row{} {}",
                    self.quoted(me),
                    leaked.len(),
                    plural(leaked.len()),
                    if matches!(target, Target::View(_)) {
                        "that the view does not show over its own rows alone"
                    } else {
                        "of other tenants"
                    }
                ),
                rows: leaked,
            });
        }
        if let (Target::Table(t), Rows::Table(rows)) = (target, rows) {
            let t = t % self.schema.tables.len();
            let seen: std::collections::BTreeSet<&Identity> = rows.iter().map(|r| &r.id).collect();
            let hidden: Vec<LeakedRow> = self.own[t][me]
                .iter()
                .filter(|(id, _)| !seen.contains(id) && self.plain.contains(id))
                .map(|(_, text)| LeakedRow {
                    owner: Some(self.world.tenants[me].value.clone()),
                    row: text.clone(),
                })
                .collect();
            if !hidden.is_empty() {
                run.violations.push(Violation {
                    predicted_by: Vec::new(),
                    step: number,
                    kind: ViolationKind::OwnRowsHidden,
                    relation: name,
                    tenant: Some(self.world.tenants[me].value.clone()),
                    message: format!(
                        "tenant {} did not see {} of its own row{}",
                        self.quoted(me),
                        hidden.len(),
                        plural(hidden.len())
                    ),
                    rows: hidden,
                });
            }
        }
    }

    /// Inserts a row owned by `owner` as `actor`. Own rows are read back in the same
    /// transaction; either way it rolls back.
    async fn insert(
        &mut self,
        number: usize,
        actor: usize,
        owner: usize,
        table: usize,
        run: &mut CaseRun,
    ) -> Result<()> {
        let t = self.writable[table % self.writable.len()];
        self.counter += 1;
        let values = self.seeded.values(
            &self.schema,
            &self.sql[t].plan,
            t,
            (owner, &self.world.tenants[owner].value),
            self.counter,
            0,
        );
        let tbl = &self.schema.tables[t];
        let name = tbl.name.clone();
        let mut sql = vec![self.begin_line(actor)];
        let title = if actor == owner {
            format!(
                "as tenant {}: insert a row of its own, read back",
                self.quoted(actor)
            )
        } else {
            format!(
                "as tenant {}: insert a row carrying tenant id {}",
                self.quoted(actor),
                self.quoted(owner)
            )
        };
        let values = match values {
            Ok(v) => v,
            Err(reason) => {
                sql.push(format!("-- skipped: {reason}"));
                run.steps.push(Step { number, title, sql });
                return Ok(());
            }
        };
        sql.push(self.sql[t].plan.display(tbl, &values));
        let tx = self.begin_serial(actor).await?;
        let result = execute(&tx, &self.sql[t].insert, &values).await;
        if actor == owner {
            self.own_inserts
                .entry(name.clone())
                .or_default()
                .record(&result);
        }
        match &result {
            Err(e) => sql.push(format!("-- error: {}", error_text(e))),
            Ok(n) => {
                sql.push(format!("-- {n} row{} inserted", plural(*n as usize)));
                self.record_write(&name, *n);
            }
        }
        if actor != owner {
            if let Ok(n) = result {
                if n > 0 {
                    run.violations.push(Violation {
                        predicted_by: Vec::new(),
                        step: number,
                        kind: ViolationKind::ForeignRowInserted,
                        relation: name,
                        tenant: Some(self.world.tenants[actor].value.clone()),
                        message: format!(
                            "tenant {} inserted a row carrying tenant id {}",
                            self.quoted(actor),
                            self.quoted(owner)
                        ),
                        rows: vec![LeakedRow {
                            owner: Some(self.world.tenants[owner].value.clone()),
                            row: format!(
                                "({})",
                                values
                                    .iter()
                                    .map(|v| v.clone().unwrap_or_default())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            ),
                        }],
                    });
                }
            }
        } else if result.is_ok() {
            let read = self.read_tx(&tx, Target::Table(t)).await;
            self.check_read(number, Some(actor), Target::Table(t), &read, &mut sql, run);
        }
        let _ = tx.rollback().await;
        sql.push("ROLLBACK;".to_owned());
        run.steps.push(Step { number, title, sql });
        Ok(())
    }

    /// Updates the `row`-th seeded row of `actor` without changing it (addressed by
    /// its location, so SELECT policies apply too), then reads the table back in the
    /// same transaction. Rolls back.
    async fn update_own(
        &mut self,
        number: usize,
        actor: usize,
        table: usize,
        row: usize,
        run: &mut CaseRun,
    ) -> Result<()> {
        let t = self.writable[table % self.writable.len()];
        let rows = &self.seeded.rows[t][actor];
        let tbl = &self.schema.tables[t];
        let title = format!(
            "as tenant {}: update one of its own rows",
            self.quoted(actor)
        );
        let mut sql = vec![self.begin_line(actor)];
        if rows.is_empty() {
            sql.push(format!(
                "-- skipped: no seeded row of that tenant in {}",
                tbl.name
            ));
            run.steps.push(Step { number, title, sql });
            return Ok(());
        }
        let target = rows[row % rows.len()].clone();
        let tc = sql::ident(&tbl.tenant().name);
        sql.push(format!("-- the row: {}", target.text));
        sql.push(format!(
            "UPDATE {} SET {tc} = {tc} WHERE tableoid = {} AND ctid = {};",
            tbl.sql,
            target.id.0,
            sql::literal(&target.id.1)
        ));
        let params = vec![Some(target.id.0.to_string()), Some(target.id.1.clone())];
        let tx = self.begin_serial(actor).await?;
        let result = execute(&tx, &self.sql[t].touch, &params).await;
        match &result {
            Err(e) => sql.push(format!("-- error: {}", error_text(e))),
            Ok(n) => {
                sql.push(format!("-- {n} row{} updated", plural(*n as usize)));
                let name = tbl.name.clone();
                self.record_write(&name, *n);
            }
        }
        if result.is_ok() {
            let read = self.read_tx(&tx, Target::Table(t)).await;
            // The updated row has a new location: only leaks count here.
            let mut scratch = CaseRun::default();
            self.check_read(
                number,
                Some(actor),
                Target::Table(t),
                &read,
                &mut sql,
                &mut scratch,
            );
            run.violations.extend(
                scratch
                    .violations
                    .into_iter()
                    .filter(|v| v.kind != ViolationKind::OwnRowsHidden),
            );
        }
        let _ = tx.rollback().await;
        sql.push("ROLLBACK;".to_owned());
        run.steps.push(Step { number, title, sql });
        Ok(())
    }

    /// An UPDATE or DELETE of the whole table, with no WHERE, as `actor`. Rolls back.
    /// Changing more rows than the actor owns, or handing rows to another tenant, is a
    /// violation.
    async fn write_all(
        &mut self,
        number: usize,
        kind: WriteAll,
        actor: usize,
        table: usize,
        run: &mut CaseRun,
    ) -> Result<()> {
        let t = self.writable[table % self.writable.len()];
        let name = self.schema.tables[t].name.clone();
        let owns = self.own_total[t][actor];
        let (title, stmt, shown, params) = self.write_all_statement(kind, actor, t);
        let mut sql = vec![
            self.begin_line(actor),
            format!("-- it owns {owns} row{} of {name}", plural(owns as usize)),
            shown,
        ];
        let tx = self.begin_serial(actor).await?;
        let result = execute(&tx, stmt, &params).await;
        let _ = tx.rollback().await;
        let changed = match &result {
            Err(e) => {
                sql.push(format!("-- error: {}", error_text(e)));
                0
            }
            Ok(n) => {
                let verb = if kind == WriteAll::Delete {
                    "deleted"
                } else {
                    "updated"
                };
                sql.push(format!("-- {n} row{} {verb}", plural(*n as usize)));
                *n
            }
        };
        sql.push("ROLLBACK;".to_owned());
        self.record_write(&name, changed);
        if let Some((kind, message)) = self.write_all_violation(kind, actor, changed, owns) {
            run.violations.push(Violation {
                predicted_by: Vec::new(),
                step: number,
                kind,
                relation: name,
                tenant: Some(self.world.tenants[actor].value.clone()),
                message,
                // The rows themselves are gone with the rollback; name whose they were.
                rows: self.example_foreign_rows(actor, t),
            });
        }
        run.steps.push(Step { number, title, sql });
        Ok(())
    }

    /// The step's title, the prepared statement, the SQL shown in the counterexample
    /// and the statement's parameters of a whole-table write to table `t`.
    fn write_all_statement(
        &self,
        kind: WriteAll,
        actor: usize,
        t: usize,
    ) -> (String, &str, String, Vec<Option<String>>) {
        let tbl = &self.schema.tables[t];
        let to = match kind {
            WriteAll::Delete => {
                return (
                    format!(
                        "as tenant {}: delete every row it may delete",
                        self.quoted(actor)
                    ),
                    self.sql[t].delete_all.as_str(),
                    format!("DELETE FROM {};", tbl.sql),
                    Vec::new(),
                )
            }
            WriteAll::Move(v) => v,
            WriteAll::Update => actor,
        };
        let (sets, params) = self.tenant_assignments(t, to);
        let title = match kind {
            WriteAll::Move(v) => format!(
                "as tenant {}: hand every row it may update to tenant {}",
                self.quoted(actor),
                self.quoted(v)
            ),
            _ => format!(
                "as tenant {}: rewrite every row it may update with its own id",
                self.quoted(actor)
            ),
        };
        (
            title,
            self.sql[t].set_all.as_str(),
            format!("UPDATE {} SET {};", tbl.sql, sets.join(", ")),
            params,
        )
    }

    /// The `SET` list that gives table `t`'s rows to tenant `to`: its tenant column, and
    /// the other columns of each foreign key that follows the tenant (they must name a
    /// parent row of `to`, taken from the seeded rows), shown as SQL and as parameters.
    fn tenant_assignments(&self, t: usize, to: usize) -> (Vec<String>, Vec<Option<String>>) {
        let tbl = &self.schema.tables[t];
        let tc = sql::ident(&tbl.tenant().name);
        let mut sets = vec![format!("{tc} = {}", self.quoted(to))];
        let mut params = vec![Some(self.world.tenants[to].value.clone())];
        for &f in &self.sql[t].moving_fks {
            let fk = &tbl.fks[f];
            let FkTarget::Tenant(j) = fk.target else {
                continue;
            };
            let parent = self.seeded.rows[j][to].first();
            for (pos, &c) in fk.columns.iter().enumerate() {
                if c == tbl.tenant_col {
                    continue;
                }
                let value = parent.and_then(|p| {
                    let col = fk.target_columns.get(pos)?;
                    let at = self.schema.tables[j]
                        .columns
                        .iter()
                        .position(|x| &x.name == col)?;
                    p.values.get(at).cloned().flatten()
                });
                sets.push(format!(
                    "{} = {}",
                    sql::ident(&tbl.columns[c].name),
                    sql::literal_or_null(value.as_deref())
                ));
                params.push(value);
            }
        }
        (sets, params)
    }

    /// The violation, if any, of a whole-table write by `actor` that changed `changed`
    /// rows of a table where it owns `owns`.
    fn write_all_violation(
        &self,
        kind: WriteAll,
        actor: usize,
        changed: u64,
        owns: u64,
    ) -> Option<(ViolationKind, String)> {
        let others = changed.saturating_sub(owns);
        match kind {
            WriteAll::Move(v) if changed > 0 => Some((
                ViolationKind::RowMovedToOtherTenant,
                format!(
                    "tenant {} changed the tenant of {changed} row{} to {}",
                    self.quoted(actor),
                    plural(changed as usize),
                    self.quoted(v)
                ),
            )),
            WriteAll::Update if changed > owns => Some((
                ViolationKind::ForeignRowChanged,
                format!(
                    "tenant {} updated {changed} rows but owns {owns}: {others} row{} of other \
                     tenants were rewritten to its id",
                    self.quoted(actor),
                    plural(others as usize)
                ),
            )),
            WriteAll::Delete if changed > owns => Some((
                ViolationKind::ForeignRowDeleted,
                format!(
                    "tenant {} deleted {changed} rows but owns {owns}: {others} row{} of other \
                     tenants went",
                    self.quoted(actor),
                    plural(others as usize)
                ),
            )),
            _ => None,
        }
    }

    /// Up to three seeded rows of table `t` owned by tenants other than `actor`, for a
    /// report of rows a rolled-back write reached.
    fn example_foreign_rows(&self, actor: usize, t: usize) -> Vec<LeakedRow> {
        (0..self.world.tenants.len())
            .filter(|&o| o != actor && self.own_total[t][o] > 0)
            .flat_map(|o| self.seeded.rows[t][o].iter().take(1).map(move |r| (o, r)))
            .take(3)
            .map(|(o, r)| LeakedRow {
                owner: Some(self.world.tenants[o].value.clone()),
                row: format!("{} (for example)", r.text),
            })
            .collect()
    }
}

/// Argument lists generated per function (besides the no-argument call).
const ARG_LISTS: usize = 4;

/// A value of `arg`'s type for the `j`-th argument list: tenant ids where the type can
/// hold one (an id of another tenant is how a function leaks by parameter), else
/// booleans both ways, numeric and timestamp bounds, enum labels.
fn arg_value(arg: &Arg, j: usize, kind: IdKind, world: &World, actors: &[usize]) -> Option<String> {
    let tenant = |i: usize| world.tenants[actors[i % actors.len()]].value.clone();
    let int = matches!(arg.base_type.as_str(), "int2" | "int4" | "int8");
    let holds_id = match kind {
        IdKind::Text => arg.category == 'S',
        IdKind::Uuid => arg.category == 'S' || arg.base_type == "uuid",
        IdKind::Integer => arg.category == 'S' || int,
    };
    if holds_id {
        return Some(match j % ARG_LISTS {
            0 => tenant(0),
            1 => tenant(1),
            2 => match (arg.base_type.as_str(), arg.category) {
                ("uuid", _) => "00000000-0000-0000-0000-000000000000".to_owned(),
                (_, 'S') => String::new(),
                _ => "0".to_owned(),
            },
            _ => tenant(2),
        });
    }
    let pick = |v: &[&str]| Some(v[j % v.len()].to_owned());
    match arg.category {
        'B' => pick(&["true", "false"]),
        'N' => pick(&["1", "0", "-1", "100"]),
        'E' => arg
            .enum_labels
            .get(j % arg.enum_labels.len().max(1))
            .cloned(),
        'D' => match arg.base_type.as_str() {
            "date" | "timestamp" | "timestamptz" => {
                pick(&["now", "infinity", "-infinity", "epoch"])
            }
            _ => pick(&["12:00", "00:00"]),
        },
        _ if arg.base_type == "uuid" => Some("00000000-0000-0000-0000-000000000000".to_owned()),
        _ => None,
    }
}

/// The calls of every usable function: with no arguments first where it takes none
/// (or all have defaults), then [`ARG_LISTS`] generated argument lists.
fn calls(
    schema: &Schema,
    world: &World,
    actors: &[usize],
    excluded: &dyn Fn(&str) -> bool,
) -> Vec<Call> {
    let mut out = Vec::new();
    for (f, func) in schema.functions.iter().enumerate() {
        if func.unusable.is_some() || excluded(&func.name) {
            continue;
        }
        let required = func.args.len().saturating_sub(func.defaults);
        let mut lists: Vec<Vec<String>> = Vec::new();
        if required == 0 {
            lists.push(Vec::new());
        }
        if !func.args.is_empty() {
            for j in 0..ARG_LISTS {
                let mut list = Vec::new();
                for arg in &func.args {
                    match arg_value(arg, j, schema.kind, world, actors) {
                        Some(v) => list.push(format!("{}::{}", sql::literal(&v), arg.sql_type)),
                        None => break,
                    }
                }
                if list.len() >= required && !lists.contains(&list) {
                    lists.push(list);
                }
            }
        }
        for list in lists {
            let args = list.join(", ");
            out.push(Call {
                function: f,
                stmt: format!("SELECT r::text FROM {}({args}) AS r", func.sql),
                shown: format!("SELECT * FROM {}({args});", func.sql),
            });
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteAll {
    Update,
    Move(usize),
    Delete,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Runs a write through the connection's statement cache (one round trip once
/// warm) and returns the affected row count. No `RETURNING`: PostgreSQL applies
/// SELECT policies to returned rows, which would turn an open write into an error.
async fn execute(
    tx: &TenantTx,
    stmt: &str,
    values: &[Option<String>],
) -> std::result::Result<u64, tokio_postgres::Error> {
    let prepared = tx.prepare_cached(stmt).await?;
    let params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    tx.execute(&prepared, &params).await
}

fn table_row(row: &Row) -> TableRow {
    TableRow {
        id: (row.get(0), row.get(1)),
        tenant: row.get(2),
        text: row.get(3),
    }
}

fn view_row(row: &Row) -> String {
    row.get::<_, Option<String>>(0).unwrap_or_default()
}

fn parse_rows(target: Target, rows: &[Row]) -> Rows {
    match target {
        Target::Table(_) => Rows::Table(rows.iter().map(table_row).collect()),
        Target::View(_) | Target::Function(_) => Rows::View(rows.iter().map(view_row).collect()),
    }
}
