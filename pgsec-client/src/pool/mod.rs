//! `TenantPool`: a deadpool-postgres pool where every transaction carries its tenant.
//!
//! - [`TenantPool::begin`] checks a connection out and sends `BEGIN; SET LOCAL
//!   <setting> = '<tenant>'` as one simple query: the tenant costs no extra round trip
//!   and no planned statement.
//! - [`TenantTx::commit`] sends the pool's check, `COMMIT` and a reset of the session
//!   (`SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; DISCARD
//!   TEMP; DISCARD SEQUENCES`) as one simple query, so the next tenant gets the session
//!   a fresh connection has. The check is prepared once per connection when it is
//!   opened (SQL `PREPARE`); behind PgBouncer in transaction mode
//!   ([`TenantPoolBuilder::pgbouncer_transaction_mode`]) it is sent inline instead.
//! - Connections are tracked: one returned inside a transaction (a dropped guard, a
//!   cancelled future, a panic) is rolled back, reset and checked before reuse, or
//!   discarded.
//! - Building the pool runs a start-up guard made of pgsec-core's rules.

mod guard;
mod session;
mod tenant;
mod tracked;
mod tx;
mod unscoped;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{Object, Pool};
use deadpool::Runtime;
use deadpool_postgres::{ManagerConfig, RecyclingMethod};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::Socket;
use tracing::Instrument;

pub use guard::GUARD_RULES;
pub use session::RESET_SQL as SESSION_RESET_SQL;
pub use tenant::{
    InvalidName, SettingName, TenantId, TenantKind, DEFAULT_TENANT_SETTING, SETTING_NAME_MAX_LEN,
    TENANT_TEXT_MAX_LEN,
};
pub use tx::TenantTx;
pub use unscoped::UnscopedConnection;

use session::SessionSql;
use tracked::{ConnState, TrackedConnections};

fn manager_from<T>(pg_config: tokio_postgres::Config, tls: T) -> deadpool_postgres::Manager
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    deadpool_postgres::Manager::from_config(
        pg_config,
        tls,
        ManagerConfig {
            // The tracked state decides when a recycle needs a round trip (tracked.rs).
            recycling_method: RecyclingMethod::Fast,
        },
    )
}

/// Settings shared by the pool and its transactions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) setting: SettingName,
    pub(crate) record_tenant: bool,
    /// The statements that carry the tenant and reset the session.
    pub(crate) sql: SessionSql,
}

/// A pool of PostgreSQL connections that only runs statements inside tenant
/// transactions.
///
/// Cloning is cheap and shares the pool.
///
/// ```no_run
/// # async fn run(pool: pgsec_client::TenantPool) -> Result<(), Box<dyn std::error::Error>> {
/// use pgsec_client::TenantId;
/// let tenant: TenantId = "acme".parse()?;
/// let tx = pool.begin(&tenant).await?;
/// let rows = tx.query("select id from invoices", &[]).await?; // RLS sees tenant acme
/// tx.commit().await?;
/// # let _ = rows; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TenantPool {
    pool: Pool<TrackedConnections>,
    shared: Arc<Shared>,
}

impl TenantPool {
    /// A builder for a pool that connects with `config`: verify-full TLS over TCP
    /// (chain and host name, pgsec-client's verifier), or a Unix socket.
    ///
    /// A configuration that would not verify the server (a weak sslmode without its
    /// dangerous opt-in) makes `build()` fail with the configuration's error (e.g.
    /// [`crate::Error::WeakSslMode`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = pgsec_client::Config::parse(
    ///     "host=db.example.com user=app dbname=app sslmode=verify-full sslrootcert=/etc/ssl/pg-ca.crt",
    /// )?;
    /// let pool = pgsec_client::TenantPool::builder(&config).max_size(16).build().await?;
    /// # drop(pool); Ok(()) }
    /// ```
    pub fn builder(config: &crate::Config) -> TenantPoolBuilder {
        let manager = config.to_tokio_config().and_then(|pg_config| {
            let tls = config.make_tls_connect()?;
            Ok(manager_from(pg_config, tls))
        });
        TenantPoolBuilder::new(manager)
    }

    /// A builder for a pool that connects with a tokio-postgres configuration and the
    /// given TLS connector.
    ///
    /// **Dangerous**: tokio-postgres cannot verify the server's identity by itself
    /// (it has no `verify-full`); whether this pool's connections are verified depends
    /// entirely on `tls` and `pg_config`'s sslmode. A connector that skips certificate
    /// or host-name checks, or `NoTls`, makes every tenant's data readable and
    /// forgeable on the network.
    pub fn dangerous_builder_from_tokio_postgres<T>(
        pg_config: tokio_postgres::Config,
        tls: T,
    ) -> TenantPoolBuilder
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        TenantPoolBuilder::new(Ok(manager_from(pg_config, tls)))
    }

    /// Begins a transaction for `tenant`.
    ///
    /// `BEGIN` and `SET LOCAL <setting> = '<tenant>'` are sent as one simple query, so
    /// this takes the round trip of a plain `BEGIN`. The tenant is a validated
    /// [`TenantId`] quoted with postgres-protocol's literal escaping. Cancelling the
    /// returned future at any point leaves nothing behind: the connection is rolled
    /// back, reset and checked before it is reused.
    ///
    /// # Errors
    /// [`crate::Error::Checkout`] when no connection is available, [`crate::Error::Begin`]
    /// when the server refuses `BEGIN` or the setting or the connection breaks. Nothing
    /// was committed; [`crate::Error::is_retry_safe`] says whether trying again may
    /// succeed (pool timeouts, lost connections, a terminated backend).
    pub async fn begin(&self, tenant: &TenantId) -> Result<TenantTx, crate::Error> {
        let span = tracing::info_span!(
            target: "pgsec_client::pool",
            "tenant_tx",
            setting = %self.shared.setting,
            tenant = tracing::field::Empty,
        );
        if self.shared.record_tenant {
            span.record("tenant", tenant.as_setting_value());
        }
        let inner_span = span.clone();
        async move {
            let conn = self.checkout().await?;
            let mut tx = TenantTx::new(conn, tenant.clone(), Arc::clone(&self.shared), inner_span);
            tx.start().await?;
            tracing::debug!(target: "pgsec_client::pool", "began");
            Ok(tx)
        }
        .instrument(span)
        .await
    }

    /// Checks out a connection **without any tenant scope**.
    ///
    /// For migrations and maintenance only: statements see no tenant, so row-level
    /// security policies deny or, for a role that bypasses them, allow everything. The
    /// connection is closed after use rather than returned to other callers, because
    /// its session state cannot be verified. Every call is logged at `warn`.
    ///
    /// # Errors
    /// [`crate::Error::Checkout`] when no connection is available.
    pub async fn dangerous_unscoped_connection(&self) -> Result<UnscopedConnection, crate::Error> {
        tracing::warn!(
            target: "pgsec_client::pool",
            "unscoped connection checked out of the TenantPool: no tenant is set"
        );
        Ok(UnscopedConnection::new(self.checkout().await?))
    }

    async fn checkout(&self) -> Result<Object<TrackedConnections>, crate::Error> {
        self.pool.get().await.map_err(|e| crate::Error::Checkout {
            source: crate::error::CheckoutError::new(e),
        })
    }

    /// The setting that carries the tenant.
    #[must_use]
    pub fn tenant_setting(&self) -> &SettingName {
        &self.shared.setting
    }

    /// Current pool size and availability.
    #[must_use]
    pub fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        }
    }

    /// Closes the pool: waiting and future checkouts fail, idle connections close.
    pub fn close(&self) {
        self.pool.close();
    }
}

impl fmt::Debug for TenantPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantPool")
            .field("setting", &self.shared.setting)
            .field("record_tenant_ids", &self.shared.record_tenant)
            .field("status", &self.status())
            .finish()
    }
}

/// A snapshot of the pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Most connections the pool opens.
    pub max_size: usize,
    /// Connections currently open.
    pub size: usize,
    /// Open connections not checked out.
    pub available: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// Builds a [`TenantPool`]. `build()` validates, connects once and runs the start-up
/// guard.
#[must_use = "a builder does nothing until build() is awaited"]
pub struct TenantPoolBuilder {
    manager: Result<deadpool_postgres::Manager, crate::Error>,
    max_size: usize,
    setting: SettingName,
    tenant_columns: Vec<String>,
    startup_guard: bool,
    record_tenant_ids: bool,
    pgbouncer_transaction_mode: bool,
    wait_timeout: Option<Duration>,
    create_timeout: Option<Duration>,
    recycle_timeout: Option<Duration>,
}

/// Default number of connections.
const DEFAULT_MAX_SIZE: usize = 10;
/// Default time to open a connection.
const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to recycle (roll back and verify) a connection before it is discarded.
const DEFAULT_RECYCLE_TIMEOUT: Duration = Duration::from_secs(10);

impl TenantPoolBuilder {
    fn new(manager: Result<deadpool_postgres::Manager, crate::Error>) -> Self {
        Self {
            manager,
            max_size: DEFAULT_MAX_SIZE,
            setting: SettingName::default(),
            tenant_columns: vec!["tenant_id".to_owned()],
            startup_guard: true,
            record_tenant_ids: false,
            pgbouncer_transaction_mode: false,
            wait_timeout: None,
            create_timeout: Some(DEFAULT_CREATE_TIMEOUT),
            recycle_timeout: Some(DEFAULT_RECYCLE_TIMEOUT),
        }
    }

    /// Most connections the pool opens (default 10; at least 1).
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// The setting that carries the tenant (default `app.current_tenant_id`).
    pub fn tenant_setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// Column names that make a table a tenant table for the start-up guard (default
    /// `tenant_id`), as in pgsec-core's `Policy::tenant_columns`.
    pub fn tenant_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenant_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Record the tenant id in each transaction's tracing span (default off: spans
    /// carry only the setting name, since tenant ids can identify customers).
    pub fn record_tenant_ids(mut self, record: bool) -> Self {
        self.record_tenant_ids = record;
        self
    }

    /// Connect through PgBouncer in transaction pooling mode (default off).
    ///
    /// By default each connection prepares the pool's two checks (SQL `PREPARE
    /// pgsec_commit_check`, `pgsec_clean_check`) once, when it is opened, and `commit`
    /// runs them with `EXECUTE`. Behind PgBouncer's transaction pooling consecutive
    /// transactions may run on different server connections, where those statements
    /// do not exist, so with this set every commit sends the check inline instead
    /// (parsed and planned each time; still no extra round trip).
    pub fn pgbouncer_transaction_mode(mut self, enabled: bool) -> Self {
        self.pgbouncer_transaction_mode = enabled;
        self
    }

    /// Longest wait for a free connection (default: wait indefinitely).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }

    /// Longest time to open a connection (default 30 s).
    pub fn create_timeout(mut self, timeout: Duration) -> Self {
        self.create_timeout = Some(timeout);
        self
    }

    /// Longest time to roll back and verify an interrupted connection before it is
    /// discarded (default 10 s).
    pub fn recycle_timeout(mut self, timeout: Duration) -> Self {
        self.recycle_timeout = Some(timeout);
        self
    }

    /// **Dangerous**: build the pool without the start-up guard, so a superuser, a
    /// BYPASSRLS role, a table owner, tables without forced row-level security or a
    /// server without TLS are accepted and tenant isolation may silently not hold.
    /// `build()` logs a warning when this is set.
    pub fn dangerous_skip_startup_guard(mut self) -> Self {
        self.startup_guard = false;
        self
    }

    fn validate(&self) -> Result<(), crate::Error> {
        let invalid = |setting, reason: &str| {
            Err(crate::Error::InvalidSetting {
                setting,
                reason: reason.to_owned(),
            })
        };
        if self.max_size == 0 {
            return invalid("max_size", "must be at least 1");
        }
        if self.tenant_columns.is_empty() {
            return invalid("tenant_columns", "name at least one column");
        }
        for column in &self.tenant_columns {
            // Bound as parameters, never spliced; this only catches mistakes.
            if column.is_empty() || column.len() > 63 || column.contains('\0') {
                return invalid(
                    "tenant_columns",
                    "each column name must be 1 to 63 bytes without NUL",
                );
            }
        }
        let timeouts = [
            ("wait_timeout", self.wait_timeout),
            ("create_timeout", self.create_timeout),
            ("recycle_timeout", self.recycle_timeout),
        ];
        for (name, timeout) in timeouts {
            if timeout == Some(Duration::ZERO) {
                return invalid(name, "must be longer than zero");
            }
        }
        Ok(())
    }

    /// Validates the settings, connects once, checks that the server accepts the
    /// tenant setting, and runs the start-up guard (unless skipped).
    ///
    /// # Errors
    /// - [`crate::Error::InvalidSetting`] for a bad builder value;
    /// - the configuration's error when the connection configuration is refused (e.g.
    ///   [`crate::Error::WeakSslMode`] for an sslmode below verify-full);
    /// - [`crate::Error::PoolConnect`] when the first connection fails;
    /// - [`crate::Error::Unsafe`] when the guard refuses, listing pgsec-core's findings
    ///   of [`GUARD_RULES`] with their objects and fixes: the role is, or can become
    ///   through any chain of memberships (`SET ROLE`), a superuser or a BYPASSRLS role
    ///   (`role.app_superuser`, `role.bypassrls`); it owns a table or can act as its
    ///   owner (`priv.app_owns_tables`); a tenant table lacks enabled or forced RLS
    ///   (`rls.disabled`, `rls.not_forced`); a view, materialized view or SECURITY
    ///   DEFINER function that runs as a role bypassing the policies exposes a tenant
    ///   table to the role (`rls.view_bypass`, `rls.definer_function`); the tenant
    ///   setting has a non-empty default for the role's sessions
    ///   (`rls.tenant_setting_default`); the server has `ssl = off` (`tls.ssl_off`); or
    ///   one of these rules could not be decided;
    /// - [`crate::Error::GuardQuery`] when the connection fails while the guard reads
    ///   its facts;
    /// - [`crate::Error::SettingRejected`] when the server refuses the setting name.
    pub async fn build(self) -> Result<TenantPool, crate::Error> {
        self.validate()?;
        let manager = self.manager?;
        let sql = SessionSql::new(&self.setting, !self.pgbouncer_transaction_mode);
        let shared = Arc::new(Shared {
            setting: self.setting.clone(),
            record_tenant: self.record_tenant_ids,
            sql: sql.clone(),
        });
        let pool = Pool::builder(TrackedConnections::new(manager, sql))
            .max_size(self.max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(self.wait_timeout)
            .create_timeout(self.create_timeout)
            .recycle_timeout(self.recycle_timeout)
            .build()
            .map_err(|e| crate::Error::InvalidSetting {
                setting: "runtime",
                reason: e.to_string(),
            })?;
        let result = async {
            let mut conn: Object<TrackedConnections> =
                pool.get().await.map_err(|e| crate::Error::PoolConnect {
                    source: crate::error::CheckoutError::new(e),
                })?;
            // A setting name the server refuses is the more basic error: first.
            try_setting(&mut conn, &shared).await?;
            if self.startup_guard {
                guard::check(&conn.client, &self.tenant_columns, &shared.setting).await
            } else {
                tracing::warn!(
                    target: "pgsec_client::pool",
                    "TenantPool start-up guard SKIPPED (dangerous_skip_startup_guard): a \
                     superuser, BYPASSRLS or table-owning role, tables without forced RLS \
                     or a server without TLS would not be refused"
                );
                Ok(())
            }
        }
        .await;
        match result {
            Ok(()) => Ok(TenantPool { pool, shared }),
            Err(e) => {
                pool.close();
                Err(e)
            }
        }
    }
}

/// Sets the tenant setting once inside a rolled-back transaction, so a name the
/// server refuses (a reserved prefix) fails the build instead of every `begin`.
async fn try_setting(
    conn: &mut Object<TrackedConnections>,
    shared: &Shared,
) -> Result<(), crate::Error> {
    conn.state = ConnState::MaybeInTransaction;
    conn.client
        .batch_execute(&shared.sql.probe_setting())
        .await
        .map_err(|source| crate::Error::SettingRejected {
            setting: shared.setting.to_string(),
            source,
        })?;
    conn.state = ConnState::Idle;
    Ok(())
}

impl fmt::Debug for TenantPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantPoolBuilder")
            .field("max_size", &self.max_size)
            .field("setting", &self.setting)
            .field("tenant_columns", &self.tenant_columns)
            .field("startup_guard", &self.startup_guard)
            .field("record_tenant_ids", &self.record_tenant_ids)
            .field(
                "pgbouncer_transaction_mode",
                &self.pgbouncer_transaction_mode,
            )
            .field("wait_timeout", &self.wait_timeout)
            .field("create_timeout", &self.create_timeout)
            .field("recycle_timeout", &self.recycle_timeout)
            .finish_non_exhaustive()
    }
}
