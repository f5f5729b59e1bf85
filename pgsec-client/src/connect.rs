//! Connecting: the tokio-postgres configuration, `connect`, and what the connection is.

use tokio_postgres::config::{
    ChannelBinding as PgChannelBinding, LoadBalanceHosts, SslMode as PgSslMode, SslNegotiation,
    TargetSessionAttrs as PgTargetSessionAttrs,
};

use pgsec_core::snapshot::TlsVerification;

use crate::cert::Verification;
use crate::details::ConnectionDetails;
use crate::error::{Error, Result};
use crate::options::{ChannelBinding, Config, Host, SslCertMode, SslMode, TargetSessionAttrs};

impl Config {
    /// The tokio-postgres configuration, after the fail-closed policy: over TCP it asks
    /// for TLS (`SslMode::Require` on the wire; verification is done by the connector of
    /// [`Config::make_tls_connect`], which must be used with it). Unix-socket hosts
    /// connect without TLS.
    ///
    /// For `TenantPool`: `deadpool_postgres::Manager::from_config(config.to_tokio_config()?,
    /// config.make_tls_connect()?, manager_config)`.
    ///
    /// Over TCP, `require_auth` is enforced by that connector (inside TLS). Over a Unix
    /// socket tokio-postgres would open the socket itself, so neither `requirepeer` nor
    /// `require_auth` could be checked: such a configuration is refused here rather
    /// than silently weakened; [`crate::connect`] supports it.
    ///
    /// # Errors
    /// [`Error::WeakSslMode`] (sslmode below verify-full over TCP without a dangerous
    /// opt-in), [`Error::Missing`] (no user; verify-full with `hostaddr` but no `host`
    /// name), [`Error::InvalidValue`] (host/hostaddr/port lists that do not pair up;
    /// Unix-socket and TCP hosts mixed), [`Error::Unsupported`] (`requirepeer` or
    /// `require_auth` with Unix-socket hosts; `require_auth` over TCP without TLS).
    pub fn to_tokio_config(&self) -> Result<tokio_postgres::Config> {
        let pg = self.tokio_config()?;
        if self.is_unix_socket() {
            let key = if self.requirepeer.is_some() {
                Some("requirepeer")
            } else if self.require_auth.is_some() {
                Some("require_auth")
            } else {
                None
            };
            if let Some(key) = key {
                return Err(Error::Unsupported {
                    key: key.into(),
                    reason: "over a Unix socket it is enforced by pgsec_client::connect only; a \
                             tokio-postgres configuration (and so a pool built from one) opens \
                             the socket itself and could not check it"
                        .into(),
                });
            }
        }
        Ok(pg)
    }

    /// [`Config::to_tokio_config`] without the refusal of checks that only
    /// [`crate::connect`] performs over Unix sockets.
    pub(crate) fn tokio_config(&self) -> Result<tokio_postgres::Config> {
        let hosts = self.hosts()?;
        let tcp = hosts.iter().any(|h| matches!(h, Host::Tcp { .. }));
        let unix = hosts.iter().any(|h| matches!(h, Host::Unix { .. }));
        if tcp && unix {
            return Err(Error::invalid(
                "host",
                "Unix-socket directories and TCP hosts cannot be mixed in one host list \
                 (sockets connect without TLS, TCP hosts with verify-full TLS); use two \
                 configurations",
            ));
        }
        self.check_negotiation_options(tcp)?;
        let mut pg = tokio_postgres::Config::new();
        if tcp {
            let verification = self.verification()?;
            let any_addr = hosts
                .iter()
                .any(|h| matches!(h, Host::Tcp { addr: Some(_), .. }));
            for host in &hosts {
                let Host::Tcp { name, addr, port } = host else {
                    continue;
                };
                if name.is_empty() && verification == Verification::Full {
                    return Err(Error::Missing {
                        what: "host name".into(),
                        fix: format!(
                            "sslmode=verify-full checks the certificate against host, and only \
                             hostaddr={} was given; add host=NAME (the name in the server's \
                             certificate) next to hostaddr",
                            addr.map(|a| a.to_string()).unwrap_or_default()
                        ),
                    });
                }
                match (name.is_empty(), addr) {
                    (true, Some(a)) => pg.host(a.to_string()),
                    _ => pg.host(name),
                };
                if any_addr {
                    match addr {
                        Some(a) => pg.hostaddr(*a),
                        None => {
                            return Err(Error::Unsupported {
                                key: "hostaddr".into(),
                                reason: "an empty entry in a hostaddr list is not supported; \
                                         give an address for every host or none"
                                    .into(),
                            })
                        }
                    };
                }
                pg.port(*port);
            }
            let ssl_mode = match self.get_ssl_mode() {
                SslMode::Prefer => PgSslMode::Prefer,
                SslMode::Disable | SslMode::Allow => PgSslMode::Disable,
                _ => PgSslMode::Require,
            };
            if self.require_auth.is_some() && ssl_mode != PgSslMode::Require {
                return Err(Error::Unsupported {
                    key: "require_auth".into(),
                    reason: format!(
                        "over TCP it is checked inside TLS, and sslmode={} may connect without \
                         TLS; use sslmode=verify-full",
                        self.get_ssl_mode()
                    ),
                });
            }
            pg.ssl_mode(ssl_mode);
            if self.ssl_direct {
                pg.ssl_negotiation(SslNegotiation::Direct);
            }
        } else {
            for host in &hosts {
                if let Host::Unix { dir, port } = host {
                    pg.host_path(dir);
                    pg.port(*port);
                }
            }
            pg.ssl_mode(PgSslMode::Disable);
        }

        let user = self.user.as_deref().ok_or_else(|| Error::Missing {
            what: "user name".into(),
            fix: "set user=NAME in the connection string or PGUSER".into(),
        })?;
        pg.user(user);
        pg.dbname(self.dbname.as_deref().unwrap_or(user));
        if let Some(pw) = &self.password {
            pg.password(pw.0.as_bytes());
        }
        if let Some(options) = &self.options {
            pg.options(options);
        }
        if let Some(name) = self
            .application_name
            .as_ref()
            .or(self.fallback_application_name.as_ref())
        {
            pg.application_name(name);
        }
        if let Some(t) = self.connect_timeout {
            pg.connect_timeout(t);
        }
        if let Some(t) = self.tcp_user_timeout {
            pg.tcp_user_timeout(t);
        }
        if let Some(k) = self.keepalives {
            pg.keepalives(k);
        }
        if let Some(t) = self.keepalives_idle {
            pg.keepalives_idle(t);
        }
        if let Some(t) = self.keepalives_interval {
            pg.keepalives_interval(t);
        }
        if let Some(n) = self.keepalives_count {
            pg.keepalives_retries(n);
        }
        pg.target_session_attrs(match self.target_session_attrs {
            TargetSessionAttrs::Any => PgTargetSessionAttrs::Any,
            TargetSessionAttrs::ReadWrite => PgTargetSessionAttrs::ReadWrite,
            TargetSessionAttrs::ReadOnly => PgTargetSessionAttrs::ReadOnly,
        });
        if self.load_balance_random {
            pg.load_balance_hosts(LoadBalanceHosts::Random);
        }
        pg.channel_binding(match self.get_channel_binding() {
            ChannelBinding::Disable => PgChannelBinding::Disable,
            ChannelBinding::Prefer => PgChannelBinding::Prefer,
            ChannelBinding::Require => PgChannelBinding::Require,
        });
        Ok(pg)
    }

    /// The libpq 16–18 options that constrain TLS and the protocol: refused here, before
    /// any network I/O, when they cannot hold (min/max_protocol_version are checked when
    /// parsed: only 3.0 is accepted).
    fn check_negotiation_options(&self, tcp: bool) -> Result<()> {
        let mode = self.get_ssl_mode();
        let tls_only = matches!(
            mode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        );
        // libpq checks this for every host type, sockets included.
        if self.ssl_direct && !tls_only {
            return Err(Error::invalid(
                "sslnegotiation",
                format!(
                    "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct (use \
                     \"require\", \"verify-ca\", or \"verify-full\")"
                ),
            ));
        }
        if self.get_ssl_cert_mode() == SslCertMode::Require && !(tcp && tls_only) {
            return Err(Error::Unsupported {
                key: "sslcertmode".into(),
                reason: if tcp {
                    format!(
                        "sslcertmode=require needs TLS, and sslmode={mode} may connect \
                         without it; use sslmode=verify-full"
                    )
                } else {
                    "Unix-socket connections do not use TLS, so the server cannot ask for \
                     a client certificate; use a TCP host with sslmode=verify-full"
                        .into()
                },
            });
        }
        Ok(())
    }

    /// Whether every host is a Unix-socket directory (no TLS involved).
    pub fn is_unix_socket(&self) -> bool {
        self.hosts()
            .map(|h| h.iter().all(|h| matches!(h, Host::Unix { .. })))
            .unwrap_or(false)
    }
}

/// What the connector's verification checks.
fn verified(v: Verification) -> TlsVerification {
    match v {
        Verification::Full => TlsVerification::ChainAndHost,
        Verification::ChainOnly => TlsVerification::Chain,
        Verification::Nothing => TlsVerification::EncryptedOnly,
    }
}

/// Connects as `config` says, spawns the connection task on the current tokio runtime
/// and returns the client with what the connection established.
///
/// ```no_run
/// # async fn demo() -> Result<(), pgsec_client::Error> {
/// use pgsec_client::{connect, Config, Environment};
/// let config = Config::parse_with_env(
///     "host=db.example.com user=app dbname=app sslrootcert=/etc/ssl/pg-ca.crt",
///     &Environment::current(),
/// )?;
/// let (client, details) = connect(&config).await?;
/// println!("{:?}", details.tls.map(|t| t.protocol_version));
/// client.simple_query("select 1").await.map_err(pgsec_client::Error::Query)?;
/// # Ok(()) }
/// ```
///
/// Over Unix-domain sockets pgsec-client opens the socket itself: it reads the peer's
/// user id (`SO_PEERCRED`, in [`ConnectionDetails::peer`]), checks `requirepeer` before
/// sending anything, and enforces `require_auth`. Such a client's
/// `cancel_token().cancel_query(..)` does not know the socket; use
/// `cancel_query_raw` with a stream you open.
///
/// # Errors
/// Configuration errors as [`Config::to_tokio_config`] and [`Config::make_tls_connect`];
/// [`Error::Certificate`] when the server's certificate is refused (the
/// [`crate::CertificateRefusal`] says why); [`Error::Tls`] for other handshake failures;
/// [`Error::RequirePeer`] when the process behind a socket is not the `requirepeer`
/// user; [`Error::AuthMethodRefused`] when the server asks for an authentication method
/// `require_auth` does not allow; [`Error::Socket`] when a socket cannot be opened;
/// [`Error::Connect`] for other network and authentication errors.
pub async fn connect(config: &Config) -> Result<(tokio_postgres::Client, ConnectionDetails)> {
    let pg = config.tokio_config()?;
    if config.is_unix_socket() {
        return crate::unix_socket::connect(config, &pg).await;
    }
    let tls = config.make_tls_connect()?;
    let (client, connection) = pg.connect(tls.clone()).await.map_err(Error::from_connect)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(
                error = %pgsec_core::display_chain(&e),
                "PostgreSQL connection closed with an error"
            );
        }
    });
    let session = tls.last_session();
    let verification = match &session {
        Some(_) => verified(config.verification()?),
        None => TlsVerification::None,
    };
    let details = ConnectionDetails {
        tls: session,
        ssl_mode: config.get_ssl_mode(),
        verification,
        channel_binding: config.get_channel_binding(),
        unix_socket: false,
        peer: None,
    };
    Ok((client, details))
}
