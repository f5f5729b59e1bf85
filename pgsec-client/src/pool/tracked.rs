//! Pooled connections that remember whether their session may hold anything of the
//! last tenant.
//!
//! tokio-postgres does not expose the transaction status of `ReadyForQuery`, so the pool
//! tracks it itself: a connection is marked [`ConnState::MaybeInTransaction`] before
//! `BEGIN` is sent and only marked [`ConnState::Idle`] once `COMMIT` or `ROLLBACK` and
//! the session reset have completed and the check found nothing left (session.rs).
//! Whatever interrupts a transaction in between (a dropped guard, a cancelled future, a
//! panic, an error) leaves the mark, and recycling then rolls back, resets and checks
//! before the connection is handed out again, or discards it.

use std::fmt;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;

use super::session::{self, SessionSql};

/// What is known about a pooled connection's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Outside any transaction, no tenant set.
    Idle,
    /// A transaction may be open or failed, or the session may hold state of the last
    /// tenant: roll back, reset and check before reuse.
    MaybeInTransaction,
    /// The session cannot be trusted or reset (the unscoped path was used, a statement
    /// was created with SQL `PREPARE`, the pool's checks were deallocated): never reuse.
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
    sql: SessionSql,
}

impl TrackedConnections {
    pub(crate) fn new(inner: deadpool_postgres::Manager, sql: SessionSql) -> Self {
        Self { inner, sql }
    }
}

impl fmt::Debug for TrackedConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // deadpool-postgres' Manager prints its tokio-postgres config, which redacts the
        // password; print only the setting to be safe regardless.
        f.debug_struct("TrackedConnections")
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

impl managed::Manager for TrackedConnections {
    type Type = TrackedConnection;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<TrackedConnection, tokio_postgres::Error> {
        let client = managed::Manager::create(&self.inner).await?;
        if self.sql.named() {
            client.batch_execute(&session::prepare_sql()).await?;
        }
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
            reset_and_verify(&conn.client, &self.sql).await?;
            conn.state = ConnState::Idle;
            tracing::debug!(
                target: "pgsec_client::pool",
                "rolled back and reset an interrupted session before reuse"
            );
        }
        Ok(())
    }

    fn detach(&self, conn: &mut TrackedConnection) {
        managed::Manager::detach(&self.inner, &mut conn.client);
    }
}

/// `ROLLBACK`, the session reset and the clean check in one message (one round trip).
/// Any error, or a check that finds something left, fails the recycle so deadpool
/// discards the connection.
async fn reset_and_verify(
    client: &ClientWrapper,
    sql: &SessionSql,
) -> RecycleResult<tokio_postgres::Error> {
    let batch = session::run(client, &sql.rollback_and_reset()).await;
    if let Some(e) = batch.error {
        return Err(RecycleError::Backend(e));
    }
    if batch.clean() {
        Ok(())
    } else {
        Err(RecycleError::message(
            "the session still held state of the last tenant after the reset; discarded",
        ))
    }
}
