//! Connecting: the tokio-postgres configuration, `connect`, and what the connection is.

use tokio_postgres::config::{
    ChannelBinding as PgChannelBinding, LoadBalanceHosts, SslMode as PgSslMode, SslNegotiation,
    TargetSessionAttrs as PgTargetSessionAttrs,
};

use crate::cert::Verification;
use crate::error::{Error, Result};
use crate::options::{ChannelBinding, Config, Host, SslMode, TargetSessionAttrs};
use crate::tls::TlsSession;
use crate::unix_socket::SocketPeer;

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

    /// Whether every host is a Unix-socket directory (no TLS involved).
    pub fn is_unix_socket(&self) -> bool {
        self.hosts()
            .map(|h| h.iter().all(|h| matches!(h, Host::Unix { .. })))
            .unwrap_or(false)
    }
}

/// What [`connect`] established.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionDetails {
    /// The TLS session (`None` over a Unix socket or, with a dangerous opt-in, plaintext).
    pub tls: Option<TlsSession>,
    /// The sslmode in force.
    pub ssl_mode: SslMode,
    /// The channel_binding setting in force.
    pub channel_binding: ChannelBinding,
    /// Whether the connection went through a Unix-domain socket.
    pub unix_socket: bool,
    /// Over a Unix-domain socket: who runs the server, and whether `requirepeer`
    /// checked it.
    pub peer: Option<SocketPeer>,
}

impl ConnectionDetails {
    /// True when the server's identity is established: TLS with chain and host name
    /// verified, or a Unix-domain socket whose peer `requirepeer` checked. A socket
    /// without that check is not verified: whoever created the socket file got the
    /// connection.
    pub fn is_verified(&self) -> bool {
        if self.unix_socket {
            self.peer.as_ref().is_some_and(SocketPeer::is_verified)
        } else {
            self.tls.as_ref().is_some_and(|t| t.identity_verified)
        }
    }

    /// The `client.*` findings of this connection (rule ids of RULES.md):
    /// `client.sslmode_weak` when the server's identity was not verified over TCP,
    /// `client.channel_binding` when SCRAM may run without channel binding over TLS.
    pub fn findings(&self) -> Vec<ClientFinding> {
        let mut out = Vec::new();
        // client.sslmode_weak is about TCP; a socket's peer is reported by `peer`.
        if !self.unix_socket && !self.is_verified() {
            let note = if self.tls.is_none() {
                " (and this connection is not encrypted)"
            } else {
                ""
            };
            out.push(sslmode_weak(self.ssl_mode, note));
        }
        if let Some(tls) = &self.tls {
            if self.channel_binding == ChannelBinding::Disable {
                out.push(channel_binding_disabled());
            } else if !tls.channel_binding_available {
                out.push(ClientFinding {
                    rule_id: "client.channel_binding",
                    severity: "low",
                    message: "the server certificate's signature algorithm has no \
                              tls-server-end-point hash, so SCRAM-SHA-256-PLUS cannot be used"
                        .into(),
                    remediation: "reissue the server certificate with an RSA or ECDSA \
                                  signature using SHA-256 or stronger"
                        .into(),
                });
            }
            // With `prefer`, tokio-postgres binds whenever the server offers
            // SCRAM-SHA-256-PLUS, which a PostgreSQL server with SCRAM over TLS does.
        }
        out
    }
}

fn channel_binding_disabled() -> ClientFinding {
    ClientFinding {
        rule_id: "client.channel_binding",
        severity: "low",
        message: "channel_binding=disable: SCRAM authentication is not bound to the TLS channel"
            .into(),
        remediation: "connect with channel_binding=require".into(),
    }
}

fn sslmode_weak(mode: SslMode, note: &str) -> ClientFinding {
    ClientFinding {
        rule_id: "client.sslmode_weak",
        severity: "critical",
        message: format!(
            "sslmode={mode} does not verify the server's certificate chain and host name{note}"
        ),
        remediation: "connect with sslmode=verify-full sslrootcert=/path/to/ca.crt".into(),
    }
}

/// A `client.*` finding (see RULES.md), for `pgsec ping` and audit reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientFinding {
    /// Stable rule id (`client.sslmode_weak`, `client.channel_binding`).
    pub rule_id: &'static str,
    /// Severity name as in RULES.md (`critical`, `low`).
    pub severity: &'static str,
    /// What was found.
    pub message: String,
    /// What to change.
    pub remediation: String,
}

/// Findings a configuration would produce before connecting (for a refused
/// configuration, `pgsec ping` still reports `client.sslmode_weak`).
pub fn config_findings(config: &Config) -> Vec<ClientFinding> {
    let mode = config.get_ssl_mode();
    if config.is_unix_socket() || mode.verifies_identity() {
        return Vec::new();
    }
    let mut out = vec![sslmode_weak(mode, "")];
    if config.get_channel_binding() == ChannelBinding::Disable {
        out.push(channel_binding_disabled());
    }
    out
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
            tracing::warn!(error = %e, "PostgreSQL connection closed with an error");
        }
    });
    let details = ConnectionDetails {
        tls: tls.last_session(),
        ssl_mode: config.get_ssl_mode(),
        channel_binding: config.get_channel_binding(),
        unix_socket: false,
        peer: None,
    };
    Ok((client, details))
}
