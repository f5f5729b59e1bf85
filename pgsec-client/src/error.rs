//! The one error type of pgsec-client, and the typed certificate refusal.
//!
//! No variant ever holds a password: connection strings are parsed into [`crate::Config`]
//! before anything can fail with a message, and values of the `password` key are never
//! echoed.

use std::fmt;
use std::path::PathBuf;

use crate::auth::{AuthMethod, RequireAuth};
use crate::options::{SslMode, TargetSessionAttrs};
use crate::pool::InvalidName;

/// Why no connection could be checked out of a [`crate::TenantPool`], inside
/// [`Error::PoolConnect`] and [`Error::Checkout`]: a timeout, a closed pool, or a
/// connection that could not be opened (its error in `source()`). Opaque, so that the
/// API does not change with the pool implementation's version.
#[derive(Debug)]
pub struct CheckoutError(deadpool::managed::PoolError<tokio_postgres::Error>);

impl CheckoutError {
    pub(crate) fn new(e: deadpool::managed::PoolError<tokio_postgres::Error>) -> Self {
        CheckoutError(e)
    }

    /// Whether the pool timed out: waiting for a free connection (`wait_timeout`),
    /// opening one (`create_timeout`) or checking a returned one (`recycle_timeout`).
    pub fn is_timeout(&self) -> bool {
        matches!(self.0, deadpool::managed::PoolError::Timeout(_))
    }

    /// Whether the pool has been closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.0, deadpool::managed::PoolError::Closed)
    }

    /// The error of a connection that could not be opened, if that is what happened.
    pub fn connect_error(&self) -> Option<&tokio_postgres::Error> {
        use deadpool::managed::{HookError, PoolError};
        match &self.0 {
            PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use deadpool::managed::{HookError, PoolError, TimeoutType};
        f.write_str(match &self.0 {
            PoolError::Backend(_) => "could not open a connection",
            PoolError::Timeout(TimeoutType::Wait) => {
                "timed out waiting for a free connection (wait_timeout)"
            }
            PoolError::Timeout(TimeoutType::Create) => {
                "timed out opening a new connection (create_timeout)"
            }
            PoolError::Timeout(TimeoutType::Recycle) => {
                "timed out checking a returned connection (recycle_timeout)"
            }
            PoolError::Closed => "the pool is closed",
            PoolError::NoRuntimeSpecified => "the pool has no async runtime for its timeouts",
            PoolError::PostCreateHook(HookError::Backend(_)) => {
                "the pool's post-create hook could not use the new connection"
            }
            PoolError::PostCreateHook(HookError::Message(m)) => {
                return write!(f, "the pool's post-create hook refused the connection: {m}");
            }
        })
    }
}

impl std::error::Error for CheckoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.connect_error()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

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

    /// A key is not a connection option pgsec-client knows. The key itself is not kept:
    /// a mistyped string may have put a password where a key belongs.
    #[error("{}", unknown_option_message(*.position, *.suggestion))]
    UnknownOption {
        /// Where the key starts in the connection string (1-based, in characters), when
        /// it came from one.
        position: Option<usize>,
        /// The known option the key is closest to, if any ("did you mean ...").
        suggestion: Option<&'static str>,
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
    #[error("invalid TLS configuration")]
    TlsConfig(#[source] rustls::Error),

    /// The server's certificate was refused. The [`CertificateRefusal`] says what was
    /// expected and what was presented.
    #[error("connection to {host} refused")]
    Certificate {
        /// The host name the certificate was checked against.
        host: String,
        /// Why it was refused.
        #[source]
        refusal: CertificateRefusal,
    },

    /// The TLS handshake failed for another reason than the certificate check.
    #[error("TLS handshake with {host} failed")]
    Tls {
        /// The host of the handshake.
        host: String,
        /// The I/O or rustls error.
        #[source]
        source: std::io::Error,
    },

    /// The server did not meet a TLS requirement of the connection options: it did not
    /// accept a direct TLS handshake or did not select ALPN `postgresql`
    /// (`sslnegotiation=direct`), or it did not ask for a client certificate
    /// (`sslcertmode=require`). Nothing but the TLS handshake was sent to it.
    #[error("connection to {host} refused ({option}): {reason}")]
    TlsRequirement {
        /// The host of the handshake.
        host: String,
        /// The option that set the requirement (`sslnegotiation=direct`, ...).
        option: &'static str,
        /// What the server did and what to do about it.
        reason: String,
    },

    /// Connecting or authenticating failed (tokio-postgres error).
    #[error("could not connect")]
    Connect(#[source] tokio_postgres::Error),

    /// The Unix-domain socket could not be opened.
    #[error(
        "could not connect to the server's socket {} (is the server running, with this \
         directory in unix_socket_directories and this port?)",
        .socket.display()
    )]
    Socket {
        /// The socket file (`<dir>/.s.PGSQL.<port>`).
        socket: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// `requirepeer` is set and the process behind the Unix-domain socket does not run
    /// as that user (or its user could not be determined). Nothing was sent to it: no
    /// startup message, no password.
    #[error("{}", require_peer_message(.socket, .expected, *.peer_uid, .peer_user.as_deref()))]
    RequirePeer {
        /// The socket file.
        socket: PathBuf,
        /// The `requirepeer` value.
        expected: String,
        /// The peer's user id (`SO_PEERCRED`), `None` when the system did not say.
        peer_uid: Option<u32>,
        /// The peer's user name, `None` when the user id has no entry in `/etc/passwd`.
        peer_user: Option<String>,
    },

    /// The server asked for an authentication method that `require_auth` does not
    /// allow (or let the client in without authentication when `require_auth` demands
    /// one). The request was not answered: no password or hash was sent.
    #[error(
        "{}; nothing was sent in answer. Check the server's pg_hba.conf line for this \
         user and database, or connect with a require_auth that admits {}",
        auth_refused_message(.server, *.requested, *.require_auth),
        .requested.as_str()
    )]
    AuthMethodRefused {
        /// The host name or socket path of the server.
        server: String,
        /// What the server asked for ([`AuthMethod::None`]: no authentication at all).
        requested: AuthMethod,
        /// The `require_auth` setting that refused it.
        require_auth: RequireAuth,
    },

    /// No host matched `target_session_attrs` (Unix-socket connections, which
    /// pgsec-client opens itself).
    #[error(
        "the server at {server} {}, and target_session_attrs={} asks for one that {}",
        if *.wanted == TargetSessionAttrs::ReadWrite { "is read-only" } else { "accepts writes" },
        .wanted.as_str(),
        if *.wanted == TargetSessionAttrs::ReadWrite { "accepts writes" } else { "is read-only" }
    )]
    TargetSessionAttrs {
        /// The socket path.
        server: String,
        /// What was asked for.
        wanted: TargetSessionAttrs,
    },

    /// A query on an established connection failed.
    #[error("query failed")]
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

    /// The [`crate::TenantPool`] could not connect while being built. The message
    /// carries the cause (the server's message, the certificate refusal, ...).
    #[error("could not connect while building the TenantPool")]
    PoolConnect {
        /// The underlying error (timeouts and TLS refusals included).
        #[source]
        source: CheckoutError,
    },

    /// The server refused to set the tenant setting (for example a prefix reserved by
    /// an extension).
    #[error(
        "the server refused the tenant setting {setting} (choose another name with the \
         pool builder's tenant_setting())"
    )]
    SettingRejected {
        /// The setting name.
        setting: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The start-up guard could not read what it checks.
    #[error("the start-up guard could not read the role and table facts")]
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
    #[error("no connection available")]
    Checkout {
        /// deadpool's error.
        #[source]
        source: CheckoutError,
    },

    /// `BEGIN` or the tenant's `SET LOCAL` failed; the connection is rolled back and
    /// reset before it is reused.
    #[error("could not begin the tenant transaction")]
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

    /// The pool's check or `COMMIT` failed and nothing was committed: the server
    /// refused (a deferred constraint, a serialization failure, the backend ended
    /// before `COMMIT` ran), or the connection had closed before the commit was sent.
    /// [`Error::is_retry_safe`] says whether running the transaction again may succeed.
    #[error("commit failed, nothing was committed")]
    Commit {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The commit was sent, and its answer was lost: the connection broke (or the
    /// session ended while `COMMIT` ran) before `COMMIT`'s result arrived. The
    /// transaction may have committed or not, so this is neither success nor failure:
    /// running it again blindly could apply it twice. Find out first (for example by
    /// looking for a key the transaction wrote), then retry or not.
    #[error(
        "the outcome of the commit is unknown: the connection was lost before the answer \
         to COMMIT arrived; the transaction may or may not have committed, check before \
         running it again"
    )]
    CommitOutcomeUnknown {
        /// The connection's error (or the server's, when it ended the session while
        /// `COMMIT` ran).
        #[source]
        source: tokio_postgres::Error,
    },

    /// `ROLLBACK` failed; the connection is checked again before reuse.
    #[error("rollback failed")]
    Rollback {
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

fn unknown_option_message(position: Option<usize>, suggestion: Option<&str>) -> String {
    let mut out = String::from("unknown connection option");
    if let Some(at) = position {
        out.push_str(&format!(" at position {at}"));
    }
    out.push_str(" (its name is not repeated here, in case it is a misplaced secret)");
    if let Some(known) = suggestion {
        out.push_str(&format!("; did you mean {known}?"));
    }
    out
}

fn require_peer_message(
    socket: &std::path::Path,
    expected: &str,
    uid: Option<u32>,
    user: Option<&str>,
) -> String {
    let socket = socket.display();
    match (uid, user) {
        (Some(uid), Some(user)) => format!(
            "requirepeer={expected}, but the process behind {socket} runs as {user} (uid \
             {uid}); nothing was sent to it. If {user} is not your PostgreSQL server's \
             account, another program owns the socket path; otherwise set \
             requirepeer={user}"
        ),
        (Some(uid), None) => format!(
            "requirepeer={expected}, but the process behind {socket} runs as uid {uid}, which \
             has no user name in /etc/passwd; nothing was sent to it"
        ),
        _ => format!(
            "requirepeer={expected}, but the system did not say which user runs the process \
             behind {socket}; nothing was sent to it"
        ),
    }
}

fn auth_refused_message(server: &str, requested: AuthMethod, policy: RequireAuth) -> String {
    match requested {
        AuthMethod::None => format!(
            "the server at {server} let this connection in without authentication (trust), \
             which require_auth={policy} does not allow"
        ),
        m => format!(
            "the server at {server} asked for {} authentication, which require_auth={policy} \
             does not allow",
            m.as_str()
        ),
    }
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
            | Error::CommitOutcomeUnknown { source }
            | Error::Rollback { source } => source.code(),
            Error::Connect(source) | Error::Query(source) => source.code(),
            _ => None,
        }
    }

    /// Whether running the whole transaction again is safe and may succeed: nothing of
    /// it was committed, and the cause is transient.
    ///
    /// | error | retry-safe when |
    /// |---|---|
    /// | [`Error::Checkout`], [`Error::PoolConnect`] | a pool timeout (`wait_timeout`, `create_timeout`, `recycle_timeout`), or opening a connection failed for a transient reason ([`is_transient`]) |
    /// | [`Error::Begin`], [`Error::Commit`], [`Error::Rollback`] | the cause [`is_transient`]: the connection was lost or reset, the backend was terminated or the server is shutting down or starting up (57P01, 57P02, 57P03), a serialization failure (40001) or deadlock (40P01), `statement_timeout` (57014), `idle_in_transaction_session_timeout` (25P03), ... (these variants are only returned when nothing was committed) |
    /// | [`Error::Connect`] | the cause [`is_transient`] (nothing ran) |
    /// | anything else | never |
    ///
    /// In particular never for [`Error::CommitOutcomeUnknown`] (the transaction may have
    /// committed: see [`Error::commit_outcome_unknown`]); nor for
    /// [`Error::TransactionAborted`]: nothing was committed, but the cause is the error
    /// an earlier statement already returned, so retry when [`is_transient`] holds for
    /// that error; nor for [`Error::Query`], a statement outside a tenant transaction
    /// that may have committed on its own.
    #[must_use]
    pub fn is_retry_safe(&self) -> bool {
        match self {
            Error::Checkout { source } | Error::PoolConnect { source } => {
                checkout_is_transient(source)
            }
            Error::Begin { source }
            | Error::Commit { source }
            | Error::Rollback { source }
            | Error::Connect(source) => is_transient(source),
            _ => false,
        }
    }

    /// Whether this is a commit whose outcome is unknown
    /// ([`Error::CommitOutcomeUnknown`]): it was sent and its answer lost, so the
    /// transaction may have committed. Neither success nor failure, and never
    /// [retry-safe](Error::is_retry_safe).
    #[must_use]
    pub fn commit_outcome_unknown(&self) -> bool {
        matches!(self, Error::CommitOutcomeUnknown { .. })
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

    /// Lifts a certificate refusal or a `require_auth` refusal out of a tokio-postgres
    /// error so that callers see [`Error::Certificate`] / [`Error::AuthMethodRefused`]
    /// directly.
    pub(crate) fn from_connect(e: tokio_postgres::Error) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(err) = cur {
            // An io::Error's source() skips the error it wraps: look inside it too.
            let inner = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|i| i.downcast_ref::<Error>());
            match inner.or_else(|| err.downcast_ref::<Error>()) {
                Some(Error::Certificate { host, refusal }) => {
                    return Error::Certificate {
                        host: host.clone(),
                        refusal: refusal.clone(),
                    }
                }
                Some(Error::TlsRequirement {
                    host,
                    option,
                    reason,
                }) => {
                    return Error::TlsRequirement {
                        host: host.clone(),
                        option,
                        reason: reason.clone(),
                    }
                }
                Some(Error::AuthMethodRefused {
                    server,
                    requested,
                    require_auth,
                }) => {
                    return Error::AuthMethodRefused {
                        server: server.clone(),
                        requested: *requested,
                        require_auth: *require_auth,
                    }
                }
                _ => {}
            }
            cur = err.source();
        }
        Error::Connect(e)
    }
}

/// Whether a tokio-postgres error is transient: another attempt, on another connection
/// or a moment later, may succeed.
///
/// - The connection closed, or failed with an I/O error (reset, refused, end of file, a
///   TLS record cut short); not when a certificate, `require_auth` or rustls refused it.
/// - A server error with SQLSTATE class 08 (connection exception; PgBouncer reports its
///   own failures so), 40001 `serialization_failure`, 40P01 `deadlock_detected`, 55P03
///   `lock_not_available`, 57014 `query_canceled` (`statement_timeout`, a cancel
///   request), 57P01 `admin_shutdown` (`pg_terminate_backend`, a fast shutdown), 57P02
///   `crash_shutdown`, 57P03 `cannot_connect_now` (starting up, shutting down), 57P05
///   `idle_session_timeout`, 25P03 `idle_in_transaction_session_timeout`, 25P04
///   `transaction_timeout` or 53300 `too_many_connections`.
///
/// A statement of a [`crate::TenantTx`] that fails never committed anything, so when
/// this holds for its error the transaction can be run again. For errors of this crate
/// use [`Error::is_retry_safe`].
#[must_use]
pub fn is_transient(error: &tokio_postgres::Error) -> bool {
    /// The SQLSTATEs above, outside class 08.
    const TRANSIENT: [&str; 11] = [
        "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "57P05", "25P03", "25P04",
        "53300",
    ];
    if let Some(code) = error.code() {
        return code.code().starts_with("08") || TRANSIENT.contains(&code.code());
    }
    error.is_closed() || lost_connection(error)
}

/// An I/O error somewhere in the chain, and no refusal (certificate, TLS, `require_auth`)
/// that another attempt would meet again.
fn lost_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut io = false;
    let mut cur = Some(error);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() || err.is::<CertificateRefusal>() {
            return false;
        }
        if let Some(e) = err.downcast_ref::<Error>() {
            if !matches!(e, Error::Tls { .. } | Error::Socket { .. }) {
                return false;
            }
        }
        if let Some(e) = err.downcast_ref::<std::io::Error>() {
            // An io::Error's source() skips the error it wraps: look at it too.
            if let Some(inner) = e.get_ref() {
                if inner.is::<rustls::Error>() || (inner.is::<Error>() && !lost_connection(inner)) {
                    return false;
                }
            }
            io = true;
        }
        cur = err.source();
    }
    io
}

/// Pool timeouts, and connections that could not be opened for a transient reason.
fn checkout_is_transient(error: &CheckoutError) -> bool {
    use deadpool::managed::PoolError;
    match &error.0 {
        PoolError::Timeout(_) => true,
        PoolError::Backend(e) => is_transient(e),
        _ => false,
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

#[cfg(test)]
mod tests {
    use deadpool::managed::{PoolError, TimeoutType};

    use super::*;

    #[test]
    fn pool_timeouts_are_retry_safe_and_a_closed_pool_is_not() {
        for timeout in [TimeoutType::Wait, TimeoutType::Create, TimeoutType::Recycle] {
            let e = Error::Checkout {
                source: CheckoutError::new(PoolError::Timeout(timeout)),
            };
            assert!(e.is_retry_safe(), "{e}");
            assert!(!e.commit_outcome_unknown());
        }
        let closed = Error::Checkout {
            source: CheckoutError::new(PoolError::Closed),
        };
        assert!(!closed.is_retry_safe());
    }

    #[test]
    fn outcomes_that_depend_on_an_earlier_error_are_not_retry_safe() {
        for e in [Error::TransactionAborted, Error::TenantChanged] {
            assert!(!e.is_retry_safe(), "{e}");
            assert!(!e.commit_outcome_unknown(), "{e}");
        }
    }

    #[test]
    fn io_errors_are_transient_and_refusals_are_not() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(lost_connection(&reset));
        let tls_reset = Error::Tls {
            host: "db".into(),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        };
        assert!(lost_connection(&tls_reset));
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert!(!lost_connection(&alert));
        let refusal = Error::Certificate {
            host: "db".into(),
            refusal: CertificateRefusal::Invalid {
                subject: "CN=db".into(),
                reason: "bad signature".into(),
            },
        };
        assert!(!lost_connection(&refusal));
        let wrapped = std::io::Error::other(refusal);
        assert!(!lost_connection(&wrapped));
    }
}
