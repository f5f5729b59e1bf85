//! The transaction guard handed out by [`crate::TenantPool::begin`].

use std::fmt;
use std::sync::Arc;

use deadpool::managed::Object;
use futures_util::FutureExt;
use tokio_postgres::error::{Severity, SqlState};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, SimpleQueryMessage, Statement, ToStatement};

use super::session::{self, Batch};
use tracing::Instrument;

use super::tenant::TenantId;
use super::tracked::{ConnState, TrackedConnections};
use super::Shared;

/// An open transaction for one tenant on a pooled connection.
///
/// Every statement sent through it runs inside the transaction, whose tenant setting
/// was set with a bound `set_config(name, tenant, true)` together with `BEGIN`.
///
/// - [`TenantTx::commit`] commits; it fails (and rolls back) when a statement inside the
///   transaction failed or the tenant setting was changed.
/// - [`TenantTx::rollback`] rolls back.
/// - Dropping the guard (including on panic or when the future holding it is
///   cancelled) rolls back: `ROLLBACK` is queued at once, and the connection is rolled
///   back again and verified before anyone else gets it.
///
/// The query methods mirror [`tokio_postgres::Client`]'s. Transaction control
/// statements (`COMMIT`, `ROLLBACK`, `SET ROLE`, `set_config(..., false)`) sent through
/// them are the caller's responsibility; `commit()` detects an ended transaction or a
/// changed tenant and refuses to report success.
///
/// Retrying: nothing is committed before `commit()`, so when a statement fails with an
/// error for which [`crate::is_transient`] holds (connection lost, backend terminated,
/// serialization failure, `statement_timeout`, ...), the whole transaction can be run
/// again. `commit()`'s own errors say so through [`crate::Error::is_retry_safe`], and
/// [`crate::Error::commit_outcome_unknown`] marks a commit whose answer was lost.
#[must_use = "a TenantTx rolls back when dropped; call commit() to keep its work"]
pub struct TenantTx {
    conn: Object<TrackedConnections>,
    tenant: TenantId,
    shared: Arc<Shared>,
    span: tracing::Span,
}

impl TenantTx {
    /// Wraps a checked-out connection. The state is marked before anything is sent,
    /// so a cancelled `begin` leaves a connection that is cleaned before reuse.
    pub(crate) fn new(
        mut conn: Object<TrackedConnections>,
        tenant: TenantId,
        shared: Arc<Shared>,
        span: tracing::Span,
    ) -> Self {
        conn.state = ConnState::MaybeInTransaction;
        Self {
            conn,
            tenant,
            shared,
            span,
        }
    }

    /// Sends `BEGIN; SET LOCAL <setting> = '<tenant>'` as one simple query: the
    /// round trip of a plain `BEGIN`, and no statement to plan. The tenant is a
    /// [`TenantId`], whose alphabet needs no escaping; it is quoted with
    /// postgres-protocol's literal escaping all the same.
    pub(crate) async fn start(&mut self) -> Result<(), crate::Error> {
        let sql = self.shared.sql.begin(&self.tenant);
        self.conn
            .client
            .batch_execute(&sql)
            .await
            .map_err(|source| crate::Error::Begin { source })
    }

    /// A prepared statement of the pool was deallocated (`DEALLOCATE ALL` inside a
    /// transaction): every later transaction on this connection would fail, so it is
    /// closed instead of reused.
    fn discard_if_statements_lost(&mut self, error: &tokio_postgres::Error) {
        if error.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) {
            self.conn.state = ConnState::Discard;
        }
    }

    /// The tenant of this transaction.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Commits.
    ///
    /// One message: the pool's check (the tenant setting still holds this
    /// transaction's tenant; session advisory locks released; no statement created with
    /// SQL `PREPARE` left), `COMMIT`, and the reset of everything else a session can
    /// keep (session.rs). A session that cannot be reset is closed instead of reused.
    ///
    /// # Errors
    /// - [`crate::Error::TransactionAborted`] when a statement inside the transaction
    ///   failed; nothing was committed;
    /// - [`crate::Error::TenantChanged`] when the tenant setting no longer held this
    ///   transaction's tenant; the transaction is rolled back instead;
    /// - [`crate::Error::Commit`] when the check or `COMMIT` itself failed and nothing
    ///   was committed: the server refused (a deferred constraint, a serialization
    ///   failure, the backend ended before `COMMIT` ran), or the connection had closed
    ///   before the commit was sent;
    /// - [`crate::Error::CommitOutcomeUnknown`] when the commit was sent and the
    ///   connection broke (or the session ended while `COMMIT` ran) before the answer
    ///   to `COMMIT` arrived: the transaction may or may not have committed.
    ///
    /// [`crate::Error::is_retry_safe`] says whether to run the transaction again.
    pub async fn commit(mut self) -> Result<(), crate::Error> {
        let span = self.span.clone();
        async {
            let sql = self.shared.sql.commit(&self.tenant);
            let batch = session::run(&self.conn.client, &sql).await;
            let Some(error) = batch.error else {
                self.settle(&batch);
                tracing::debug!(target: "pgsec_client::pool", "committed");
                return Ok(());
            };
            // Before COMMIT's CommandComplete (statement 1), only an answer of the server
            // proves that COMMIT did not take effect; a lost answer does not.
            if batch.completed < 2
                && !batch.unsent
                && !proves_not_committed(&error, batch.completed)
            {
                tracing::warn!(
                    target: "pgsec_client::pool",
                    "commit outcome unknown: {error}"
                );
                // The connection is broken; the recycle check discards it.
                return Err(crate::Error::CommitOutcomeUnknown { source: error });
            }
            match batch.completed {
                // The check failed: the transaction is open and aborted (or, unsent,
                // gone with its connection).
                0 => {
                    let result = match error.code() {
                        Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                            Err(crate::Error::TransactionAborted)
                        }
                        Some(&SqlState::DIVISION_BY_ZERO) => Err(crate::Error::TenantChanged),
                        _ => {
                            self.discard_if_statements_lost(&error);
                            Err(crate::Error::Commit { source: error })
                        }
                    };
                    if let Err(e) = &result {
                        tracing::warn!(target: "pgsec_client::pool", "commit rolled back: {e}");
                    }
                    self.reset().await;
                    result
                }
                // COMMIT failed: a server error rolled the transaction back.
                1 => {
                    tracing::debug!(target: "pgsec_client::pool", "commit failed");
                    self.reset().await;
                    Err(crate::Error::Commit { source: error })
                }
                // Committed; the reset after it failed, so the recycle check redoes it.
                _ => {
                    tracing::debug!(
                        target: "pgsec_client::pool",
                        "committed; session reset failed, checked before reuse: {error}"
                    );
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Rolls back.
    ///
    /// One message: `ROLLBACK`, the session reset, and the check that nothing of this
    /// transaction's tenant is left.
    ///
    /// # Errors
    /// [`crate::Error::Rollback`] when `ROLLBACK` failed; the connection is checked
    /// again before reuse.
    pub async fn rollback(mut self) -> Result<(), crate::Error> {
        let span = self.span.clone();
        async {
            let batch =
                session::run(&self.conn.client, &self.shared.sql.rollback_and_reset()).await;
            match batch.error {
                // The first statement is ROLLBACK; past it the transaction is over.
                Some(source) if batch.completed == 0 => Err(crate::Error::Rollback { source }),
                Some(_) => Ok(()),
                None => {
                    self.settle(&batch);
                    tracing::debug!(target: "pgsec_client::pool", "rolled back");
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await
    }

    /// After a batch that ended the transaction, reset the session and ran the check
    /// without error: the connection is reusable as it is, or (a statement created with
    /// SQL `PREPARE` is left) closed.
    fn settle(&mut self, batch: &Batch) {
        self.conn.state = if batch.clean() {
            ConnState::Idle
        } else {
            tracing::debug!(
                target: "pgsec_client::pool",
                "the session keeps a statement created with SQL PREPARE; closing it"
            );
            ConnState::Discard
        };
    }

    /// Rolls back and resets after a failed commit, so the connection does not sit in
    /// an aborted transaction holding locks. When this fails too, the mark stays and
    /// the recycle check tries again or discards the connection.
    async fn reset(&mut self) {
        if self.conn.state == ConnState::Discard {
            return;
        }
        let batch = session::run(&self.conn.client, &self.shared.sql.rollback_and_reset()).await;
        if batch.error.is_none() {
            self.settle(&batch);
        }
    }

    /// Like [`tokio_postgres::Client::query`].
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn query<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        self.conn
            .client
            .query(statement, params)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::query_one`].
    ///
    /// # Errors
    /// The server's or the connection's error, or a row count other than one.
    pub async fn query_one<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        self.conn
            .client
            .query_one(statement, params)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::query_opt`].
    ///
    /// # Errors
    /// The server's or the connection's error, or more than one row.
    pub async fn query_opt<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        self.conn
            .client
            .query_opt(statement, params)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::query_typed`]: parameter types are given, so the
    /// statement needs no prepare round trip (and works behind PgBouncer's
    /// transaction pooling).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn query_typed(
        &self,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.conn
            .client
            .query_typed(statement, params)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::execute`].
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn execute<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        self.conn
            .client
            .execute(statement, params)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::prepare`].
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn prepare(&self, query: &str) -> Result<Statement, tokio_postgres::Error> {
        self.conn
            .client
            .prepare(query)
            .instrument(self.span.clone())
            .await
    }

    /// Prepares through the connection's statement cache, so repeated statements skip
    /// the prepare round trip. Not for PgBouncer in transaction pooling mode: a cached
    /// statement lives on one server connection.
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn prepare_cached(&self, query: &str) -> Result<Statement, tokio_postgres::Error> {
        self.conn
            .client
            .prepare_cached(query)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::batch_execute`] (simple protocol, no parameters:
    /// never put a value into the string).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn batch_execute(&self, query: &str) -> Result<(), tokio_postgres::Error> {
        self.conn
            .client
            .batch_execute(query)
            .instrument(self.span.clone())
            .await
    }

    /// Like [`tokio_postgres::Client::simple_query`] (no parameters: never put a value
    /// into the string).
    ///
    /// # Errors
    /// The server's or the connection's error.
    pub async fn simple_query(
        &self,
        query: &str,
    ) -> Result<Vec<SimpleQueryMessage>, tokio_postgres::Error> {
        self.conn
            .client
            .simple_query(query)
            .instrument(self.span.clone())
            .await
    }
}

/// Whether a failure of the commit message before `COMMIT`'s CommandComplete (`completed`
/// statements done: 0 = the check, 1 = `COMMIT`) proves that nothing was committed.
///
/// - A server error of severity ERROR: the session went on, the check failed (the
///   server skips the statements after it, so `COMMIT` never ran) or `COMMIT` failed
///   and rolled back.
/// - A FATAL or PANIC during the check: the backend ended before it reached `COMMIT`.
///   Not during `COMMIT`: PostgreSQL can end the session after committing locally (a
///   backend terminated while waiting for synchronous replication says so).
/// - Never an error of class 08 (connection exception): PgBouncer reports a lost server
///   connection that way, and that server may have run `COMMIT`.
/// - Never a failure without a server error (the connection broke): the server may have
///   run the whole message.
fn proves_not_committed(error: &tokio_postgres::Error, completed: usize) -> bool {
    let Some(db) = error.as_db_error() else {
        return false;
    };
    if db.code().code().starts_with("08") {
        return false;
    }
    let is_error = match db.parsed_severity() {
        Some(severity) => severity == Severity::Error,
        // Servers before 9.6 send only the localized severity.
        None => db.severity() == "ERROR",
    };
    is_error || completed == 0
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        if self.conn.state != ConnState::MaybeInTransaction {
            return;
        }
        // Queue ROLLBACK now so locks are released without waiting for the next
        // checkout: polling once hands the request to the connection task, which sends
        // it after anything still in flight. The response is not awaited; the recycle
        // check rolls back again and verifies before the connection is reused (the mark
        // stays set).
        let _ = self.conn.client.batch_execute("ROLLBACK").now_or_never();
        let _entered = self.span.enter();
        tracing::debug!(
            target: "pgsec_client::pool",
            "transaction dropped without commit or rollback; rolling back"
        );
    }
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenant: &dyn fmt::Debug = if self.shared.record_tenant {
            &self.tenant
        } else {
            &"<redacted>"
        };
        f.debug_struct("TenantTx")
            .field("tenant", tenant)
            .field("setting", &self.shared.setting)
            .field("state", &self.conn.state)
            .finish()
    }
}
