//! pgsec-client: what applications link to reach PostgreSQL safely.
//!
//! - [`Config`]: libpq-compatible options (`key=value` strings, `postgres://` URLs, the
//!   `PG*` environment variables and `~/.pgpass` through an injectable [`Environment`]),
//!   `host`/`hostaddr`, several hosts, all six [`SslMode`]s, `sslrootcert` (file or
//!   `system`), `sslcert`/`sslkey`, [`ChannelBinding`]. `Debug` and errors never show the
//!   password.
//! - Fail closed: over TCP the only mode accepted by default is verify-full (chain and
//!   host name). Weaker modes are refused with an error naming the fix, unless the
//!   configuration calls [`Config::dangerous_allow_unverified_tls`] or
//!   [`Config::dangerous_allow_plaintext`]. Unix sockets connect without TLS; there
//!   `requirepeer=postgres` checks who runs the server ([`SocketPeer`]) before anything
//!   is sent, and a socket whose peer was not checked is not reported as verified.
//! - `require_auth` ([`RequireAuth`], libpq 16's syntax): a server asking for a method
//!   that is not allowed (a clear-text password, or `trust` when `scram-sha-256` is
//!   required) is refused before anything is sent in answer.
//! - The other libpq 16–18 options are honoured or refused with the reason:
//!   `sslnegotiation=direct` ([`SslNegotiation`], ALPN `postgresql`), `sslcertmode`
//!   ([`SslCertMode`]), `load_balance_hosts`, and `min/max_protocol_version` (only
//!   [`PROTOCOL_VERSION`] 3.0: tokio-postgres does not speak 3.2).
//! - [`MakeVerifiedTlsConnect`]: rustls (ring) with pgsec's verifier: DNS names against
//!   DNS subjectAltNames (libpq's wildcard rule), IP hosts against IP subjectAltNames,
//!   intermediates sent by the server used, no common-name fallback. A refusal is a typed
//!   [`CertificateRefusal`] saying what was expected and what was presented.
//! - [`connect`] returns the client and [`ConnectionDetails`]: TLS version, cipher,
//!   [`PeerCertificate`] (subject, subjectAltNames, expiry), and the client facts that
//!   pgsec-core's `client.*` rules judge ([`ConnectionDetails::client_facts`]).
//! - [`TenantPool`] (deadpool-postgres): [`TenantPool::begin`] sends
//!   `BEGIN; SET LOCAL <setting> = '<tenant>'` as one message, one round trip; the [`TenantTx`]
//!   guard commits explicitly and rolls back when dropped; a connection left inside a
//!   transaction is rolled back and verified before reuse; [`TenantId`] and
//!   [`SettingName`] are validated types; building the pool runs a start-up guard made of
//!   pgsec-core's rules ([`GUARD_RULES`]). The only way around the tenant is
//!   [`TenantPool::dangerous_unscoped_connection`].
//!
//! A single connection, and what it established:
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgsec_client::Error> {
//! let config = pgsec_client::Config::parse(
//!     "host=db.example.com hostaddr=10.0.0.5 user=app dbname=app \
//!      sslmode=verify-full sslrootcert=/etc/ssl/pg-ca.crt channel_binding=require",
//! )?;
//! let (client, details) = pgsec_client::connect(&config).await?;
//! assert!(details.is_verified());
//! # drop(client); Ok(()) }
//! ```
//!
//! A pool where every transaction carries its tenant (Row-Level Security policies read
//! it with `current_setting('app.current_tenant_id', true)`):
//!
//! ```no_run
//! use pgsec_client::{Config, Environment, TenantId, TenantPool};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Like psql: the string, then PG* variables and ~/.pgpass for what it leaves out.
//! let config = Config::parse_with_env(
//!     "host=db.internal user=app dbname=app sslrootcert=/etc/ssl/pg-ca.crt",
//!     &Environment::current(),
//! )?; // sslmode defaults to verify-full
//! // The start-up guard refuses a superuser, BYPASSRLS or table-owning role here.
//! let pool = TenantPool::builder(&config).max_size(16).build().await?;
//!
//! let tenant: TenantId = "acme".parse()?;
//! let tx = pool.begin(&tenant).await?; // BEGIN + set_config(..., true): one round trip
//! let rows = tx.query("SELECT id, total FROM orders", &[]).await?; // only acme's rows
//! tx.commit().await?; // dropped without commit: rolled back
//! # drop(rows); Ok(()) }
//! ```
#![warn(missing_docs)]

mod auth;
mod cert;
mod connect;
mod details;
mod error;
mod options;
mod pgpass;
mod pool;
mod regular_file;
mod tls;
mod unix_socket;

pub use auth::{AuthMethod, RequireAuth};
pub use cert::{check_host_name, PeerCertificate};
pub use connect::connect;
pub use details::{config_findings, ConnectionDetails, SocketPeer};
pub use error::{
    certificate_refusal, is_transient, CertificateRefusal, CheckoutError, Error, Result,
};
pub use options::{
    ChannelBinding, Config, Environment, Host, RootCert, SslCertMode, SslMode, SslNegotiation,
    TargetSessionAttrs, DEFAULT_PORT, PROTOCOL_VERSION,
};
pub use pool::{
    InvalidName, PoolStatus, SettingName, TenantId, TenantKind, TenantPool, TenantPoolBuilder,
    TenantTx, UnscopedConnection, DEFAULT_TENANT_SETTING, GUARD_RULES, SESSION_RESET_SQL,
    SETTING_NAME_MAX_LEN, TENANT_TEXT_MAX_LEN,
};
pub use tls::{MakeVerifiedTlsConnect, TlsSession, VerifiedTlsConnect, VerifiedTlsStream};
