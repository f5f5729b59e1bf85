//! The transaction guard handed out by [`crate::TenantPool::begin`].

use std::fmt;
use std::sync::Arc;

use deadpool::managed::Object;
use futures_util::FutureExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, SimpleQueryMessage, Statement, ToStatement};
use tracing::Instrument;

use super::tenant::TenantId;
use super::tracked::{ConnState, TrackedConnections};
use super::Shared;

/// Sets the tenant for the current transaction only (`is_local = true`).
pub(crate) const SET_TENANT_SQL: &str = "select pg_catalog.set_config($1, $2, true)";

/// Sent with `COMMIT` in the same round trip. It fails (SQLSTATE 22012, division by
/// zero) when the setting no longer holds this transaction's tenant, which aborts the
/// transaction so that the `COMMIT` behind it rolls back; in an already aborted
/// transaction it fails with 25P02. Either way `commit()` learns what `COMMIT` alone
/// would hide: PostgreSQL answers `COMMIT` of an aborted transaction with success.
pub(crate) const COMMIT_CHECK_SQL: &str =
    "select 1 / (pg_catalog.current_setting($1, true) is not distinct from $2)::int";

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

    /// Sends `BEGIN` and the tenant's `set_config` before awaiting either: both
    /// requests leave in the same write, so this costs the round trip of a plain
    /// `BEGIN` and no more. The `set_config` is the connection's named statement
    /// (Bind/Execute/Sync: no parse or plan), or, in PgBouncer transaction mode, an
    /// unnamed one (Parse/Bind/Execute/Sync, still no prepare round trip).
    pub(crate) async fn start(&mut self) -> Result<(), crate::Error> {
        let name = self.shared.setting.as_str();
        let value = self.tenant.as_setting_value();
        let client = &self.conn.client;
        let params: [&(dyn ToSql + Sync); 2] = [&name, &value];
        let (begin, set) = match &self.conn.prepared {
            Some(prepared) => {
                futures_util::join!(
                    client.batch_execute("BEGIN"),
                    client.query_one(&prepared.set_tenant, &params),
                )
            }
            None => {
                let typed: [(&(dyn ToSql + Sync), Type); 2] =
                    [(&name, Type::TEXT), (&value, Type::TEXT)];
                futures_util::join!(
                    client.batch_execute("BEGIN"),
                    client.query_typed_one(SET_TENANT_SQL, &typed),
                )
            }
        };
        let echoed = begin
            .and(set)
            .and_then(|row| row.try_get::<_, &str>(0).map(|v| v == value));
        match echoed {
            Ok(true) => Ok(()),
            Ok(false) => Err(crate::Error::TenantNotApplied),
            Err(source) => {
                self.discard_if_statements_lost(&source);
                Err(crate::Error::Begin { source })
            }
        }
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
    /// # Errors
    /// - [`crate::Error::TransactionAborted`] when a statement inside the transaction
    ///   failed (PostgreSQL then rolls back at `COMMIT`);
    /// - [`crate::Error::TenantChanged`] when the tenant setting no longer held this
    ///   transaction's tenant; the transaction is rolled back instead;
    /// - [`crate::Error::Commit`] when `COMMIT` itself failed.
    pub async fn commit(mut self) -> Result<(), crate::Error> {
        let span = self.span.clone();
        async {
            let name = self.shared.setting.as_str();
            let value = self.tenant.as_setting_value();
            let client = &self.conn.client;
            let params: [&(dyn ToSql + Sync); 2] = [&name, &value];
            let (check, commit) = match &self.conn.prepared {
                Some(prepared) => {
                    futures_util::join!(
                        client.query(&prepared.commit_check, &params),
                        client.batch_execute("COMMIT"),
                    )
                }
                None => {
                    let typed: [(&(dyn ToSql + Sync), Type); 2] =
                        [(&name, Type::TEXT), (&value, Type::TEXT)];
                    futures_util::join!(
                        client.query_typed(COMMIT_CHECK_SQL, &typed),
                        client.batch_execute("COMMIT"),
                    )
                }
            };
            let result = match (check, commit) {
                (Ok(_), Ok(())) => Ok(()),
                (Err(e), Ok(())) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                    Err(crate::Error::TransactionAborted)
                }
                (Err(e), Ok(())) if e.code() == Some(&SqlState::DIVISION_BY_ZERO) => {
                    Err(crate::Error::TenantChanged)
                }
                // Unknown outcome: keep the mark, the connection is checked before reuse.
                (Err(source), _) | (Ok(_), Err(source)) => {
                    self.discard_if_statements_lost(&source);
                    tracing::debug!(target: "pgsec_client::pool", "commit failed");
                    return Err(crate::Error::Commit { source });
                }
            };
            // COMMIT completed, so the session is outside any transaction.
            self.conn.state = ConnState::Idle;
            match &result {
                Ok(()) => tracing::debug!(target: "pgsec_client::pool", "committed"),
                Err(e) => tracing::warn!(target: "pgsec_client::pool", "commit rolled back: {e}"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Rolls back.
    ///
    /// # Errors
    /// [`crate::Error::Rollback`] when `ROLLBACK` failed; the connection is then checked
    /// again before reuse.
    pub async fn rollback(mut self) -> Result<(), crate::Error> {
        let span = self.span.clone();
        async {
            self.conn
                .client
                .batch_execute("ROLLBACK")
                .await
                .map_err(|source| crate::Error::Rollback { source })?;
            self.conn.state = ConnState::Idle;
            tracing::debug!(target: "pgsec_client::pool", "rolled back");
            Ok(())
        }
        .instrument(span)
        .await
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

impl Drop for TenantTx {
    fn drop(&mut self) {
        if self.conn.state == ConnState::Idle {
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
