//! The one error type of pgsec-client, and the typed certificate refusal.
//!
//! No variant ever holds a password: connection strings are parsed into [`crate::Config`]
//! before anything can fail with a message, and values of the `password` key are never
//! echoed.

use std::fmt;
use std::path::PathBuf;

use crate::options::SslMode;
use crate::pool::InvalidName;

/// A failure to check a connection out of the pool (deadpool's error), inside
/// [`Error::PoolConnect`] and [`Error::Checkout`].
pub type CheckoutError = deadpool::managed::PoolError<tokio_postgres::Error>;

/// Everything that can go wrong in pgsec-client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string or URL does not parse.
    #[error("invalid connection string: {reason}")]
    Syntax {
        /// What is wrong, without the offending value when it could be a secret.
        reason: String,
    },

    /// A key is not a connection option pgsec-client knows.
    #[error("invalid connection option \"{key}\"")]
    UnknownOption {
        /// The unknown key.
        key: String,
    },

    /// A connection option has a value that is not allowed.
    #[error("invalid value for {key}: {reason}")]
    InvalidValue {
        /// The option (or environment variable) name.
        key: String,
        /// Why the value is refused (never the value of a secret).
        reason: String,
    },

    /// A libpq option that pgsec-client deliberately does not implement, because
    /// ignoring it silently could weaken the connection or change its meaning.
    #[error("connection option \"{key}\" is not supported by pgsec-client: {reason}")]
    Unsupported {
        /// The option.
        key: String,
        /// Why it is not supported and what to do instead.
        reason: String,
    },

    /// Something needed to connect is missing (user name, host name for verification, ...).
    #[error("{what} is missing: {fix}")]
    Missing {
        /// What is missing.
        what: String,
        /// How to provide it.
        fix: String,
    },

    /// The requested sslmode would not verify the server's identity over TCP, and the
    /// configuration has not opted in to that explicitly.
    #[error("{}", weak_sslmode_message(*.mode))]
    WeakSslMode {
        /// The refused mode.
        mode: SslMode,
    },

    /// A certificate or key file could not be used.
    #[error("{what} \"{path}\": {reason}")]
    CertificateFile {
        /// Which file ("root certificate file", "client certificate file", ...).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// Building the TLS configuration failed (for example a client key not matching
    /// its certificate).
    #[error("TLS configuration: {0}")]
    TlsConfig(#[source] rustls::Error),

    /// The server's certificate was refused. The [`CertificateRefusal`] says what was
    /// expected and what was presented.
    #[error("connection to {host} refused: {refusal}")]
    Certificate {
        /// The host name the certificate was checked against.
        host: String,
        /// Why it was refused.
        #[source]
        refusal: CertificateRefusal,
    },

    /// The TLS handshake failed for another reason than the certificate check.
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// The host of the handshake.
        host: String,
        /// The I/O or rustls error.
        #[source]
        source: std::io::Error,
    },

    /// Connecting or authenticating failed (tokio-postgres error).
    #[error("could not connect: {}", error_chain(.0))]
    Connect(#[source] tokio_postgres::Error),

    /// A query on an established connection failed.
    #[error("query failed: {}", error_chain(.0))]
    Query(#[source] tokio_postgres::Error),

    // TenantPool: building, checking out, and the tenant transaction. These never
    // contain a tenant id, a password or a query parameter.
    /// A [`crate::TenantPool`] builder value is invalid; the message says which and what
    /// is allowed.
    #[error("invalid TenantPool setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// A tenant id or setting name is invalid.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),

    /// The [`crate::TenantPool`] could not connect while being built.
    #[error("could not connect while building the TenantPool: {source}")]
    PoolConnect {
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

    /// `BEGIN` or the tenant's `SET LOCAL` failed; the connection is rolled back and
    /// reset before it is reused.
    #[error("could not begin the tenant transaction: {source}")]
    Begin {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },

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

/// tokio-postgres' `Display` names only the kind ("db error"); the cause is what a person
/// needs, so it is appended (server messages never contain the password).
fn error_chain(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        text.push_str(": ");
        text.push_str(&err.to_string());
        cur = err.source();
    }
    text.replace('\n', " ")
}

fn weak_sslmode_message(mode: SslMode) -> String {
    let what = match mode {
        SslMode::Require => "does not verify the server's identity",
        SslMode::VerifyCa => {
            "checks the certificate chain but not that the certificate was issued for this host"
        }
        _ => "may connect without TLS and does not verify the server's identity",
    };
    format!(
        "sslmode={} {what}; use sslmode=verify-full with sslrootcert=/path/to/ca.crt \
         (or sslrootcert=system)",
        mode.as_str()
    )
}

impl Error {
    /// The SQLSTATE of the server error behind this error, if any.
    #[must_use]
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            Error::SettingRejected { source, .. }
            | Error::GuardQuery { source }
            | Error::Begin { source }
            | Error::Commit { source }
            | Error::Rollback { source } => source.code(),
            Error::Connect(source) | Error::Query(source) => source.code(),
            _ => None,
        }
    }

    pub(crate) fn syntax(reason: impl Into<String>) -> Self {
        Error::Syntax {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The certificate refusal behind this error, if the server's certificate was refused.
    ///
    /// Also finds a refusal wrapped inside a `tokio_postgres::Error` (see
    /// [`certificate_refusal`]).
    pub fn certificate_refusal(&self) -> Option<&CertificateRefusal> {
        match self {
            Error::Certificate { refusal, .. } => Some(refusal),
            Error::Connect(e) | Error::Query(e) => certificate_refusal(e),
            _ => None,
        }
    }

    /// Lifts a certificate refusal or TLS failure out of a tokio-postgres error so that
    /// callers see [`Error::Certificate`] directly.
    pub(crate) fn from_connect(e: tokio_postgres::Error) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(err) = cur {
            if let Some(Error::Certificate { host, refusal }) = err.downcast_ref::<Error>() {
                return Error::Certificate {
                    host: host.clone(),
                    refusal: refusal.clone(),
                };
            }
            cur = err.source();
        }
        Error::Connect(e)
    }
}

/// Finds a [`CertificateRefusal`] anywhere in an error's `source()` chain, for example in
/// the `tokio_postgres::Error` that a pool returns when the connector of
/// [`crate::Config::make_tls_connect`] refused a server.
pub fn certificate_refusal<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CertificateRefusal> {
    let mut cur = Some(error);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<CertificateRefusal>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// Why a server certificate was refused. Every variant carries what was expected and
/// what the server presented, and its message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateRefusal {
    /// The certificate's subjectAltNames do not cover the host name.
    NameMismatch {
        /// The `host` connected to.
        expected: String,
        /// The names (DNS and IP subjectAltNames) in the certificate.
        presented: Vec<String>,
    },
    /// The certificate has no subjectAltName at all. libpq would fall back to the
    /// subject's common name; pgsec-client does not.
    NoSubjectAltName {
        /// The `host` connected to.
        expected: String,
        /// The subject CN, if any (not used for matching).
        common_name: Option<String>,
    },
    /// The chain does not lead to a trusted root.
    UnknownIssuer {
        /// Subject of the server certificate.
        subject: String,
        /// Issuer of the server certificate.
        issuer: String,
        /// How many intermediate certificates the server sent.
        intermediates_sent: usize,
        /// Where the trusted roots came from (`sslrootcert=...`).
        trusted: String,
    },
    /// The server certificate (or one in its chain) has expired.
    Expired {
        /// Subject of the server certificate.
        subject: String,
        /// notAfter of the server certificate, UTC.
        not_after: String,
        /// The time of the check, UTC.
        checked_at: String,
    },
    /// The server certificate (or one in its chain) is not valid yet.
    NotYetValid {
        /// Subject of the server certificate.
        subject: String,
        /// notBefore of the server certificate, UTC.
        not_before: String,
    },
    /// Any other reason (bad signature, unsupported algorithm, wrong key usage, ...).
    Invalid {
        /// Subject of the server certificate, when it could be parsed.
        subject: String,
        /// rustls/webpki's reason.
        reason: String,
    },
}

impl fmt::Display for CertificateRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateRefusal::NameMismatch {
                expected,
                presented,
            } => {
                let first = presented.first().map(String::as_str).unwrap_or("");
                write!(
                    f,
                    "server certificate is valid for {}, not {expected}; connect with host={first} \
                     (hostaddr= can still name the address) or reissue the certificate with \
                     subjectAltName {}:{expected}",
                    presented.join(", "),
                    if expected.parse::<std::net::IpAddr>().is_ok() {
                        "IP"
                    } else {
                        "DNS"
                    }
                )
            }
            CertificateRefusal::NoSubjectAltName {
                expected,
                common_name,
            } => {
                match common_name {
                    Some(cn) => write!(
                        f,
                        "server certificate has no subjectAltName, only the common name {cn:?}; \
                         libpq would accept the common name, pgsec does not (RFC 6125 deprecates \
                         it and name constraints do not apply to it)"
                    )?,
                    None => write!(
                        f,
                        "server certificate has no subjectAltName and no common name"
                    )?,
                }
                write!(
                    f,
                    "; expected a subjectAltName for {expected}: reissue the certificate with \
                     subjectAltName {}:{expected}",
                    if expected.parse::<std::net::IpAddr>().is_ok() {
                        "IP"
                    } else {
                        "DNS"
                    }
                )
            }
            CertificateRefusal::UnknownIssuer {
                subject,
                issuer,
                intermediates_sent,
                trusted,
            } => write!(
                f,
                "server certificate \"{subject}\" was issued by \"{issuer}\", which does not chain \
                 to a root in {trusted} (the server sent {intermediates_sent} intermediate \
                 certificate(s)); trust the issuing CA's root in sslrootcert, or make the server \
                 send its intermediates (ssl_cert_file holding the leaf followed by the chain)"
            ),
            CertificateRefusal::Expired {
                subject,
                not_after,
                checked_at,
            } => write!(
                f,
                "server certificate \"{subject}\" (or a certificate of its chain) expired; valid \
                 until {not_after}, checked at {checked_at}: renew the certificate"
            ),
            CertificateRefusal::NotYetValid {
                subject,
                not_before,
            } => write!(
                f,
                "server certificate \"{subject}\" (or a certificate of its chain) is not valid \
                 before {not_before}; check the clocks of client and server"
            ),
            CertificateRefusal::Invalid { subject, reason } => {
                write!(f, "server certificate \"{subject}\" is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for CertificateRefusal {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
