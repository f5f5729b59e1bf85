//! libpq-compatible connection options: [`Config`], its parsers and the environment.

mod env;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use env::Environment;

use crate::auth::RequireAuth;
use crate::error::{Error, Result};

/// libpq's `sslmode`. pgsec-client's default is [`SslMode::VerifyFull`] (libpq's is
/// `prefer`); anything weaker over TCP is refused unless the configuration opts in
/// with [`Config::dangerous_allow_unverified_tls`] or
/// [`Config::dangerous_allow_plaintext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// Plaintext first (pgsec-client treats it as `disable`: tokio-postgres has no
    /// plaintext-then-TLS fallback).
    Allow,
    /// TLS if the server offers it, unverified; else plaintext.
    Prefer,
    /// TLS, unverified.
    Require,
    /// TLS, chain verified, host name not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`verify-full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether this mode checks both the chain and the host name.
    pub fn verifies_identity(self) -> bool {
        self == SslMode::VerifyFull
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(Error::invalid(
                    "sslmode",
                    "use one of disable, allow, prefer, require, verify-ca, verify-full",
                ))
            }
        })
    }
}

/// libpq's `channel_binding` (SCRAM-SHA-256-PLUS over TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ChannelBinding {
    /// Never use channel binding.
    Disable,
    /// Use it when the server offers it (the default).
    #[default]
    Prefer,
    /// Refuse to authenticate without it.
    Require,
}

impl ChannelBinding {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

impl FromStr for ChannelBinding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            _ => {
                return Err(Error::invalid(
                    "channel_binding",
                    "use one of disable, prefer, require",
                ))
            }
        })
    }
}

/// Where the trusted root certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootCert {
    /// A PEM file of one or more CA certificates.
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`).
    System,
}

impl RootCert {
    fn parse(value: &str) -> Self {
        if value == "system" {
            RootCert::System
        } else {
            RootCert::File(PathBuf::from(value))
        }
    }
}

impl fmt::Display for RootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCert::File(p) => write!(f, "sslrootcert={}", p.display()),
            RootCert::System => f.write_str("sslrootcert=system"),
        }
    }
}

/// libpq's `sslcertmode` (PostgreSQL 16): whether the client certificate is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SslCertMode {
    /// Never send a client certificate, even when `sslcert` (or
    /// `~/.postgresql/postgresql.crt`) exists.
    Disable,
    /// Send one when the server asks for it and one is configured (the default).
    #[default]
    Allow,
    /// Refuse the connection unless the server asked for a client certificate during the
    /// handshake (libpq: "server did not request an SSL certificate").
    Require,
}

impl SslCertMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslCertMode::Disable => "disable",
            SslCertMode::Allow => "allow",
            SslCertMode::Require => "require",
        }
    }
}

impl FromStr for SslCertMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslCertMode::Disable,
            "allow" => SslCertMode::Allow,
            "require" => SslCertMode::Require,
            _ => {
                return Err(Error::invalid(
                    "sslcertmode",
                    "use one of disable, allow, require",
                ))
            }
        })
    }
}

/// libpq's `sslnegotiation` (PostgreSQL 17): how TLS is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SslNegotiation {
    /// Send an SSLRequest first and start TLS when the server answers `S` (every
    /// PostgreSQL version; the default).
    #[default]
    Postgres,
    /// Start the TLS handshake at once, with ALPN `postgresql` (PostgreSQL 17 and later
    /// only; needs sslmode require, verify-ca or verify-full).
    Direct,
}

impl SslNegotiation {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
        }
    }
}

/// The wire-protocol version pgsec-client speaks (tokio-postgres implements 3.0 only).
pub const PROTOCOL_VERSION: &str = "3.0";

/// One host of a connection, after libpq's rules for `host` and `hostaddr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host {
    /// A TCP host: `name` is what the certificate is checked against (the `host`
    /// value, empty when only `hostaddr` was given), `addr` the address to open the socket
    /// to (`hostaddr`, or `None` to resolve `name`).
    Tcp {
        /// The `host` value (empty when only `hostaddr` is set).
        name: String,
        /// The `hostaddr` value.
        addr: Option<IpAddr>,
        /// The port.
        port: u16,
    },
    /// A Unix-domain socket directory (connects without TLS).
    Unix {
        /// The socket directory.
        dir: PathBuf,
        /// The port (part of the socket file name).
        port: u16,
    },
}

/// `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TargetSessionAttrs {
    /// Any server.
    #[default]
    Any,
    /// A server accepting writes.
    ReadWrite,
    /// A read-only server.
    ReadOnly,
}

impl TargetSessionAttrs {
    /// The libpq spelling (`any`, `read-write`, `read-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
        }
    }
}

/// A password that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Password(pub(crate) String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// PostgreSQL's default port.
pub const DEFAULT_PORT: u16 = 5432;

/// libpq-compatible connection options.
///
/// Build one with [`Config::parse`] (a `key=value` string or a `postgres://` URL),
/// complete it the way psql does with [`Config::with_env`] (environment variables,
/// `~/.pgpass`, defaults), then [`crate::connect`] or hand
/// [`Config::to_tokio_config`] and [`Config::make_tls_connect`] to a pool.
///
/// Over TCP it always means TLS with chain and host-name verification; weaker modes
/// are refused unless a `dangerous_*` method opted in. `Debug` never shows the password.
///
/// ```
/// use pgsec_client::{Config, SslMode};
/// let config = Config::parse(
///     "host=db.example.com port=5433 user=app password='s3cr et' dbname=app \
///      sslmode=verify-full sslrootcert=/etc/ssl/pg-ca.crt",
/// )?;
/// assert_eq!(config.get_ssl_mode(), SslMode::VerifyFull);
/// assert!(!format!("{config:?}").contains("s3cr"));
/// # Ok::<(), pgsec_client::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Config {
    pub(crate) hosts: Vec<String>,
    pub(crate) hostaddrs: Vec<String>,
    pub(crate) ports: Vec<u16>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Password>,
    pub(crate) passfile: Option<PathBuf>,
    pub(crate) dbname: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) application_name: Option<String>,
    pub(crate) fallback_application_name: Option<String>,
    pub(crate) ssl_mode: Option<SslMode>,
    pub(crate) ssl_root_cert: Option<RootCert>,
    pub(crate) ssl_cert: Option<PathBuf>,
    pub(crate) ssl_key: Option<PathBuf>,
    pub(crate) ssl_sni: bool,
    pub(crate) ssl_direct: bool,
    /// Whether `sslnegotiation` was set (so that PGSSLNEGOTIATION does not override it).
    pub(crate) ssl_negotiation_set: bool,
    /// `sslcertmode`.
    pub(crate) ssl_cert_mode: Option<SslCertMode>,
    /// `min_protocol_version` / `max_protocol_version` when set (only 3.0 is accepted).
    pub(crate) min_protocol_version: Option<&'static str>,
    pub(crate) max_protocol_version: Option<&'static str>,
    pub(crate) ssl_max_tls13_only: Option<bool>,
    pub(crate) ssl_min_tls13: bool,
    pub(crate) channel_binding: Option<ChannelBinding>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) tcp_user_timeout: Option<Duration>,
    pub(crate) keepalives: Option<bool>,
    pub(crate) keepalives_idle: Option<Duration>,
    pub(crate) keepalives_interval: Option<Duration>,
    pub(crate) keepalives_count: Option<u32>,
    pub(crate) target_session_attrs: TargetSessionAttrs,
    pub(crate) load_balance_random: bool,
    /// Whether `load_balance_hosts` was set (so that PGLOADBALANCEHOSTS does not
    /// override it).
    pub(crate) load_balance_set: bool,
    /// `requirepeer`: the OS user the server behind a Unix socket must run as.
    pub(crate) requirepeer: Option<String>,
    /// `require_auth`: the authentication requests the client answers.
    pub(crate) require_auth: Option<RequireAuth>,
    /// `~/.postgresql`, where libpq looks for root.crt, postgresql.crt and postgresql.key.
    pub(crate) cert_dir: Option<PathBuf>,
    /// Directory for an empty host (libpq's DEFAULT_PGSOCKET_DIR).
    pub(crate) socket_dir: Option<PathBuf>,
    pub(crate) allow_unverified_tls: bool,
    pub(crate) allow_plaintext: bool,
    pub(crate) sni_set: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("passfile", &self.passfile)
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("ssl_mode", &self.get_ssl_mode())
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("channel_binding", &self.get_channel_binding())
            .field("ssl_negotiation", &self.get_ssl_negotiation())
            .field("ssl_cert_mode", &self.get_ssl_cert_mode())
            .field("load_balance_random", &self.load_balance_random)
            .field("connect_timeout", &self.connect_timeout)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("requirepeer", &self.requirepeer)
            .field("require_auth", &self.require_auth)
            .field("allow_unverified_tls", &self.allow_unverified_tls)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// An empty configuration (every option unset; sslmode defaults to verify-full).
    pub fn new() -> Self {
        Config {
            ssl_sni: true,
            ..Config::default()
        }
    }

    /// Parses a libpq connection string: `key=value` pairs (values may be single-quoted,
    /// with `\` escaping `'` and `\`) or a `postgres://` / `postgresql://` URL
    /// (percent-decoded, several `host:port` pairs separated by commas, options as
    /// query parameters). Only the string is used: see [`Config::with_env`] for the
    /// environment, `~/.pgpass` and defaults.
    ///
    /// A URL whose user name or password holds an unencoded `@` (or an `@` after the
    /// first `/`) is refused rather than split at the wrong place: percent-encode it as
    /// `%40`.
    ///
    /// # Errors
    /// [`Error::Syntax`], [`Error::UnknownOption`], [`Error::InvalidValue`] or
    /// [`Error::Unsupported`]. None of them repeats a value or an unknown word of the
    /// string (any of which could be a misplaced password): they name the option when it
    /// is a known one, else the position.
    pub fn parse(conninfo: &str) -> Result<Self> {
        let pairs = if parse::is_url(conninfo) {
            parse::parse_url(conninfo)?
        } else {
            parse::parse_keyword_value(conninfo)?
        };
        let mut config = Config::new();
        for pair in pairs {
            config
                .set_option(&pair.key, &pair.value)
                .map_err(|e| match e {
                    Error::UnknownOption { suggestion, .. } => Error::UnknownOption {
                        position: Some(pair.position),
                        suggestion,
                    },
                    other => other,
                })?;
        }
        Ok(config)
    }

    /// [`Config::parse`] followed by [`Config::with_env`]: what psql does with a
    /// connection string.
    ///
    /// # Errors
    /// As [`Config::parse`] and [`Config::with_env`].
    pub fn parse_with_env(conninfo: &str, env: &Environment) -> Result<Self> {
        Config::parse(conninfo)?.with_env(env)
    }

    /// Completes the configuration as libpq does: every option still unset is taken from
    /// its environment variable (PGHOST, PGHOSTADDR, PGPORT, PGUSER, PGPASSWORD,
    /// PGPASSFILE, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY,
    /// PGCHANNELBINDING, PGAPPNAME, PGCONNECT_TIMEOUT, PGOPTIONS,
    /// PGTARGETSESSIONATTRS, PGREQUIREPEER, PGREQUIREAUTH, PGSSLNEGOTIATION, PGSSLCERTMODE,
    /// PGLOADBALANCEHOSTS, PGMINPROTOCOLVERSION, PGMAXPROTOCOLVERSION), then from libpq's
    /// defaults (user: the OS user; dbname: the
    /// user; host: the socket directory; certificates under `~/.postgresql`); a missing
    /// password is looked up in the password file (`passfile`, PGPASSFILE or
    /// `~/.pgpass`) with libpq's matching rules.
    ///
    /// `env` is explicit so that this is testable; [`Environment::current`] reads the
    /// process environment.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the environment variable whose value is invalid.
    pub fn with_env(mut self, env: &Environment) -> Result<Self> {
        const VARS: &[(&str, &str)] = &[
            ("PGHOST", "host"),
            ("PGHOSTADDR", "hostaddr"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGPASSWORD", "password"),
            ("PGPASSFILE", "passfile"),
            ("PGDATABASE", "dbname"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGSSLCERT", "sslcert"),
            ("PGSSLKEY", "sslkey"),
            ("PGCHANNELBINDING", "channel_binding"),
            ("PGAPPNAME", "application_name"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGOPTIONS", "options"),
            ("PGTARGETSESSIONATTRS", "target_session_attrs"),
            ("PGREQUIREPEER", "requirepeer"),
            ("PGREQUIREAUTH", "require_auth"),
            ("PGSSLNEGOTIATION", "sslnegotiation"),
            ("PGSSLCERTMODE", "sslcertmode"),
            ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
            ("PGMINPROTOCOLVERSION", "min_protocol_version"),
            ("PGMAXPROTOCOLVERSION", "max_protocol_version"),
        ];
        for (var, key) in VARS {
            let Some(value) = env.get(var) else { continue };
            if value.is_empty() || self.is_set(key) {
                continue;
            }
            self.set_option(key, value).map_err(|e| match e {
                Error::InvalidValue { reason, .. } => Error::InvalidValue {
                    key: (*var).to_string(),
                    reason,
                },
                other => other,
            })?;
        }
        if self.user.is_none() {
            self.user = env.user_name().map(str::to_owned);
        }
        if self.dbname.is_none() {
            self.dbname = self.user.clone();
        }
        if self.cert_dir.is_none() {
            self.cert_dir = env.home_dir().map(|h| h.join(".postgresql"));
        }
        if self.socket_dir.is_none() {
            self.socket_dir = Some(env.socket_directory().to_path_buf());
        }
        if self.password.as_ref().is_none_or(|p| p.0.is_empty()) {
            let file = self
                .passfile
                .clone()
                .or_else(|| env.home_dir().map(|h| h.join(".pgpass")));
            if let Some(file) = file {
                if let Some(pw) = self.password_from_file(&file) {
                    self.password = Some(Password(pw));
                }
            }
        }
        Ok(self)
    }

    fn password_from_file(&self, file: &Path) -> Option<String> {
        let text = crate::pgpass::read_password_file(file)?;
        let user = self.user.as_deref()?;
        let dbname = self.dbname.as_deref().unwrap_or(user);
        let hosts = self.hosts().ok()?;
        hosts.iter().find_map(|h| {
            let (host, port) = match h {
                Host::Tcp { name, addr, port } => {
                    let host = if name.is_empty() {
                        addr.map(|a| a.to_string()).unwrap_or_default()
                    } else {
                        name.clone()
                    };
                    (host, *port)
                }
                // libpq looks up socket connections under "localhost".
                Host::Unix { port, .. } => ("localhost".to_string(), *port),
            };
            crate::pgpass::lookup(&text, &host, &port.to_string(), dbname, user)
        })
    }

    fn is_set(&self, key: &str) -> bool {
        match key {
            "host" => !self.hosts.is_empty(),
            "hostaddr" => !self.hostaddrs.is_empty(),
            "port" => !self.ports.is_empty(),
            "user" => self.user.is_some(),
            "password" => self.password.is_some(),
            "passfile" => self.passfile.is_some(),
            "dbname" => self.dbname.is_some(),
            "sslmode" => self.ssl_mode.is_some(),
            "sslrootcert" => self.ssl_root_cert.is_some(),
            "sslcert" => self.ssl_cert.is_some(),
            "sslkey" => self.ssl_key.is_some(),
            "channel_binding" => self.channel_binding.is_some(),
            "application_name" => self.application_name.is_some(),
            "connect_timeout" => self.connect_timeout.is_some(),
            "options" => self.options.is_some(),
            "target_session_attrs" => self.target_session_attrs != TargetSessionAttrs::Any,
            "requirepeer" => self.requirepeer.is_some(),
            "require_auth" => self.require_auth.is_some(),
            "sslnegotiation" => self.ssl_negotiation_set,
            "sslcertmode" => self.ssl_cert_mode.is_some(),
            "load_balance_hosts" => self.load_balance_set,
            "min_protocol_version" => self.min_protocol_version.is_some(),
            "max_protocol_version" => self.max_protocol_version.is_some(),
            _ => false,
        }
    }

    /// Sets one libpq option by name, as if it appeared in a connection string.
    ///
    /// Each option family decides its own keys, in this order: where and as whom to
    /// connect, TLS, protocol versions, authentication checks, timeouts and keepalives,
    /// and the options that are accepted without effect or refused; a key none of them
    /// knows is an unknown option.
    ///
    /// # Errors
    /// [`Error::UnknownOption`], [`Error::InvalidValue`] or [`Error::Unsupported`]; the
    /// value is never repeated in them.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let known = self.set_connection_option(key, value)?
            || self.set_tls_option(key, value)?
            || self.set_protocol_version_option(key, value)?
            || self.set_authentication_option(key, value)?
            || self.set_timing_option(key, value)?
            || ignore_or_refuse_option(key, value)?;
        if known {
            Ok(())
        } else {
            Err(Error::UnknownOption {
                position: None,
                suggestion: suggest_key(key),
            })
        }
    }

    /// Where and as whom to connect: hosts, addresses, ports, user, password, database,
    /// server options, application name, and how a host is chosen among several
    /// (`target_session_attrs`, `load_balance_hosts`). Refuses a bad port, and the
    /// session attributes tokio-postgres cannot select (`primary`, `standby`,
    /// `prefer-standby`). `Ok(false)` when `key` is not of this family.
    fn set_connection_option(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "host" => self.hosts = split_list(value),
            "hostaddr" => self.hostaddrs = split_list(value),
            "port" => {
                self.ports = split_list(value)
                    .iter()
                    .map(|p| parse_port(p))
                    .collect::<Result<_>>()?;
            }
            "user" => self.user = Some(value.to_owned()),
            "password" => self.password = Some(Password(value.to_owned())),
            "passfile" => self.passfile = Some(PathBuf::from(value)),
            "dbname" => self.dbname = Some(value.to_owned()),
            "options" => self.options = Some(value.to_owned()),
            "application_name" => self.application_name = Some(value.to_owned()),
            "fallback_application_name" => {
                self.fallback_application_name = Some(value.to_owned());
            }
            "target_session_attrs" => {
                self.target_session_attrs = match value {
                    "any" => TargetSessionAttrs::Any,
                    "read-write" => TargetSessionAttrs::ReadWrite,
                    "read-only" => TargetSessionAttrs::ReadOnly,
                    "primary" | "standby" | "prefer-standby" => {
                        return Err(unsupported(
                            key,
                            format!(
                                "\"{value}\" is not supported by tokio-postgres; use any, \
                                 read-write or read-only"
                            ),
                        ))
                    }
                    _ => return Err(Error::invalid(key, "use one of any, read-write, read-only")),
                }
            }
            "load_balance_hosts" => {
                self.load_balance_random = match value {
                    "disable" => false,
                    "random" => true,
                    _ => return Err(Error::invalid(key, "use one of disable, random")),
                };
                self.load_balance_set = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// TLS: the mode (and the old `ssl=true` spelling of `sslmode=require`), the root
    /// and client certificates, SNI, direct or PostgreSQL-style negotiation, and when a
    /// client certificate is sent. Refuses any value but `true` for `ssl`, and any
    /// value libpq would not accept. `Ok(false)` when `key` is not of this family.
    fn set_tls_option(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "sslmode" => self.ssl_mode = Some(value.parse()?),
            // The old JDBC-style spelling libpq still accepts in URLs.
            "ssl" if value == "true" => self.ssl_mode = Some(SslMode::Require),
            "ssl" => {
                return Err(Error::invalid(
                    key,
                    "only ssl=true is understood (it means sslmode=require)",
                ))
            }
            "sslrootcert" => self.ssl_root_cert = Some(RootCert::parse(value)),
            "sslcert" => self.ssl_cert = Some(PathBuf::from(value)),
            "sslkey" => self.ssl_key = Some(PathBuf::from(value)),
            "sslsni" => {
                self.ssl_sni = parse_bool01(key, value)?;
                self.sni_set = true;
            }
            "sslnegotiation" => {
                // libpq refuses an empty value for the options of 16-18, as here.
                self.ssl_direct = match value {
                    "postgres" => false,
                    "direct" => true,
                    _ => return Err(Error::invalid(key, "use one of postgres, direct")),
                };
                self.ssl_negotiation_set = true;
            }
            "sslcertmode" => self.ssl_cert_mode = Some(value.parse()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Protocol versions: PostgreSQL's wire protocol (`min_protocol_version`,
    /// `max_protocol_version`: only 3.0 is spoken, 3.2 is refused rather than quietly
    /// downgraded) and TLS's (`ssl_min_protocol_version`, `ssl_max_protocol_version`:
    /// rustls speaks TLS 1.2 and 1.3, so a maximum below 1.2 is refused and a minimum
    /// below it is the same as 1.2). `Ok(false)` when `key` is not of this family.
    fn set_protocol_version_option(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "min_protocol_version" => {
                self.min_protocol_version = Some(parse_protocol_version(key, value)?);
            }
            "max_protocol_version" => {
                self.max_protocol_version = Some(parse_protocol_version(key, value)?);
            }
            "ssl_min_protocol_version" => {
                self.ssl_min_tls13 = match value {
                    // rustls never negotiates anything below TLS 1.2.
                    "" | "TLSv1" | "TLSv1.1" | "TLSv1.2" => false,
                    "TLSv1.3" => true,
                    _ => return Err(Error::invalid(key, TLS_VERSIONS)),
                }
            }
            "ssl_max_protocol_version" => {
                self.ssl_max_tls13_only = match value {
                    "" | "TLSv1.3" => None,
                    "TLSv1.2" => Some(false),
                    "TLSv1" | "TLSv1.1" => {
                        return Err(Error::invalid(
                            key,
                            format!("{value} is below TLSv1.2, which pgsec-client never uses"),
                        ))
                    }
                    _ => return Err(Error::invalid(key, TLS_VERSIONS)),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What the authentication must show: channel binding, the peer's user name on a
    /// Unix socket (`requirepeer`) and the methods the server may ask for
    /// (`require_auth`). An empty `requirepeer` or `require_auth` leaves its check off,
    /// as in libpq. `Ok(false)` when `key` is not of this family.
    fn set_authentication_option(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "channel_binding" => self.channel_binding = Some(value.parse()?),
            // libpq: an empty value leaves the check off.
            "requirepeer" => self.requirepeer = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "require_auth" => {
                self.require_auth = if value.is_empty() {
                    None
                } else {
                    Some(value.parse()?)
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Timeouts and TCP keepalives, with libpq's readings: a connect timeout of zero or
    /// less waits forever and anything else is at least 2 s; a TCP user timeout of zero
    /// or less is the system's; negative keepalive settings count as zero. Refuses a
    /// value that is not an integer (`keepalives`: not 0 or 1). `Ok(false)` when `key`
    /// is not of this family.
    fn set_timing_option(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "connect_timeout" => {
                let secs = parse_int(key, value)?;
                // libpq: zero or negative waits forever, anything else at least 2 s.
                self.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs.max(2) as u64));
            }
            "tcp_user_timeout" => {
                let ms = parse_int(key, value)?;
                self.tcp_user_timeout = (ms > 0).then(|| Duration::from_millis(ms as u64));
            }
            "keepalives" => self.keepalives = Some(parse_bool01(key, value)?),
            "keepalives_idle" => {
                self.keepalives_idle =
                    Some(Duration::from_secs(parse_int(key, value)?.max(0) as u64));
            }
            "keepalives_interval" => {
                self.keepalives_interval =
                    Some(Duration::from_secs(parse_int(key, value)?.max(0) as u64));
            }
            "keepalives_count" => {
                self.keepalives_count = Some(parse_int(key, value)?.max(0) as u32);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Adds a host (a name checked against the certificate, or an absolute path to a
    /// Unix-socket directory).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
        self
    }

    /// Adds a `hostaddr`: the socket is opened to this address while the certificate is
    /// still checked against the matching `host`.
    pub fn hostaddr(mut self, addr: IpAddr) -> Self {
        self.hostaddrs.push(addr.to_string());
        self
    }

    /// Adds a port (one for all hosts, or one per host).
    pub fn port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Sets the user name.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the password (never shown by `Debug`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Password(password.into()));
        self
    }

    /// Sets the database name.
    pub fn dbname(mut self, dbname: impl Into<String>) -> Self {
        self.dbname = Some(dbname.into());
        self
    }

    /// Sets `application_name`.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Sets the sslmode. Modes below verify-full are refused at connect time unless a
    /// `dangerous_*` method opted in.
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets `sslrootcert`.
    pub fn ssl_root_cert(mut self, root: RootCert) -> Self {
        self.ssl_root_cert = Some(root);
        self
    }

    /// Sets the client certificate and key files (`sslcert`, `sslkey`).
    pub fn ssl_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.ssl_cert = Some(cert.into());
        self.ssl_key = Some(key.into());
        self
    }

    /// Sets `channel_binding`.
    pub fn channel_binding(mut self, cb: ChannelBinding) -> Self {
        self.channel_binding = Some(cb);
        self
    }

    /// Sets `connect_timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// DANGEROUS: permits `sslmode=require` and `sslmode=verify-ca` over TCP, which do not
    /// check that the certificate belongs to the host (require checks nothing at all).
    /// A man in the middle can read and change everything. For tests only.
    pub fn dangerous_allow_unverified_tls(mut self) -> Self {
        self.allow_unverified_tls = true;
        self
    }

    /// DANGEROUS: permits `sslmode=disable`, `allow` and `prefer` over TCP, sending the
    /// password exchange and all data in clear text (prefer also accepts unverified
    /// TLS). For tests only.
    pub fn dangerous_allow_plaintext(mut self) -> Self {
        self.allow_plaintext = true;
        self.allow_unverified_tls = true;
        self
    }

    /// The effective sslmode (verify-full when unset).
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode.unwrap_or(SslMode::VerifyFull)
    }

    /// The effective channel_binding (prefer when unset).
    pub fn get_channel_binding(&self) -> ChannelBinding {
        self.channel_binding.unwrap_or_default()
    }

    /// The user name, if set.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The database name, if set.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// Sets `requirepeer`: over a Unix-domain socket, the operating-system user the
    /// server process must run as (checked with `SO_PEERCRED` before anything is sent).
    /// As in libpq it has no effect over TCP, where TLS verifies the server.
    pub fn requirepeer(mut self, user: impl Into<String>) -> Self {
        self.requirepeer = Some(user.into());
        self
    }

    /// Sets `require_auth`: the authentication methods the server may ask for.
    pub fn require_auth(mut self, require: RequireAuth) -> Self {
        self.require_auth = Some(require);
        self
    }

    /// The `requirepeer` user, if set.
    pub fn get_requirepeer(&self) -> Option<&str> {
        self.requirepeer.as_deref()
    }

    /// The `require_auth` setting, if set.
    pub fn get_require_auth(&self) -> Option<RequireAuth> {
        self.require_auth
    }

    /// Sets `sslnegotiation`. [`SslNegotiation::Direct`] needs a PostgreSQL 17 or later
    /// server and sslmode require, verify-ca or verify-full (checked at connect time).
    pub fn ssl_negotiation(mut self, negotiation: SslNegotiation) -> Self {
        self.ssl_direct = negotiation == SslNegotiation::Direct;
        self.ssl_negotiation_set = true;
        self
    }

    /// The `sslnegotiation` setting ([`SslNegotiation::Postgres`] when unset).
    pub fn get_ssl_negotiation(&self) -> SslNegotiation {
        if self.ssl_direct {
            SslNegotiation::Direct
        } else {
            SslNegotiation::Postgres
        }
    }

    /// Sets `sslcertmode`.
    pub fn ssl_cert_mode(mut self, mode: SslCertMode) -> Self {
        self.ssl_cert_mode = Some(mode);
        self
    }

    /// The effective `sslcertmode` ([`SslCertMode::Allow`] when unset).
    pub fn get_ssl_cert_mode(&self) -> SslCertMode {
        self.ssl_cert_mode.unwrap_or_default()
    }

    /// Whether `load_balance_hosts=random` is set (hosts, and the addresses of each
    /// host, are tried in random order).
    pub fn get_load_balance_random(&self) -> bool {
        self.load_balance_random
    }

    /// Whether a password is set (the password itself is not exposed).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The trusted roots: `sslrootcert`, else libpq's default `~/.postgresql/root.crt`.
    pub fn get_ssl_root_cert(&self) -> Option<RootCert> {
        self.ssl_root_cert.clone().or_else(|| {
            self.cert_dir
                .as_ref()
                .map(|d| RootCert::File(d.join("root.crt")))
        })
    }

    /// The hosts in connection order, with libpq's pairing of `host`, `hostaddr` and
    /// `port`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the lists have different lengths or a `hostaddr` is
    /// not an IP address.
    pub fn hosts(&self) -> Result<Vec<Host>> {
        let n = self.hosts.len().max(self.hostaddrs.len()).max(1);
        if !self.hosts.is_empty() && self.hosts.len() != n {
            return Err(Error::invalid(
                "host",
                format!(
                    "{} host names but {} hostaddrs; give one hostaddr per host",
                    self.hosts.len(),
                    self.hostaddrs.len()
                ),
            ));
        }
        if !self.hostaddrs.is_empty() && self.hostaddrs.len() != n {
            return Err(Error::invalid(
                "hostaddr",
                format!(
                    "{} hostaddrs but {} host names; give one hostaddr per host",
                    self.hostaddrs.len(),
                    self.hosts.len()
                ),
            ));
        }
        if self.ports.len() > 1 && self.ports.len() != n {
            return Err(Error::invalid(
                "port",
                format!(
                    "{} ports for {n} hosts; give one port, or one per host",
                    self.ports.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let name = self.hosts.get(i).cloned().unwrap_or_default();
            let port = self
                .ports
                .get(i)
                .or_else(|| self.ports.first())
                .copied()
                .unwrap_or(DEFAULT_PORT);
            let addr = match self.hostaddrs.get(i).map(String::as_str) {
                None | Some("") => None,
                Some(a) => Some(a.parse::<IpAddr>().map_err(|_| {
                    Error::invalid("hostaddr", format!("entry {} is not an IP address", i + 1))
                })?),
            };
            if addr.is_none() && (name.is_empty() || name.starts_with('/')) {
                let dir = if name.is_empty() {
                    self.socket_dir
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(env::FALLBACK_SOCKET_DIR))
                } else {
                    PathBuf::from(name)
                };
                out.push(Host::Unix { dir, port });
            } else {
                out.push(Host::Tcp { name, addr, port });
            }
        }
        Ok(out)
    }
}

const TLS_VERSIONS: &str = "use one of TLSv1.2, TLSv1.3";

/// Every option [`Config::set_option`] accepts (for suggestions and for naming a key in
/// a syntax error: only these are ever repeated).
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "passfile",
    "dbname",
    "options",
    "application_name",
    "fallback_application_name",
    "sslmode",
    "ssl",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "channel_binding",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "target_session_attrs",
    "load_balance_hosts",
    "gssencmode",
    "sslcompression",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "requiressl",
    "sslcertmode",
    "min_protocol_version",
    "max_protocol_version",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
    "scram_client_key",
    "scram_server_key",
    "sslcrl",
    "sslcrldir",
    "sslpassword",
    "requirepeer",
    "require_auth",
    "service",
    "replication",
    "sslkeylogfile",
];

/// The known option `key` is, if it is one.
pub(crate) fn known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS.iter().copied().find(|k| *k == key)
}

/// The known option within two edits of `key` (a typo), if exactly one is closest.
fn suggest_key(key: &str) -> Option<&'static str> {
    if key.chars().count() < 3 || key.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &'static str)> = None;
    for k in KNOWN_KEYS {
        let d = edit_distance(key, k);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The libpq options that change nothing here: those current libpq accepts without
/// effect (`Ok(true)`), `gssencmode` unless it is `require`, and the ones that are
/// refused with the reason because honouring them is not possible and ignoring them
/// would weaken the connection or surprise the caller (GSSAPI encryption, OAuth, SCRAM
/// pass-through keys, revocation lists, encrypted client keys, `service`,
/// `replication`, `sslkeylogfile`). `Ok(false)` when `key` is not one of them.
fn ignore_or_refuse_option(key: &str, value: &str) -> Result<bool> {
    let reason = match key {
        "gssencmode" if value == "require" => {
            "GSSAPI encryption is not available; use TLS (sslmode=verify-full)"
        }
        // Accepted and without effect, as in current libpq.
        "gssencmode" | "sslcompression" | "krbsrvname" | "gsslib" | "gssdelegation"
        | "requiressl" => return Ok(true),
        "oauth_issuer" | "oauth_client_id" | "oauth_client_secret" | "oauth_scope" => {
            "OAuth authentication (PostgreSQL 18) is not implemented by tokio-postgres; \
             authenticate with SCRAM-SHA-256 or a client certificate"
        }
        "scram_client_key" | "scram_server_key" => {
            "SCRAM pass-through keys (PostgreSQL 18) are not implemented by tokio-postgres; \
             give the password instead"
        }
        "sslcrl" | "sslcrldir" => {
            "certificate revocation lists are not checked; ignoring one would accept a \
             revoked server certificate"
        }
        "sslpassword" => {
            "encrypted client keys are not supported; decrypt the key into a file readable \
             only by its owner"
        }
        "service" | "replication" | "sslkeylogfile" => "not implemented by pgsec-client",
        _ => return Ok(false),
    };
    Err(unsupported(key, reason))
}

/// [`Error::Unsupported`] for `key`, with the reason it cannot be honoured.
fn unsupported(key: &str, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        key: key.into(),
        reason: reason.into(),
    }
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_owned()).collect()
}

fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match p.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(Error::invalid("port", "not a port number (1 to 65535)")),
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| Error::invalid(key, "not an integer"))
}

/// libpq 18's `min_protocol_version` / `max_protocol_version`: `3.0`, `3.2` or `latest`
/// (3.2). tokio-postgres speaks 3.0 only, so 3.2 is refused rather than quietly
/// downgraded. Anything else (3.1 never existed) is invalid, as in libpq.
fn parse_protocol_version(key: &str, value: &str) -> Result<&'static str> {
    match value {
        "3.0" => Ok(PROTOCOL_VERSION),
        "3.2" | "latest" => Err(Error::Unsupported {
            key: key.into(),
            reason: "protocol version 3.2 (PostgreSQL 18: 256-bit cancel keys) is not \
                     implemented by tokio-postgres, which speaks protocol 3.0 only; set \
                     3.0 or leave the option unset"
                .into(),
        }),
        _ => Err(Error::invalid(key, "use one of 3.0, 3.2, latest")),
    }
}

fn parse_bool01(key: &str, value: &str) -> Result<bool> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(Error::invalid(key, "use 0 or 1")),
    }
}
