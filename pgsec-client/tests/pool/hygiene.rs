//! Session hygiene (issue 18): a pooled connection reaches the next tenant only in the
//! state a fresh connection has.
//!
//! One test per kind of session state a tenant can leave behind (temporary objects,
//! held cursors, roles, settings, SQL prepared statements, advisory locks, `LISTEN`,
//! sequence state). Each runs once per way tenant A's transaction can end (commit,
//! rollback, drop, a failed statement then commit, a statement cancelled mid-flight), on
//! a pool of one connection so that tenants B and C get A's session, and compares what
//! they see with what a fresh connection of the same pool reported. The property test
//! is in hygiene_props.rs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pgsec_client::{Config, TenantId, TenantPool, TenantTx};
use pgsec_testkit::{TestDatabase, APP_USER};
use tokio::task::JoinError;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Row, SimpleQueryMessage};

use crate::lifecycle::poll_then_drop;
use crate::{app_config, app_pool, tenant_database};

/// Settings a tenant can change for its session, which the next tenant must see at a
/// fresh connection's values.
const SETTINGS: &[&str] = &[
    "search_path",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "row_security",
    "work_mem",
    "application_name",
    "TimeZone",
    "DateStyle",
    "default_transaction_read_only",
    "default_transaction_isolation",
    "role",
    "session_authorization",
];

/// An application setting other than the tenant's that a tenant may set for its session.
pub(crate) const OTHER_SETTING: &str = "app.user_id";

/// How a reference to a temporary object fails once it is gone: the object is not
/// found, or (for functions and types, once the session has no temporary schema at
/// all, e.g. its creation was rolled back) `pg_temp` itself is not.
const NO_TEMP_RELATION: &[SqlState] = &[SqlState::UNDEFINED_TABLE, SqlState::INVALID_SCHEMA_NAME];
const NO_TEMP_FUNCTION: &[SqlState] =
    &[SqlState::UNDEFINED_FUNCTION, SqlState::INVALID_SCHEMA_NAME];
const NO_TEMP_TYPE: &[SqlState] = &[SqlState::UNDEFINED_OBJECT, SqlState::INVALID_SCHEMA_NAME];

/// Text only tenant A's data contains.
const SECRET: &str = "secret-of-A";

/// Everything about a session that a tenant could leave behind, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionView {
    /// The tenant setting (`None` when unset or empty).
    pub(crate) tenant: Option<String>,
    /// [`OTHER_SETTING`] (`None` when unset or empty).
    pub(crate) other_setting: Option<String>,
    pub(crate) current_user: String,
    pub(crate) session_user: String,
    /// `name=value` for each of [`SETTINGS`].
    pub(crate) settings: Vec<String>,
    /// Relations, functions and types in this session's temporary schema.
    pub(crate) temp_relations: Vec<String>,
    pub(crate) temp_functions: Vec<String>,
    pub(crate) temp_types: Vec<String>,
    /// `pg_cursors` without the unnamed portal (this probe's own): cursors declared with
    /// SQL, of which held ones survive their transaction.
    pub(crate) cursors: Vec<String>,
    /// Statements created with SQL `PREPARE`, other than the pool's own (`pgsec_*`).
    pub(crate) sql_prepared: Vec<String>,
    /// Advisory locks this backend holds (`classid:objid:objsubid`).
    pub(crate) advisory_locks: Vec<String>,
    pub(crate) listening: Vec<String>,
}

impl SessionView {
    /// What a clean session of tenant `tenant` (or outside any transaction, `None`)
    /// must look like, given what a fresh connection reported.
    pub(crate) fn expected(&self, tenant: Option<&TenantId>) -> SessionView {
        SessionView {
            tenant: tenant.map(|t| t.as_setting_value().to_owned()),
            ..self.clone()
        }
    }

    /// Whether this is a plausible fresh session: nothing created, nothing held.
    pub(crate) fn holds_nothing(&self) -> bool {
        self.other_setting.is_none()
            && self.temp_relations.is_empty()
            && self.temp_functions.is_empty()
            && self.temp_types.is_empty()
            && self.cursors.is_empty()
            && self.sql_prepared.is_empty()
            && self.advisory_locks.is_empty()
            && self.listening.is_empty()
    }
}

/// The fields of `seen` that differ from `want`, one line each.
pub(crate) fn differences(seen: &SessionView, want: &SessionView) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! compare {
        ($($field:ident),*) => {$(
            if seen.$field != want.$field {
                out.push(format!(
                    "{}: {:?} (a fresh session: {:?})",
                    stringify!($field), seen.$field, want.$field
                ));
            }
        )*};
    }
    compare!(
        tenant,
        other_setting,
        current_user,
        session_user,
        temp_relations,
        temp_functions,
        temp_types,
        cursors,
        sql_prepared,
        advisory_locks,
        listening
    );
    for (s, w) in seen.settings.iter().zip(&want.settings) {
        if s != w {
            out.push(format!("setting {s} (a fresh session: {w})"));
        }
    }
    out
}

fn probe_sql() -> String {
    let names: Vec<String> = SETTINGS.iter().map(|n| format!("'{n}'")).collect();
    format!(
        "select nullif(pg_catalog.current_setting('app.current_tenant_id', true), ''),
                nullif(pg_catalog.current_setting('{OTHER_SETTING}', true), ''),
                current_user::text,
                session_user::text,
                array(select s.n || '=' || pg_catalog.current_setting(s.n)
                      from pg_catalog.unnest(array[{names}]::text[]) with ordinality as s(n, i)
                      order by s.i),
                array(select c.relname::text from pg_catalog.pg_class c
                      where c.relnamespace = pg_catalog.pg_my_temp_schema() order by 1),
                array(select p.proname::text from pg_catalog.pg_proc p
                      where p.pronamespace = pg_catalog.pg_my_temp_schema() order by 1),
                array(select t.typname::text from pg_catalog.pg_type t
                      where t.typnamespace = pg_catalog.pg_my_temp_schema() order by 1),
                array(select c.name from pg_catalog.pg_cursors c
                      where c.name operator(pg_catalog.<>) '' order by 1),
                array(select p.name || ': ' || p.statement from pg_catalog.pg_prepared_statements p
                      where p.from_sql and p.name not like 'pgsec\\_%' order by 1),
                array(select l.classid::text || ':' || l.objid::text || ':' || l.objsubid::text
                      from pg_catalog.pg_locks l
                      where l.locktype = 'advisory' and l.pid = pg_catalog.pg_backend_pid()
                      order by 1),
                array(select pg_catalog.pg_listening_channels() order by 1),
                pg_catalog.pg_backend_pid()",
        names = names.join(", ")
    )
}

fn view_of(rows: &[Row]) -> Result<(SessionView, i32), String> {
    let row = rows.first().ok_or("the probe returned no row")?;
    let view = SessionView {
        tenant: row.get(0),
        other_setting: row.get(1),
        current_user: row.get(2),
        session_user: row.get(3),
        settings: row.get(4),
        temp_relations: row.get(5),
        temp_functions: row.get(6),
        temp_types: row.get(7),
        cursors: row.get(8),
        sql_prepared: row.get(9),
        advisory_locks: row.get(10),
        listening: row.get(11),
    };
    Ok((view, row.get(12)))
}

/// The session inside `tx`, and its backend pid.
pub(crate) async fn session_view(tx: &TenantTx) -> Result<(SessionView, i32), String> {
    let rows = tx
        .query_typed(&probe_sql(), &[])
        .await
        .map_err(|e| format!("the session probe failed: {}", describe(&e)))?;
    view_of(&rows)
}

/// The session of a client outside any transaction (the unscoped connection).
pub(crate) async fn client_view(client: &Client) -> Result<(SessionView, i32), String> {
    let rows = client
        .query_typed(&probe_sql(), &[])
        .await
        .map_err(|e| format!("the session probe failed: {}", describe(&e)))?;
    view_of(&rows)
}

/// A driver error with the server's message, which its `Display` leaves out.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => e.to_string(),
    }
}

fn rows_of(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Runs `sql` inside a savepoint of `tx` (so the transaction goes on) and requires that
/// it fails with one of `codes`.
pub(crate) async fn must_fail(tx: &TenantTx, sql: &str, codes: &[SqlState]) -> Result<(), String> {
    tx.batch_execute("SAVEPOINT pgsec_hygiene")
        .await
        .map_err(|e| format!("savepoint before `{sql}`: {}", describe(&e)))?;
    let result = tx.simple_query(sql).await;
    tx.batch_execute("ROLLBACK TO SAVEPOINT pgsec_hygiene; RELEASE SAVEPOINT pgsec_hygiene")
        .await
        .map_err(|e| format!("rollback to savepoint after `{sql}`: {}", describe(&e)))?;
    let want: Vec<&str> = codes.iter().map(SqlState::code).collect();
    match result {
        Err(e) if e.code().is_some_and(|c| codes.contains(c)) => Ok(()),
        Err(e) => Err(format!(
            "`{sql}` failed with {}, not SQLSTATE {want:?}",
            describe(&e)
        )),
        Ok(messages) => Err(format!(
            "`{sql}` succeeded (rows {:?}); it must fail with SQLSTATE {want:?}",
            rows_of(&messages),
        )),
    }
}

/// Inserts a row for `tx`'s tenant, then requires that it sees exactly that row.
async fn own_rows_work(tx: &TenantTx) -> Result<(), String> {
    let me = tx.tenant().as_setting_value().to_owned();
    let body = format!("row of {me}");
    tx.execute(
        "insert into items (tenant_id, body) values ($1, $2)",
        &[&me, &body],
    )
    .await
    .map_err(|e| format!("tenant {me} cannot insert its own row: {}", describe(&e)))?;
    let seen: Vec<(String, String)> = tx
        .query("select tenant_id, body from items order by id", &[])
        .await
        .map_err(|e| format!("tenant {me} cannot read items: {}", describe(&e)))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if seen != [(me.clone(), body)] {
        return Err(format!("tenant {me} saw {seen:?}, not just its own row"));
    }
    Ok(())
}

/// Whether another session can take advisory lock 42 (and then releases it).
async fn advisory_lock_42_is_free(db: &TestDatabase) -> bool {
    let admin = db.admin_client().await.expect("admin client");
    let got: bool = admin
        .query_one("select pg_catalog.pg_try_advisory_lock(42)", &[])
        .await
        .expect("try advisory lock")
        .get(0);
    if got {
        admin
            .execute("select pg_catalog.pg_advisory_unlock(42)", &[])
            .await
            .expect("advisory unlock");
    }
    got
}

/// A name no other test (or run) uses, for cluster-wide roles.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A login role of its own with the application role's rights on `db`, and a NOLOGIN
/// role it may `SET ROLE` to: no attributes, owns nothing, may only read `items`, so
/// the start-up guard accepts the pool. A role of its own rather than a membership
/// granted to the shared application role: roles are cluster-wide, and other tests
/// (the guard's) look at that role's memberships.
///
/// Returns the pool configuration, the login role and the NOLOGIN role.
pub(crate) async fn login_with_harmless_role(db: &TestDatabase) -> (Config, String, String) {
    let login = unique("hygiene");
    let harmless = format!("{login}_reader");
    let password = format!("pw-{login}-Zq9");
    db.admin_client()
        .await
        .expect("admin client")
        .batch_execute(&format!(
            "create role {login} login password '{password}';
             create role {harmless} nologin;
             grant {harmless} to {login};
             grant connect on database {db} to {login};
             grant select, insert, update, delete on items to {login};
             grant usage on sequence items_id_seq to {login};
             grant select on items to {harmless};",
            db = db.name()
        ))
        .await
        .expect("roles for SET ROLE");
    let config = app_config(db).user(login.clone()).password(password);
    (config, login, harmless)
}

/// How tenant A's transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Commit,
    Rollback,
    /// The guard is dropped (as when the future holding it is cancelled).
    Drop,
    /// A statement fails, then `commit()` (which must refuse).
    ErrorThenCommit,
    /// The state-changing statement's future is dropped after its first poll (the
    /// server runs it; nobody reads the reply), then the guard is dropped.
    CancelledStatement,
}

const ENDS: [End; 5] = [
    End::Commit,
    End::Rollback,
    End::Drop,
    End::ErrorThenCommit,
    End::CancelledStatement,
];

impl End {
    fn tag(self) -> &'static str {
        match self {
            End::Commit => "commit",
            End::Rollback => "rollback",
            End::Drop => "drop",
            End::ErrorThenCommit => "error",
            End::CancelledStatement => "cancel",
        }
    }
}

/// What tenant A does, and what the tenants after it must not be able to do.
#[derive(Debug, Clone)]
struct Scenario {
    db: TestDatabase,
    config: Config,
    /// Sent by A inside its transaction (simple protocol); `{tenant}` becomes A's id.
    setup: String,
    /// Statements that must fail in B's and C's transactions, with their possible
    /// SQLSTATEs.
    must_fail: Vec<(String, Vec<SqlState>)>,
    /// Whether A's own commit or rollback may fail (a 1 ms statement timeout can cancel
    /// the pool's statements); what B sees is checked either way.
    end_may_fail: bool,
}

impl Scenario {
    async fn new(setup: &str) -> Scenario {
        let db = tenant_database().await;
        let config = app_config(&db);
        Scenario {
            db,
            config,
            setup: setup.to_owned(),
            must_fail: Vec::new(),
            end_may_fail: false,
        }
    }

    fn expect_failure(mut self, sql: &str, codes: &[SqlState]) -> Scenario {
        self.must_fail.push((sql.to_owned(), codes.to_vec()));
        self
    }

    /// Runs one round per way A's transaction can end, each on a pool of its own, and
    /// fails with everything every round found.
    async fn assert_nothing_reaches_the_next_tenant(self) {
        const ROUND_TIMEOUT: Duration = Duration::from_secs(60);
        let mut failures = Vec::new();
        for end in ENDS {
            let mut round = tokio::spawn(self.clone().round(end));
            match tokio::time::timeout(ROUND_TIMEOUT, &mut round).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!(
                    "A's transaction ended by {end:?}:\n  {}",
                    panic_text(e)
                )),
                Err(_) => {
                    round.abort();
                    failures.push(format!("{end:?}: not finished in {ROUND_TIMEOUT:?}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "A ran `{}`; the next tenants of the pool saw:\n{}",
            self.setup,
            failures.join("\n")
        );
    }

    async fn round(self, end: End) {
        let tag = end.tag();
        let tenant = |who: &str| -> TenantId { format!("{who}-{tag}").parse().unwrap() };
        let (fresh, a, b, c) = (tenant("fresh"), tenant("a"), tenant("b"), tenant("c"));
        // A's data exists whatever A's transaction does, for temporary tables and held
        // cursors to copy.
        self.db
            .admin_client()
            .await
            .expect("admin client")
            .execute(
                "insert into items (tenant_id, body) values ($1, $2)",
                &[&a.as_setting_value(), &SECRET],
            )
            .await
            .expect("A's row");
        let pool = TenantPool::builder(&self.config)
            .max_size(1)
            .build()
            .await
            .expect("pool builds");

        // What a fresh connection of this pool reports.
        let tx = pool
            .begin(&fresh)
            .await
            .expect("begin on a fresh connection");
        let (fresh_view, _) = session_view(&tx).await.expect("probe");
        assert!(
            fresh_view.holds_nothing(),
            "a fresh connection holds {fresh_view:?}"
        );
        tx.commit().await.expect("commit on a fresh connection");

        let tx = pool.begin(&a).await.expect("A begins");
        let (_, a_pid) = session_view(&tx).await.expect("probe");
        let setup = self.setup.replace("{tenant}", a.as_setting_value());
        self.leave_state(tx, &setup, end).await;

        let mut problems = Vec::new();
        // B, on the only connection of the pool; then C, after B committed.
        let b_pid = self
            .next_tenant(&pool, "B", &b, &fresh_view, &mut problems)
            .await;
        self.next_tenant(&pool, "C", &c, &fresh_view, &mut problems)
            .await;

        // Outside any transaction: a session value of the tenant setting would show
        // again here once the tenants' SET LOCALs are gone.
        let conn = pool
            .dangerous_unscoped_connection()
            .await
            .expect("unscoped connection");
        match client_view(&conn).await {
            Ok((view, _)) => problems.extend(
                differences(&view, &fresh_view.expected(None))
                    .into_iter()
                    .map(|d| format!("outside a transaction: {d}")),
            ),
            Err(e) => problems.push(format!("outside a transaction: {e}")),
        }
        drop(conn);

        let status = pool.status();
        if status.size > status.max_size {
            problems.push(format!("the pool grew past its size: {status:?}"));
        }
        let reused = match b_pid {
            Some(pid) if pid == a_pid => "A's connection",
            Some(_) => "a new connection",
            None => "a connection it could not probe",
        };
        eprintln!("hygiene: `{setup}`, A {end:?}: B ran on {reused}");
        assert!(
            problems.is_empty(),
            "(B ran on {reused})\n  {}",
            problems.join("\n  ")
        );
    }

    /// `who` begins on the pool: its session must be a fresh one's, the scenario's
    /// statements must fail, advisory lock 42 must be free (checked before the
    /// transaction's own commit releases advisory locks), and its own rows must work.
    /// Records what it finds in `problems`; returns the backend pid when the probe ran.
    async fn next_tenant(
        &self,
        pool: &TenantPool,
        who: &str,
        tenant: &TenantId,
        fresh_view: &SessionView,
        problems: &mut Vec<String>,
    ) -> Option<i32> {
        let tx = match pool.begin(tenant).await {
            Ok(tx) => tx,
            Err(e) => {
                problems.push(format!("{who} cannot begin: {e}"));
                return None;
            }
        };
        let pid = match session_view(&tx).await {
            Ok((view, pid)) => {
                problems.extend(
                    differences(&view, &fresh_view.expected(Some(tenant)))
                        .into_iter()
                        .map(|d| format!("{who}: {d}")),
                );
                Some(pid)
            }
            Err(e) => {
                problems.push(format!("{who}: {e}"));
                None
            }
        };
        for (sql, codes) in &self.must_fail {
            if let Err(e) = must_fail(&tx, sql, codes).await {
                problems.push(format!("{who}: {e}"));
            }
        }
        if !advisory_lock_42_is_free(&self.db).await {
            problems.push(format!(
                "during {who}'s transaction, advisory lock 42 is held by a session of the pool"
            ));
        }
        if let Err(e) = own_rows_work(&tx).await {
            problems.push(format!("{who}: {e}"));
        }
        if let Err(e) = tx.commit().await {
            problems.push(format!("{who}'s commit: {e}"));
        }
        pid
    }

    /// A runs `setup` and ends its transaction as `end` says.
    async fn leave_state(&self, tx: TenantTx, setup: &str, end: End) {
        if end == End::CancelledStatement {
            let _ = poll_then_drop(tx.batch_execute(setup), 1).await;
            drop(tx);
            return;
        }
        tx.batch_execute(setup)
            .await
            .unwrap_or_else(|e| panic!("A's `{setup}` failed: {}", describe(&e)));
        match end {
            End::Commit => {
                let result = tx.commit().await;
                if !self.end_may_fail {
                    result.expect("A commits");
                }
            }
            End::Rollback => {
                let result = tx.rollback().await;
                if !self.end_may_fail {
                    result.expect("A rolls back");
                }
            }
            End::Drop | End::CancelledStatement => drop(tx),
            End::ErrorThenCommit => {
                tx.batch_execute("select 1/0")
                    .await
                    .expect_err("division by zero");
                assert!(
                    tx.commit().await.is_err(),
                    "A's commit after a failed statement succeeded"
                );
            }
        }
    }
}

fn panic_text(e: JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[tokio::test]
async fn a_temporary_table_does_not_reach_the_next_tenant() {
    Scenario::new("create temp table t as select * from items")
        .await
        .expect_failure("select * from pg_temp.t", NO_TEMP_RELATION)
        .expect_failure("select * from t", &[SqlState::UNDEFINED_TABLE])
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn a_held_cursor_does_not_reach_the_next_tenant() {
    Scenario::new("declare c cursor with hold for select * from items")
        .await
        .expect_failure("fetch all from c", &[SqlState::INVALID_CURSOR_NAME])
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn set_role_does_not_reach_the_next_tenant() {
    let mut scenario = Scenario::new("").await;
    let (config, _login, harmless) = login_with_harmless_role(&scenario.db).await;
    scenario.config = config;
    // The probe compares current_user, session_user and the `role` setting with a
    // fresh connection's (the login role, `none`); B's insert would fail as the
    // read-only role.
    scenario.setup = format!("set role {harmless}");
    scenario.assert_nothing_reaches_the_next_tenant().await;
}

/// `SET SESSION AUTHORIZATION` to another role needs a superuser, and the start-up guard
/// refuses pools whose role is or can become one, so no tenant of a guarded pool can
/// leave it behind; the case is not faked with a superuser pool. Checked instead: the
/// application role is refused, and may run the reset the pool relies on.
#[tokio::test]
async fn set_session_authorization_is_out_of_the_application_roles_reach() {
    let db = tenant_database().await;
    let pool = app_pool(&db).max_size(1).build().await.unwrap();
    let t: TenantId = "t1".parse().unwrap();
    let tx = pool.begin(&t).await.unwrap();
    let admin = &db.info().admin.user;
    must_fail(
        &tx,
        &format!("set session authorization {admin}"),
        &[SqlState::INSUFFICIENT_PRIVILEGE],
    )
    .await
    .unwrap();
    tx.batch_execute(&format!(
        "set session authorization {APP_USER}; set session authorization default"
    ))
    .await
    .expect("a role may set its own session authorization and the default");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn session_values_of_the_tenant_and_other_app_settings_do_not_reach_the_next_tenant() {
    Scenario::new(&format!(
        "select pg_catalog.set_config('app.current_tenant_id', '{{tenant}}', false), \
                pg_catalog.set_config('{OTHER_SETTING}', 'alice', false)"
    ))
    .await
    .assert_nothing_reaches_the_next_tenant()
    .await;
}

#[tokio::test]
async fn a_session_search_path_does_not_reach_the_next_tenant() {
    Scenario::new("set search_path = private_of_a, public")
        .await
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn session_settings_do_not_reach_the_next_tenant() {
    // Each would change what B's statements do: row_security = off makes B's reads of
    // items fail, default_transaction_read_only B's writes.
    Scenario::new(
        "set row_security = off; \
         set default_transaction_read_only = on; \
         set session characteristics as transaction isolation level serializable; \
         set lock_timeout = '4321ms'; \
         set idle_in_transaction_session_timeout = '5min'; \
         set work_mem = '7MB'; \
         set application_name = 'app of {tenant}'; \
         set timezone = 'Pacific/Chatham'; \
         set datestyle = 'SQL, DMY'",
    )
    .await
    .assert_nothing_reaches_the_next_tenant()
    .await;
}

#[tokio::test]
async fn a_one_millisecond_statement_timeout_does_not_reach_the_next_tenant() {
    let mut scenario = Scenario::new("set statement_timeout = 1").await;
    scenario.end_may_fail = true;
    scenario.assert_nothing_reaches_the_next_tenant().await;
}

#[tokio::test]
async fn a_sql_prepared_statement_does_not_reach_the_next_tenant() {
    Scenario::new("prepare q as select 'secret-of-A'")
        .await
        .expect_failure("execute q", &[SqlState::INVALID_SQL_STATEMENT_NAME])
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn a_session_advisory_lock_does_not_outlive_the_transaction() {
    // The probe lists this backend's advisory locks; the round also asks another
    // session whether lock 42 is free.
    Scenario::new("select pg_catalog.pg_advisory_lock(42)")
        .await
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn listen_does_not_reach_the_next_tenant() {
    Scenario::new("listen chan_of_a")
        .await
        .assert_nothing_reaches_the_next_tenant()
        .await;
}

#[tokio::test]
async fn temporary_functions_sequences_views_and_types_do_not_reach_the_next_tenant() {
    Scenario::new(
        "create function pg_temp.f() returns text language sql as $$select 'secret-of-A'$$; \
         create temp sequence s; \
         create temp view v as select * from items; \
         create type pg_temp.mood as enum ('secret-of-A')",
    )
    .await
    .expect_failure("select pg_temp.f()", NO_TEMP_FUNCTION)
    .expect_failure("select pg_catalog.nextval('pg_temp.s')", NO_TEMP_RELATION)
    .expect_failure("select * from pg_temp.v", NO_TEMP_RELATION)
    .expect_failure("select 'secret-of-A'::pg_temp.mood", NO_TEMP_TYPE)
    .assert_nothing_reaches_the_next_tenant()
    .await;
}

#[tokio::test]
async fn sequence_values_of_the_session_do_not_reach_the_next_tenant() {
    // nextval() is not transactional: lastval() and currval() stay defined for the
    // session after a rollback too (DISCARD SEQUENCES clears them).
    Scenario::new("insert into items (body) values ('secret-of-A, second row')")
        .await
        .expect_failure(
            "select pg_catalog.lastval()",
            &[SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE],
        )
        .expect_failure(
            "select pg_catalog.currval('items_id_seq')",
            &[SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE],
        )
        .assert_nothing_reaches_the_next_tenant()
        .await;
}
