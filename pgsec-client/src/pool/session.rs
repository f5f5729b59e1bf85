//! What a pooled session looks like between tenants, and the SQL that puts it back.
//!
//! A connection goes back to the pool only in the state a fresh connection has. The
//! reset rides in the messages a transaction sends anyway, so the common case costs no
//! round trip:
//!
//! - `begin` sends one simple query, `BEGIN; SET LOCAL <setting> = '<tenant>'`;
//! - `commit` sends one simple query: the pool's check (tenant still set, session
//!   advisory locks released, no SQL-level prepared statement left), `COMMIT`, then
//!   [`RESET_SQL`];
//! - `rollback` and the recycle of an interrupted connection send `ROLLBACK`,
//!   [`RESET_SQL`] and the clean check, also in one message.
//!
//! Why reset unconditionally rather than detect first: the settings a tenant may change
//! at session level include custom ones (`app.user_id`), which `pg_settings` does not
//! list, so no cheap query can tell whether any setting changed; `RESET ALL` and the
//! other utility statements of [`RESET_SQL`] are parsed but never planned, and cost less
//! than one planned statement (README, pool section). What cannot be reset cheaply is
//! detected instead: a statement created with SQL `PREPARE` (deallocating everything
//! would also drop the statement caches of the driver) makes the pool close the
//! connection.
//!
//! Every name and operator in the pool's SQL is schema-qualified, so a `search_path` set
//! inside a transaction cannot redirect them.

use futures_util::{pin_mut, TryStreamExt};
use postgres_protocol::escape::{escape_identifier, escape_literal};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::tenant::{SettingName, TenantId};

/// Puts a session back to its state at connection time: what `DISCARD ALL` does, except
/// `DEALLOCATE ALL` (the driver's statement caches must survive; SQL-level statements
/// are detected instead) and `DISCARD PLANS`, and with `pg_advisory_unlock_all()` moved
/// into the checks (a function call needs a planned statement). Utility statements only:
/// none of them is planned.
///
/// - `SET SESSION AUTHORIZATION DEFAULT`: `SET ROLE` and `SET SESSION AUTHORIZATION`;
/// - `RESET ALL`: every setting changed at session level, custom ones (the tenant
///   setting) and `search_path` included;
/// - `CLOSE ALL`: cursors declared `WITH HOLD`;
/// - `UNLISTEN *`: `LISTEN`;
/// - `DISCARD TEMP`: temporary tables, views, sequences, functions and types;
/// - `DISCARD SEQUENCES`: `currval()` / `lastval()` of sequences the session used.
pub const RESET_SQL: &str = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; \
                                    UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES";

/// Names of the pool's own SQL-level prepared statements.
const COMMIT_CHECK_NAME: &str = "pgsec_commit_check";
const CLEAN_CHECK_NAME: &str = "pgsec_clean_check";

/// Releases the session's advisory locks (a void column).
const UNLOCK: &str = "pg_catalog.pg_advisory_unlock_all()";

/// True when no SQL-level prepared statement other than the pool's is left.
const NO_FOREIGN_PREPARED: &str = "not exists (select from pg_catalog.pg_prepared_statements p \
     where p.from_sql \
       and p.name operator(pg_catalog.<>) 'pgsec_commit_check' \
       and p.name operator(pg_catalog.<>) 'pgsec_clean_check')";

/// The commit check's first column: fails with division by zero (SQLSTATE 22012) when
/// the setting `$1` no longer holds `$2`, which aborts the transaction so that nothing
/// commits; in an already aborted transaction the statement fails with 25P02.
fn tenant_held(setting: &str, tenant: &str) -> String {
    format!(
        "1 operator(pg_catalog./) coalesce(\
         pg_catalog.current_setting({setting}, true) operator(pg_catalog.=) {tenant}, false)::int"
    )
}

/// The clean check's tenant column: the setting `$1` is unset or empty.
fn tenant_cleared(setting: &str) -> String {
    format!("coalesce(pg_catalog.current_setting({setting}, true), '') operator(pg_catalog.=) ''")
}

/// Columns: the tenant still held (or an error), advisory locks released, clean.
fn commit_check_select(setting: &str, tenant: &str) -> String {
    format!(
        "SELECT {}, {UNLOCK}, {NO_FOREIGN_PREPARED}",
        tenant_held(setting, tenant)
    )
}

/// Columns: advisory locks released, clean (no foreign statement, no tenant set).
fn clean_check_select(setting: &str) -> String {
    format!(
        "SELECT {UNLOCK}, {NO_FOREIGN_PREPARED} and {}",
        tenant_cleared(setting)
    )
}

/// Prepares the pool's two checks on a new connection (one message, one round trip).
pub(crate) fn prepare_sql() -> String {
    format!(
        "PREPARE {COMMIT_CHECK_NAME}(pg_catalog.text, pg_catalog.text) AS {}; \
         PREPARE {CLEAN_CHECK_NAME}(pg_catalog.text) AS {}",
        commit_check_select("$1", "$2"),
        clean_check_select("$1"),
    )
}

/// How the pool's statements reach a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionSql {
    /// `SET LOCAL "part"."part" = ` for the tenant setting.
    set_local_prefix: String,
    /// The setting name as a literal.
    setting_literal: String,
    /// Whether [`prepare_sql`] ran on each connection; otherwise (PgBouncer in
    /// transaction mode, where a statement lives on one server connection) the checks
    /// are sent inline.
    named: bool,
}

impl SessionSql {
    pub(crate) fn new(setting: &SettingName, named: bool) -> Self {
        // SettingName admits only identifier characters and dots; quoting each part
        // keeps keywords and case as they are.
        let quoted: Vec<String> = setting.as_str().split('.').map(escape_identifier).collect();
        Self {
            set_local_prefix: format!("SET LOCAL {} = ", quoted.join(".")),
            setting_literal: escape_literal(setting.as_str()),
            named,
        }
    }

    pub(crate) fn named(&self) -> bool {
        self.named
    }

    /// `BEGIN` and the tenant, in one simple query.
    pub(crate) fn begin(&self, tenant: &TenantId) -> String {
        format!(
            "BEGIN; {}{}",
            self.set_local_prefix,
            escape_literal(tenant.as_setting_value())
        )
    }

    /// `BEGIN`, an empty tenant, `ROLLBACK`: whether the server accepts the setting.
    pub(crate) fn probe_setting(&self) -> String {
        format!("BEGIN; {}''; ROLLBACK", self.set_local_prefix)
    }

    /// The commit check, `COMMIT` and the reset, in one simple query. Statement 0 is the
    /// check, statement 1 `COMMIT`.
    pub(crate) fn commit(&self, tenant: &TenantId) -> String {
        let tenant = escape_literal(tenant.as_setting_value());
        let check = if self.named {
            format!(
                "EXECUTE {COMMIT_CHECK_NAME}({}, {tenant})",
                self.setting_literal
            )
        } else {
            commit_check_select(&self.setting_literal, &tenant)
        };
        format!("{check}; COMMIT; {RESET_SQL}")
    }

    /// `ROLLBACK`, the reset and the clean check, in one simple query.
    pub(crate) fn rollback_and_reset(&self) -> String {
        let check = if self.named {
            format!("EXECUTE {CLEAN_CHECK_NAME}({})", self.setting_literal)
        } else {
            clean_check_select(&self.setting_literal)
        };
        format!("ROLLBACK; {RESET_SQL}; {check}")
    }
}

/// What came back from a batch of simple-query statements.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Statements that completed before the error, if any.
    pub(crate) completed: usize,
    /// The last row returned.
    pub(crate) row: Option<SimpleQueryRow>,
    /// The error that stopped the batch (the server skips the statements after it).
    pub(crate) error: Option<tokio_postgres::Error>,
    /// The connection had already closed when the batch was to be sent: the message
    /// never left this process.
    pub(crate) unsent: bool,
}

impl Batch {
    /// Whether the check's row says the session holds nothing of the previous tenant
    /// (its last column is `t`). `false` when there is no row.
    pub(crate) fn clean(&self) -> bool {
        self.row.as_ref().is_some_and(|row| {
            row.len()
                .checked_sub(1)
                .is_some_and(|last| matches!(row.try_get(last), Ok(Some("t"))))
        })
    }
}

/// Runs `sql` (several statements, one message) and reports how far it got.
pub(crate) async fn run(client: &Client, sql: &str) -> Batch {
    let mut batch = Batch {
        completed: 0,
        row: None,
        error: None,
        unsent: false,
    };
    // tokio-postgres fails here only before handing the message to the connection
    // task (closed channel, or an encoding error), so nothing reached the server.
    let stream = match client.simple_query_raw(sql).await {
        Ok(stream) => stream,
        Err(e) => {
            batch.error = Some(e);
            batch.unsent = true;
            return batch;
        }
    };
    pin_mut!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(SimpleQueryMessage::CommandComplete(_))) => batch.completed += 1,
            Ok(Some(SimpleQueryMessage::Row(row))) => batch.row = Some(row),
            Ok(Some(_)) => {}
            Ok(None) => return batch,
            Err(e) => {
                batch.error = Some(e);
                return batch;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_the_setting_and_the_tenant() {
        let setting: SettingName = "app.current_tenant_id".parse().unwrap();
        let sql = SessionSql::new(&setting, true);
        let tenant: TenantId = "acme-1".parse().unwrap();
        assert_eq!(
            sql.begin(&tenant),
            "BEGIN; SET LOCAL \"app\".\"current_tenant_id\" = 'acme-1'"
        );
        assert!(sql.commit(&tenant).starts_with(
            "EXECUTE pgsec_commit_check('app.current_tenant_id', 'acme-1'); COMMIT; "
        ));
        assert!(sql
            .rollback_and_reset()
            .starts_with("ROLLBACK; SET SESSION AUTHORIZATION"));
        let inline = SessionSql::new(&setting, false);
        assert!(inline
            .commit(&tenant)
            .starts_with("SELECT 1 operator(pg_catalog./)"));
        assert!(inline
            .rollback_and_reset()
            .contains("pg_catalog.current_setting('app.current_tenant_id', true)"));
    }
}
