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

use super::tenant::SettingName;

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

/// A pooled connection and its tracked state.
pub(crate) struct TrackedConnection {
    pub(crate) client: ClientWrapper,
    pub(crate) state: ConnState,
}

impl fmt::Debug for TrackedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedConnection")
            .field("state", &self.state)
            .field("closed", &self.client.is_closed())
            .finish()
    }
}

/// deadpool's manager for [`TrackedConnection`]s, wrapping deadpool-postgres' manager
/// (which connects and keeps the statement caches).
pub(crate) struct TrackedConnections {
    inner: deadpool_postgres::Manager,
    setting: SettingName,
}

impl TrackedConnections {
    pub(crate) fn new(inner: deadpool_postgres::Manager, setting: SettingName) -> Self {
        Self { inner, setting }
    }
}

impl fmt::Debug for TrackedConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // deadpool-postgres' Manager prints its tokio-postgres config, which redacts the
        // password; print only the setting to be safe regardless.
        f.debug_struct("TrackedConnections")
            .field("setting", &self.setting)
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
        Ok(TrackedConnection {
            client,
            state: ConnState::Idle,
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
