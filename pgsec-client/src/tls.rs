//! The verifying TLS connector for tokio-postgres (rustls with the ring provider).
//!
//! tokio-postgres-rustls' `MakeRustlsConnect` keeps the rustls session private, so the
//! TLS version, cipher suite and peer certificate could not be reported; this connector
//! is the same thing (rustls + tokio-rustls, RFC 5929 `tls-server-end-point` channel
//! binding) with the session recorded and certificate refusals typed.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding as PgChannelBinding, MakeTlsConnect, TlsConnect};

use crate::auth::{AuthMethod, AuthWatch, RequireAuth};
use crate::cert::{tls_server_end_point, PeerCertificate, PgsecServerVerifier, Verification};
use crate::error::{CertificateRefusal, Error, Result};
use crate::options::{Config, RootCert, SslCertMode, SslMode};

/// What one TLS handshake established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSession {
    /// The host name the certificate was checked against (the `host` option).
    pub server_name: String,
    /// `TLSv1.3` or `TLSv1.2`.
    pub protocol_version: String,
    /// The IANA name of the cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The server's certificate.
    pub peer_certificate: Option<PeerCertificate>,
    /// How many certificates the server sent (leaf plus intermediates).
    pub certificates_sent: usize,
    /// Whether chain and host name were verified (verify-full).
    pub identity_verified: bool,
    /// Whether `tls-server-end-point` data exists, i.e. SCRAM-SHA-256-PLUS is possible.
    pub channel_binding_available: bool,
    /// The authentication the server asked for on this connection ([`AuthMethod::None`]
    /// when it asked for none); `None` until authentication completed.
    pub authentication: Option<AuthMethod>,
    /// Whether the server offered SCRAM-SHA-256-PLUS (channel binding).
    pub scram_plus_offered: bool,
    /// Whether TLS started directly (`sslnegotiation=direct`, PostgreSQL 17+) rather than
    /// after an SSLRequest.
    pub direct: bool,
    /// The ALPN protocol the server selected (`postgresql` on direct connections).
    pub alpn_protocol: Option<String>,
}

impl TlsSession {
    /// Whether this connection's SCRAM exchange was bound to the TLS channel: the server
    /// offered SCRAM-SHA-256-PLUS, the certificate allows `tls-server-end-point`, and
    /// `channel_binding` was not `disable` (tokio-postgres then picks the -PLUS
    /// mechanism, as libpq does).
    pub fn channel_binding_used(&self, setting: crate::ChannelBinding) -> bool {
        self.authentication == Some(AuthMethod::ScramSha256)
            && self.scram_plus_offered
            && self.channel_binding_available
            && setting != crate::ChannelBinding::Disable
    }
}

pub(crate) type SessionSlot = Arc<Mutex<Option<TlsSession>>>;

/// The verifying `MakeTlsConnect` for tokio-postgres and deadpool-postgres, from
/// [`Config::make_tls_connect`]. Cloning shares the configuration and the record of the
/// last handshake.
#[derive(Clone)]
pub struct MakeVerifiedTlsConnect {
    config: Arc<ClientConfig>,
    identity_verified: bool,
    last: SessionSlot,
    /// `require_auth`, checked on the decrypted stream.
    require_auth: Option<RequireAuth>,
    /// `sslnegotiation=direct`: the server must select ALPN `postgresql`.
    direct: bool,
    /// `sslcertmode=require`: the server must ask for a client certificate.
    cert_required: bool,
}

impl std::fmt::Debug for MakeVerifiedTlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeVerifiedTlsConnect")
            .field("identity_verified", &self.identity_verified)
            .finish_non_exhaustive()
    }
}

impl MakeVerifiedTlsConnect {
    /// The session of the most recent successful handshake made through this connector
    /// or a clone of it. With a pool connecting concurrently this is any recent one;
    /// [`crate::connect`] uses a fresh connector per call, so there it is the
    /// connection's own.
    pub fn last_session(&self) -> Option<TlsSession> {
        self.last.lock().ok().and_then(|s| s.clone())
    }
}

impl<S> MakeTlsConnect<S> for MakeVerifiedTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = VerifiedTlsStream<S>;
    type TlsConnect = VerifiedTlsConnect;
    type Error = Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<VerifiedTlsConnect> {
        Ok(VerifiedTlsConnect {
            hostname: hostname.to_owned(),
            config: Arc::clone(&self.config),
            identity_verified: self.identity_verified,
            last: Arc::clone(&self.last),
            require_auth: self.require_auth,
            direct: self.direct,
            cert_required: self.cert_required,
        })
    }
}

/// One pending handshake (tokio-postgres' `TlsConnect`).
pub struct VerifiedTlsConnect {
    hostname: String,
    config: Arc<ClientConfig>,
    identity_verified: bool,
    last: SessionSlot,
    require_auth: Option<RequireAuth>,
    direct: bool,
    cert_required: bool,
}

impl std::fmt::Debug for VerifiedTlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTlsConnect")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl<S> TlsConnect<S> for VerifiedTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = VerifiedTlsStream<S>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<VerifiedTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let host = self.hostname;
            let name = ServerName::try_from(host.clone()).map_err(|_| Error::InvalidValue {
                key: "host".into(),
                reason: format!("\"{host}\" is neither a DNS name nor an IP address"),
            })?;
            // sslcertmode=require: a resolver of this handshake's own records whether
            // the server sent a CertificateRequest (rustls asks the resolver then, with
            // or without a certificate to give).
            let (config, asked) = if self.cert_required {
                let mut config = (*self.config).clone();
                let recorder = Arc::new(RecordingResolver {
                    inner: Arc::clone(&config.client_auth_cert_resolver),
                    asked: AtomicBool::new(false),
                });
                config.client_auth_cert_resolver = recorder.clone();
                (Arc::new(config), Some(recorder))
            } else {
                (self.config, None)
            };
            let connector = tokio_rustls::TlsConnector::from(config);
            let tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| handshake_error(&host, self.direct, e))?;
            let (_, conn) = tls.get_ref();
            if self.direct && conn.alpn_protocol() != Some(ALPN_POSTGRESQL) {
                return Err(Error::TlsRequirement {
                    host,
                    option: "sslnegotiation=direct",
                    reason: "the server completed the TLS handshake without selecting the \
                             ALPN protocol \"postgresql\", so it is not a PostgreSQL 17+ \
                             server accepting direct TLS (a TLS proxy in front of it?); connect \
                             with sslnegotiation=postgres"
                        .into(),
                });
            }
            if asked.is_some_and(|r| !r.asked.load(Ordering::SeqCst)) {
                return Err(Error::TlsRequirement {
                    host,
                    option: "sslcertmode=require",
                    reason: "the server did not request a client certificate; set \
                             ssl_ca_file on the server and use clientcert=verify-full or the \
                             cert method in pg_hba.conf, or connect with sslcertmode=allow"
                        .into(),
                });
            }
            let certs = conn.peer_certificates().unwrap_or(&[]);
            let end_point = certs.first().and_then(|c| tls_server_end_point(c.as_ref()));
            let session = TlsSession {
                server_name: host.clone(),
                protocol_version: match conn.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
                    Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
                    Some(other) => format!("{other:?}"),
                    None => "unknown".into(),
                },
                cipher_suite: conn
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
                    .unwrap_or_else(|| "unknown".into()),
                peer_certificate: certs
                    .first()
                    .and_then(|c| PeerCertificate::from_der(c.as_ref()).ok()),
                certificates_sent: certs.len(),
                identity_verified: self.identity_verified,
                channel_binding_available: end_point.is_some(),
                authentication: None,
                scram_plus_offered: false,
                direct: self.direct,
                alpn_protocol: conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            };
            if let Ok(mut slot) = self.last.lock() {
                *slot = Some(session);
            }
            Ok(VerifiedTlsStream {
                inner: tls,
                end_point,
                // Always watched: without require_auth the watch refuses nothing and
                // only records what authentication used (for the client.* facts).
                auth: Some(
                    AuthWatch::new(self.require_auth.unwrap_or(RequireAuth::ANY), host)
                        .reporting_to(Arc::clone(&self.last)),
                ),
            })
        })
    }
}

/// The ALPN protocol of PostgreSQL (17+), required on direct TLS connections.
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// The client-certificate resolver of one handshake under `sslcertmode=require`:
/// answers as the configured one and records that the server asked.
#[derive(Debug)]
struct RecordingResolver {
    inner: Arc<dyn ResolvesClientCert>,
    asked: AtomicBool,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.asked.store(true, Ordering::SeqCst);
        self.inner.resolve(root_hint_subjects, sigschemes)
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// Whether a failed handshake looks like a server that does not speak TLS first: it
/// closed the connection, or answered with something that is not a TLS record.
fn not_direct_tls(e: &io::Error) -> bool {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    if matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    ) {
        return true;
    }
    matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        Some(
            rustls::Error::InvalidMessage(_)
                | rustls::Error::InappropriateHandshakeMessage { .. }
                | rustls::Error::InappropriateMessage { .. }
                | rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
        )
    )
}

fn handshake_error(host: &str, direct: bool, e: io::Error) -> Error {
    let refusal = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|r| match r {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)) => {
                o.0.downcast_ref::<CertificateRefusal>().cloned()
            }
            _ => None,
        });
    match refusal {
        Some(refusal) => Error::Certificate {
            host: host.to_owned(),
            refusal,
        },
        None if direct && not_direct_tls(&e) => Error::TlsRequirement {
            host: host.to_owned(),
            option: "sslnegotiation=direct",
            reason: format!(
                "the server did not accept a direct TLS handshake ({e}); only PostgreSQL 17 \
                 and later accept TLS without an SSLRequest first. Connect to this server \
                 with sslnegotiation=postgres"
            ),
        },
        None => Error::Tls {
            host: host.to_owned(),
            source: e,
        },
    }
}

/// A TLS stream that provides `tls-server-end-point` channel binding.
pub struct VerifiedTlsStream<S> {
    inner: tokio_rustls::client::TlsStream<S>,
    end_point: Option<Vec<u8>>,
    auth: Option<AuthWatch>,
}

impl<S> std::fmt::Debug for VerifiedTlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTlsStream").finish_non_exhaustive()
    }
}

impl<S> tokio_postgres::tls::TlsStream for VerifiedTlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> PgChannelBinding {
        match &self.end_point {
            Some(hash) => PgChannelBinding::tls_server_end_point(hash.clone()),
            None => PgChannelBinding::none(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for VerifiedTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        AuthWatch::poll_read(&mut this.auth, Pin::new(&mut this.inner), cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for VerifiedTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Config {
    /// How much the certificate of a TCP server is checked, after the fail-closed policy.
    pub(crate) fn verification(&self) -> Result<Verification> {
        let mode = self.get_ssl_mode();
        if self.ssl_root_cert == Some(RootCert::System) && mode != SslMode::VerifyFull {
            return Err(Error::invalid(
                "sslmode",
                format!(
                    "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \
                     \"verify-full\")"
                ),
            ));
        }
        match mode {
            SslMode::VerifyFull => Ok(Verification::Full),
            SslMode::VerifyCa if self.allow_unverified_tls => Ok(Verification::ChainOnly),
            SslMode::Require if self.allow_unverified_tls => {
                // libpq: require with a root certificate file behaves like verify-ca.
                let root_exists =
                    matches!(self.get_ssl_root_cert(), Some(RootCert::File(p)) if p.is_file());
                Ok(if root_exists {
                    Verification::ChainOnly
                } else {
                    Verification::Nothing
                })
            }
            SslMode::Disable | SslMode::Allow | SslMode::Prefer if self.allow_plaintext => {
                Ok(Verification::Nothing)
            }
            mode => Err(Error::WeakSslMode { mode }),
        }
    }

    /// The verifying TLS connector for this configuration: rustls with the ring provider,
    /// trusted roots from `sslrootcert` (a PEM file, `system`, or libpq's default
    /// `~/.postgresql/root.crt`), the client certificate from `sslcert`/`sslkey` (or
    /// `~/.postgresql/postgresql.crt` / `.key` when present), and a verifier that checks
    /// the chain and the host name as sslmode=verify-full.
    ///
    /// For `TenantPool` and any other pool: pass it with [`Config::to_tokio_config`] to
    /// `deadpool_postgres::Manager::from_config(pg_config, tls, ...)`; it is `Clone +
    /// Send + Sync` and its futures are `Send`. tokio-postgres calls it with the `host`
    /// value, so names are checked against `host` while the socket goes to `hostaddr`.
    /// A refused certificate surfaces as a `tokio_postgres::Error` whose `source()` chain
    /// holds [`Error::Certificate`]; [`crate::certificate_refusal`] finds it.
    ///
    /// # Errors
    /// [`Error::WeakSslMode`] for a mode below verify-full without a dangerous opt-in;
    /// [`Error::CertificateFile`] / [`Error::Missing`] when the root or client
    /// certificate cannot be loaded; [`Error::TlsConfig`] when rustls refuses them.
    pub fn make_tls_connect(&self) -> Result<MakeVerifiedTlsConnect> {
        // Unix-socket hosts never use TLS; the connector is then only a fail-closed
        // placeholder (it trusts nothing unless roots load).
        let unix_only = self.is_unix_socket();
        let verification = if unix_only {
            Verification::Full
        } else {
            self.verification()?
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&'static rustls::SupportedProtocolVersion] = if self.ssl_min_tls13 {
            &[&rustls::version::TLS13]
        } else if self.ssl_max_tls13_only == Some(false) {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let (roots, trusted) = match self.load_roots(verification) {
            Ok(loaded) => loaded,
            Err(_) if unix_only => (RootCertStore::empty(), "no trusted roots".into()),
            Err(e) => return Err(e),
        };
        let verifier = Arc::new(PgsecServerVerifier::new(
            Arc::new(roots),
            trusted,
            Arc::clone(&provider),
            verification,
        ));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(Error::TlsConfig)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        // sslcertmode=disable: never send a client certificate, even one that exists.
        let client_cert = match self.get_ssl_cert_mode() {
            SslCertMode::Disable => None,
            _ => match self.load_client_cert() {
                Err(_) if unix_only => None,
                other => other?,
            },
        };
        let mut config = match client_cert {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(Error::TlsConfig)?,
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = self.ssl_sni;
        if self.ssl_direct {
            // PostgreSQL 17 requires this ALPN protocol on direct TLS connections.
            config.alpn_protocols = vec![b"postgresql".to_vec()];
        }
        Ok(MakeVerifiedTlsConnect {
            config: Arc::new(config),
            identity_verified: verification == Verification::Full,
            last: Arc::new(Mutex::new(None)),
            require_auth: self.require_auth,
            direct: self.ssl_direct,
            cert_required: self.get_ssl_cert_mode() == SslCertMode::Require,
        })
    }

    fn load_roots(&self, verification: Verification) -> Result<(RootCertStore, String)> {
        let mut roots = RootCertStore::empty();
        let root = self.get_ssl_root_cert();
        if verification == Verification::Nothing {
            return Ok((roots, "no trusted roots (unverified TLS)".into()));
        }
        match root {
            None => Err(Error::Missing {
                what: "sslrootcert".into(),
                fix: "name the CA that issued the server certificate with \
                      sslrootcert=/path/to/ca.crt, or use sslrootcert=system"
                    .into(),
            }),
            Some(RootCert::System) => {
                let native = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(native.certs);
                if added == 0 {
                    return Err(Error::Missing {
                        what: "system trust store".into(),
                        fix: "no usable certificates were found in the operating system's trust \
                              store; install ca-certificates or use sslrootcert=/path/to/ca.crt"
                            .into(),
                    });
                }
                Ok((roots, "the system trust store (sslrootcert=system)".into()))
            }
            Some(RootCert::File(path)) => {
                let certs = read_certs("root certificate file", &path, || {
                    "does not exist; either provide the file, use the system's trusted roots \
                     with sslrootcert=system, or name the CA file with \
                     sslrootcert=/path/to/ca.crt"
                        .into()
                })?;
                for cert in certs {
                    roots.add(cert).map_err(|e| Error::CertificateFile {
                        what: "root certificate file",
                        path: path.clone(),
                        reason: format!("holds an unusable CA certificate: {e}"),
                    })?;
                }
                Ok((roots, format!("sslrootcert={}", path.display())))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn load_client_cert(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>> {
        let cert_path = match (&self.ssl_cert, &self.cert_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => dir.join("postgresql.crt"),
            (None, None) => return Ok(None),
        };
        // libpq silently goes without a client certificate when the file is absent.
        if !cert_path.is_file() {
            return Ok(None);
        }
        let chain = read_certs("client certificate file", &cert_path, || {
            "does not exist".into()
        })?;
        let key_path = match (&self.ssl_key, &self.cert_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => dir.join("postgresql.key"),
            (None, None) => cert_path.with_extension("key"),
        };
        let meta = std::fs::metadata(&key_path).map_err(|_| Error::CertificateFile {
            what: "private key file",
            path: key_path.clone(),
            reason: "does not exist; a client certificate needs its key (set sslkey=...)".into(),
        })?;
        check_key_permissions(&key_path, &meta)?;
        let key = crate::regular_file::pem_key(&key_path).map_err(|e| Error::CertificateFile {
            what: "private key file",
            path: key_path.clone(),
            reason: format!("is not a PEM private key: {e}"),
        })?;
        Ok(Some((chain, key)))
    }
}

fn read_certs(
    what: &'static str,
    path: &Path,
    missing: impl FnOnce() -> String,
) -> Result<Vec<CertificateDer<'static>>> {
    if !path.exists() {
        return Err(Error::CertificateFile {
            what,
            path: path.to_path_buf(),
            reason: missing(),
        });
    }
    let certs = crate::regular_file::pem_certs(path).map_err(|e| Error::CertificateFile {
        what,
        path: path.to_path_buf(),
        reason: format!("is not a PEM certificate file: {e}"),
    })?;
    if certs.is_empty() {
        return Err(Error::CertificateFile {
            what,
            path: path.to_path_buf(),
            reason: "holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}

/// libpq refuses a key readable by group or others, except 0640 owned by root.
fn check_key_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o777;
        let ok = if meta.uid() == 0 {
            mode & 0o037 == 0
        } else {
            mode & 0o077 == 0
        };
        if !ok {
            return Err(Error::CertificateFile {
                what: "private key file",
                path: path.to_path_buf(),
                reason: "has group or world access; the file must have permissions u=rw (0600) \
                         or less if owned by the current user, or u=rw,g=r (0640) or less if \
                         owned by root"
                    .into(),
            });
        }
    }
    let _ = (path, meta);
    Ok(())
}
