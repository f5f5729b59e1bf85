//! Errors of [`crate::TenantPool`].

use std::fmt;

use super::tenant::InvalidName;

/// A failure to check a connection out of the pool (deadpool's error).
pub type CheckoutError = deadpool::managed::PoolError<tokio_postgres::Error>;

/// Everything that can go wrong building or using a [`crate::TenantPool`].
///
/// Errors never contain a tenant id, a password or a query parameter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A builder value is invalid; the message says which and what is allowed.
    #[error("invalid TenantPool setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The connection configuration is refused (weak sslmode, missing user, unreadable
    /// root certificate, ...).
    #[error("invalid connection configuration for the TenantPool: {source}")]
    Config {
        /// pgsec-client's configuration error.
        #[source]
        source: crate::Error,
    },

    /// A tenant id or setting name is invalid.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),

    /// The pool could not connect while being built.
    #[error("could not connect while building the TenantPool: {source}")]
    Connect {
        /// The underlying error (timeouts and TLS refusals included).
        #[source]
        source: CheckoutError,
    },

    /// The server refused to set the tenant setting (for example a prefix reserved by
    /// an extension).
    #[error(
        "the server refused the tenant setting {setting}: {source}; choose another \
         name with the pool builder's tenant_setting()"
    )]
    SettingRejected {
        /// The setting name.
        setting: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The start-up guard could not read what it checks.
    #[error("the start-up guard could not read the role and table facts: {source}")]
    GuardQuery {
        /// The failing query's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The start-up guard found the role or the tables unsafe for tenant isolation.
    #[error("{}", refusal_message(.findings))]
    Unsafe {
        /// The findings of pgsec-core's rules that refused the pool.
        findings: Vec<pgsec_core::Finding>,
    },

    /// No connection could be checked out (pool closed, timeout, connect failure).
    #[error("no connection available: {source}")]
    Checkout {
        /// deadpool's error.
        #[source]
        source: CheckoutError,
    },

    /// `BEGIN` or the tenant's `set_config` failed; the connection is rolled back
    /// before it is reused.
    #[error("could not begin the tenant transaction: {source}")]
    Begin {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server reported a different tenant value than the one sent.
    #[error("the server did not apply the tenant setting; the transaction is rolled back")]
    TenantNotApplied,

    /// A statement inside the transaction failed, so PostgreSQL rolled the whole
    /// transaction back at `COMMIT`.
    #[error(
        "the transaction was aborted by an earlier error and has been rolled back; \
         nothing was committed"
    )]
    TransactionAborted,

    /// At commit, the tenant setting no longer held this transaction's tenant: a
    /// statement inside the transaction changed it or ended the transaction early.
    #[error(
        "the tenant setting changed inside the transaction (a statement set it or ended \
         the transaction); commit() rolled back instead of committing"
    )]
    TenantChanged,

    /// `COMMIT` failed (for example a deferred constraint or a serialization failure).
    #[error("commit failed: {source}")]
    Commit {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// `ROLLBACK` failed; the connection is checked again before reuse.
    #[error("rollback failed: {source}")]
    Rollback {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl PoolError {
    /// The SQLSTATE of the server error behind this error, if any.
    #[must_use]
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            PoolError::SettingRejected { source, .. }
            | PoolError::GuardQuery { source }
            | PoolError::Begin { source }
            | PoolError::Commit { source }
            | PoolError::Rollback { source } => source.code(),
            _ => None,
        }
    }
}

fn refusal_message(findings: &[pgsec_core::Finding]) -> String {
    let mut out = format!(
        "the start-up guard refused the connection role ({} finding{}); fix them, or opt out \
         with dangerous_skip_startup_guard()",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    for finding in findings {
        out.push_str("\n  - ");
        out.push_str(&FindingLine(finding).to_string());
    }
    out
}

/// One finding on one line: `[severity] id: title (evidence) — fix: remediation`.
struct FindingLine<'a>(&'a pgsec_core::Finding);

impl fmt::Display for FindingLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finding = self.0;
        write!(
            f,
            "[{}] {}: {} ({}); fix: {}",
            finding.severity(),
            finding.id(),
            finding.title(),
            finding.evidence(),
            finding.remediation().replace('\n', " ")
        )
    }
}
