//! What a connection is, as facts for pgsec-core's rules: [`ConnectionDetails`] of an
//! established connection and the facts a configuration implies before connecting; both
//! judged by pgsec-core's `evaluate`, so `pgsec ping` and `pgsec audit --url` agree.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::snapshot::{ChannelBindingFacts, ClientFacts, TlsVerification, Transport};
use pgsec_core::{Finding, Policy, Snapshot};

use crate::auth::AuthMethod;
use crate::options::{ChannelBinding, Config, Host, SslMode};
use crate::tls::TlsSession;

/// What [`crate::connect`] established.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionDetails {
    /// The TLS session (`None` over a Unix socket or, with a dangerous opt-in, plaintext).
    pub tls: Option<TlsSession>,
    /// The sslmode in force.
    pub ssl_mode: SslMode,
    /// What the connection verified about the server's certificate (chain and host
    /// name under verify-full; less only behind a `dangerous_…` opt-in).
    pub verification: TlsVerification,
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

    /// The facts pgsec-core's `client.*` and `tls.cert_*` rules judge: transport, what
    /// was verified, TLS version and cipher, the server certificate (parsed by
    /// pgsec-core), and channel binding as the authentication exchange showed it.
    /// `pgsec ping` and `pgsec audit --url` evaluate exactly these, so they agree.
    pub fn client_facts(&self) -> ClientFacts {
        if self.unix_socket {
            let host = self
                .peer
                .as_ref()
                .map(|p| p.socket.display().to_string())
                .unwrap_or_else(|| "local socket".to_owned());
            return ClientFacts::new(
                host,
                Transport::UnixSocket,
                self.ssl_mode.as_str(),
                TlsVerification::None,
            );
        }
        let Some(tls) = &self.tls else {
            return ClientFacts::new(
                "server",
                Transport::Tcp,
                self.ssl_mode.as_str(),
                TlsVerification::None,
            );
        };
        let mut facts = ClientFacts::new(
            tls.server_name.clone(),
            Transport::Tcp,
            self.ssl_mode.as_str(),
            self.verification,
        )
        .with_tls(tls.protocol_version.clone(), tls.cipher_suite.clone());
        if let Some(cert) = &tls.peer_certificate {
            facts = facts.with_peer_certificate(cert.facts.clone());
        }
        if let Some(method) = tls.authentication {
            facts = facts.with_channel_binding(
                ChannelBindingFacts::new(
                    method == AuthMethod::ScramSha256,
                    tls.scram_plus_offered,
                    tls.channel_binding_used(self.channel_binding),
                )
                .with_certificate_allows_binding(tls.channel_binding_available),
            );
        }
        facts
    }

    /// pgsec-core's verdict on [`ConnectionDetails::client_facts`]: the `client.*` and
    /// `tls.cert_*` findings of this connection (what `pgsec ping` prints and
    /// `pgsec audit --url` reports for its own connection).
    pub fn findings(&self) -> Vec<Finding> {
        client_findings(self.client_facts())
    }
}

/// pgsec-core's verdict on what a configuration would verify, before connecting (for a
/// refused configuration, `pgsec ping` still reports `client.sslmode_weak`).
pub fn config_findings(config: &Config) -> Vec<Finding> {
    client_findings(config.client_facts())
}

/// Evaluates client facts with every rule of pgsec-core; only the rules that judge
/// client facts can fire, the others have no facts and are skipped.
fn client_findings(facts: ClientFacts) -> Vec<Finding> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let snapshot = Snapshot::new(facts.host.clone(), now).with_client(facts);
    pgsec_core::evaluate(&snapshot, &Policy::default())
        .findings()
        .to_vec()
}

impl Config {
    /// The client facts this configuration implies before connecting (for a
    /// configuration that is refused, `pgsec ping` still reports what is weak about
    /// it): the transport, and what its sslmode would verify.
    pub fn client_facts(&self) -> ClientFacts {
        if self.is_unix_socket() {
            return ClientFacts::new(
                "local socket",
                Transport::UnixSocket,
                self.get_ssl_mode().as_str(),
                TlsVerification::None,
            );
        }
        let host = match self.hosts().ok().and_then(|h| h.into_iter().next()) {
            Some(Host::Tcp { name, addr, .. }) if name.is_empty() => {
                addr.map(|a| a.to_string()).unwrap_or_default()
            }
            Some(Host::Tcp { name, .. }) => name,
            _ => "server".to_owned(),
        };
        let mode = self.get_ssl_mode();
        ClientFacts::new(
            host,
            Transport::Tcp,
            mode.as_str(),
            implied_verification(mode),
        )
    }
}

/// What an sslmode verifies, as libpq defines it.
fn implied_verification(mode: SslMode) -> TlsVerification {
    match mode {
        SslMode::VerifyFull => TlsVerification::ChainAndHost,
        SslMode::VerifyCa => TlsVerification::Chain,
        SslMode::Require | SslMode::Prefer => TlsVerification::EncryptedOnly,
        SslMode::Disable | SslMode::Allow => TlsVerification::None,
    }
}

/// Who is behind a Unix-domain socket (`SO_PEERCRED`), and whether `requirepeer` checked
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketPeer {
    /// The socket file (`<dir>/.s.PGSQL.<port>`).
    pub socket: PathBuf,
    /// The user id the server process runs as, when the system said.
    pub uid: Option<u32>,
    /// Its user name (from `/etc/passwd`), when the user id has one.
    pub user: Option<String>,
    /// The `requirepeer` value the peer was checked against and matched; `None` when
    /// nothing was checked.
    pub required: Option<String>,
}

impl SocketPeer {
    /// True when `requirepeer` confirmed who runs the server.
    pub fn is_verified(&self) -> bool {
        self.required.is_some()
    }
}
