//! Pooled connections that remember whether they may still be inside a transaction.
//!
//! tokio-postgres does not expose the transaction status of `ReadyForQuery`, so the pool
//! tracks it itself: a connection is marked [`ConnState::MaybeInTransaction`] before
//! `BEGIN` is sent and only marked [`ConnState::Idle`] once `COMMIT` or `ROLLBACK` has
//! completed. Whatever interrupts a transaction in between (a dropped guard, a cancelled
//! future, a panic, an error) leaves the mark, and recycling then rolls back and
//! verifies before the connection is handed out again, or discards it.

use std::fmt;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Statement;

use super::tenant::SettingName;
use super::tx::{COMMIT_CHECK_SQL, SET_TENANT_SQL};

/// What is known about a pooled connection's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Outside any transaction, no tenant set.
    Idle,
    /// A transaction may be open or failed: roll back and verify before reuse.
    MaybeInTransaction,
    /// Session state is unknown (the unscoped path was used): never reuse.
    Discard,
}

/// The pool's own statements, prepared (named) once per connection when it is opened,
/// so `begin` and `commit` only bind and execute them: no parse or plan per
/// transaction, and no prepare round trip on the hot path.
pub(crate) struct Prepared {
    /// [`SET_TENANT_SQL`].
    pub(crate) set_tenant: Statement,
    /// [`COMMIT_CHECK_SQL`].
    pub(crate) commit_check: Statement,
}

/// A pooled connection and its tracked state.
pub(crate) struct TrackedConnection {
    pub(crate) client: ClientWrapper,
    pub(crate) state: ConnState,
    /// `None` in PgBouncer transaction mode: a named statement lives on one server
    /// connection, so every transaction sends unnamed statements instead.
    pub(crate) prepared: Option<Prepared>,
}

impl fmt::Debug for TrackedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedConnection")
            .field("state", &self.state)
            .field("closed", &self.client.is_closed())
            .field("prepared", &self.prepared.is_some())
            .finish()
    }
}

/// deadpool's manager for [`TrackedConnection`]s, wrapping deadpool-postgres' manager
/// (which connects and keeps the statement caches).
pub(crate) struct TrackedConnections {
    inner: deadpool_postgres::Manager,
    setting: SettingName,
    named_statements: bool,
}

impl TrackedConnections {
    /// `named_statements`: prepare the pool's statements on each new connection
    /// (false behind PgBouncer in transaction pooling mode).
    pub(crate) fn new(
        inner: deadpool_postgres::Manager,
        setting: SettingName,
        named_statements: bool,
    ) -> Self {
        Self {
            inner,
            setting,
            named_statements,
        }
    }
}

impl fmt::Debug for TrackedConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // deadpool-postgres' Manager prints its tokio-postgres config, which redacts the
        // password; print only the setting to be safe regardless.
        f.debug_struct("TrackedConnections")
            .field("setting", &self.setting)
            .field("named_statements", &self.named_statements)
            .finish_non_exhaustive()
    }
}

/// The tenant as the session sees it, qualified against search_path tricks.
pub(crate) const READ_TENANT_SQL: &str = "select pg_catalog.current_setting($1, true)";

impl managed::Manager for TrackedConnections {
    type Type = TrackedConnection;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<TrackedConnection, tokio_postgres::Error> {
        let client = managed::Manager::create(&self.inner).await?;
        let prepared = if self.named_statements {
            Some(prepare(&client).await?)
        } else {
            None
        };
        Ok(TrackedConnection {
            client,
            state: ConnState::Idle,
            prepared,
        })
    }

    async fn recycle(
        &self,
        conn: &mut TrackedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        match conn.state {
            ConnState::Discard => {
                return Err(RecycleError::message(
                    "connection was used without a tenant scope; discarded",
                ))
            }
            ConnState::Idle | ConnState::MaybeInTransaction => {}
        }
        // Closed-connection check (RecyclingMethod::Fast: no round trip).
        managed::Manager::recycle(&self.inner, &mut conn.client, metrics).await?;
        if conn.state == ConnState::MaybeInTransaction {
            rollback_and_verify(&conn.client, &self.setting).await?;
            conn.state = ConnState::Idle;
            tracing::debug!(
                target: "pgsec_client::pool",
                "rolled back an interrupted transaction before reuse"
            );
        }
        Ok(())
    }

    fn detach(&self, conn: &mut TrackedConnection) {
        managed::Manager::detach(&self.inner, &mut conn.client);
    }
}

/// Prepares both statements in one round trip, while the connection is being opened.
async fn prepare(client: &ClientWrapper) -> Result<Prepared, tokio_postgres::Error> {
    const TEXT_TEXT: [Type; 2] = [Type::TEXT, Type::TEXT];
    let (set_tenant, commit_check) = futures_util::join!(
        client.prepare_typed(SET_TENANT_SQL, &TEXT_TEXT),
        client.prepare_typed(COMMIT_CHECK_SQL, &TEXT_TEXT),
    );
    Ok(Prepared {
        set_tenant: set_tenant?,
        commit_check: commit_check?,
    })
}

/// `ROLLBACK` pipelined with a read of the tenant setting (one round trip). Any error,
/// or a tenant still visible afterwards, fails the recycle so deadpool discards the
/// connection.
async fn rollback_and_verify(
    client: &ClientWrapper,
    setting: &SettingName,
) -> RecycleResult<tokio_postgres::Error> {
    let name = setting.as_str();
    let params: [(&(dyn ToSql + Sync), Type); 1] = [(&name, Type::TEXT)];
    let (rollback, probe) = futures_util::join!(
        client.batch_execute("ROLLBACK"),
        client.query_typed_one(READ_TENANT_SQL, &params),
    );
    rollback?;
    let left: Option<String> = probe?.try_get(0)?;
    match left.as_deref() {
        None | Some("") => Ok(()),
        Some(_) => Err(RecycleError::message(
            "a tenant was still set after ROLLBACK; discarded",
        )),
    }
}
