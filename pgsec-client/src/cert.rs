//! The server-certificate verifier: webpki chain validation plus libpq's host-name rules
//! (without the common-name fallback), with refusals that say what was expected and
//! what was presented.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgsec_core::snapshot::CertificateFacts;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::CertificateRefusal;

/// The server certificate as presented in the handshake: what `pgsec ping` prints and
/// what the `tls.cert_expiry` and `tls.cert_no_san` rules look at. Parsed by
/// pgsec-core (the one certificate parser of the workspace).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCertificate {
    /// Subject, issuer, common name, validity and subjectAltNames, as pgsec-core's
    /// rules read them.
    pub facts: CertificateFacts,
    /// The DER encoding, for callers that want to look further.
    pub der: Vec<u8>,
}

impl PeerCertificate {
    /// Parses a DER certificate.
    ///
    /// # Errors
    /// [`pgsec_core::Error::Certificate`] saying why the bytes are not a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, pgsec_core::Error> {
        Ok(PeerCertificate {
            facts: CertificateFacts::from_der(der, "the server certificate")?,
            der: der.to_vec(),
        })
    }

    /// Whether the certificate has at least one DNS or IP subjectAltName.
    pub fn has_subject_alt_name(&self) -> bool {
        self.facts.has_san()
    }

    /// Every DNS and IP subjectAltName, as text.
    pub fn names(&self) -> Vec<String> {
        self.facts.names()
    }

    /// End of validity.
    pub fn not_after(&self) -> SystemTime {
        system_time(self.facts.not_after)
    }

    /// Time left until expiry at `now` (`None` when already expired).
    pub fn remaining_validity(&self, now: SystemTime) -> Option<Duration> {
        self.not_after().duration_since(now).ok()
    }

    /// `not_after` as `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn not_after_utc(&self) -> String {
        self.facts.not_after_utc()
    }
}

fn system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

/// libpq's host-name check against the subjectAltNames, minus the common-name fallback:
/// DNS names match case-insensitively, `*.example.com` matches exactly one label; an IP
/// host matches an equal IP subjectAltName (or, as libpq, a DNS subjectAltName spelled as
/// that address).
///
/// # Errors
/// [`CertificateRefusal::NoSubjectAltName`] or [`CertificateRefusal::NameMismatch`].
pub fn check_host_name(cert: &PeerCertificate, host: &str) -> Result<(), CertificateRefusal> {
    if !cert.has_subject_alt_name() {
        return Err(CertificateRefusal::NoSubjectAltName {
            expected: host.to_owned(),
            common_name: cert.facts.common_name.clone(),
        });
    }
    let matched = match host.parse::<IpAddr>() {
        Ok(ip) => {
            cert.facts.ip_sans.contains(&ip)
                || cert
                    .facts
                    .dns_sans
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(host))
        }
        Err(_) => cert
            .facts
            .dns_sans
            .iter()
            .any(|d| dns_name_matches(d, host)),
    };
    if matched {
        Ok(())
    } else {
        Err(CertificateRefusal::NameMismatch {
            expected: host.to_owned(),
            presented: cert.names(),
        })
    }
}

/// libpq's `wildcard_certificate_match`: the pattern must start with `*.`, the host must
/// end with the rest of it, and the part replacing `*` is non-empty and has no dot.
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix('*') else {
        return false;
    };
    if !suffix.starts_with('.') || suffix.len() < 2 || host.len() < pattern.len() {
        return false;
    }
    let split = host.len() - suffix.len();
    match (host.get(..split), host.get(split..)) {
        (Some(label), Some(tail)) => tail.eq_ignore_ascii_case(suffix) && !label.contains('.'),
        _ => false,
    }
}

/// How much the verifier checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Chain and host name (verify-full).
    Full,
    /// Chain only (verify-ca, or require with a root file, as libpq).
    ChainOnly,
    /// Nothing (require / prefer, behind a dangerous opt-in).
    Nothing,
}

/// pgsec's `ServerCertVerifier`. Chain validation and handshake signatures are rustls'
/// webpki functions (the ones `WebPkiServerVerifier` uses); the name check is kept
/// separate so that every refusal can say what was expected and presented.
#[derive(Debug)]
pub(crate) struct PgsecServerVerifier {
    roots: Arc<RootCertStore>,
    trusted: String,
    provider: Arc<CryptoProvider>,
    verification: Verification,
}

impl PgsecServerVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        trusted: String,
        provider: Arc<CryptoProvider>,
        verification: Verification,
    ) -> Self {
        PgsecServerVerifier {
            roots,
            trusted,
            provider,
            verification,
        }
    }

    fn chain_refusal(
        &self,
        err: rustls::Error,
        peer: Option<&PeerCertificate>,
        intermediates_sent: usize,
        now: UnixTime,
    ) -> CertificateRefusal {
        let subject = match peer {
            Some(p) if !p.facts.subject.is_empty() => p.facts.subject.clone(),
            Some(p) => format!("(empty subject, subjectAltName {})", p.names().join(", ")),
            None => "<unparsable certificate>".into(),
        };
        match err {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                CertificateRefusal::UnknownIssuer {
                    subject,
                    issuer: peer.map(|p| p.facts.issuer.clone()).unwrap_or_default(),
                    intermediates_sent,
                    trusted: self.trusted.clone(),
                }
            }
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => CertificateRefusal::Expired {
                subject,
                not_after: peer.map(PeerCertificate::not_after_utc).unwrap_or_default(),
                checked_at: pgsec_core::format_utc(
                    i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                ),
            },
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
            ) => CertificateRefusal::NotYetValid {
                subject,
                not_before: peer.map(|p| p.facts.not_before_utc()).unwrap_or_default(),
            },
            other => CertificateRefusal::Invalid {
                subject,
                reason: other.to_string(),
            },
        }
    }
}

fn refuse(refusal: CertificateRefusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(refusal))))
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

impl ServerCertVerifier for PgsecServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.verification == Verification::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        let peer = PeerCertificate::from_der(end_entity.as_ref()).ok();
        let parsed = ParsedCertificate::try_from(end_entity)
            .map_err(|e| refuse(self.chain_refusal(e, peer.as_ref(), intermediates.len(), now)))?;
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )
        .map_err(|e| refuse(self.chain_refusal(e, peer.as_ref(), intermediates.len(), now)))?;
        if self.verification == Verification::Full {
            let peer = peer.ok_or_else(|| {
                refuse(CertificateRefusal::Invalid {
                    subject: "<unparsable certificate>".into(),
                    reason: "the certificate could not be parsed to check its names".into(),
                })
            })?;
            check_host_name(&peer, &server_name_text(server_name)).map_err(refuse)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// RFC 5929 `tls-server-end-point`: the server certificate hashed with the hash of its
/// signature algorithm (SHA-256 for MD5 and SHA-1). `None` for algorithms without one
/// (Ed25519, RSASSA-PSS), as PostgreSQL.
pub(crate) fn tls_server_end_point(der: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    match oid.as_str() {
        // md5/sha1/sha256 with RSA, ecdsa-with-SHA1/SHA256, dsa-with-sha256
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2"
        | "2.16.840.1.101.3.4.3.2" => Some(sha2::Sha256::digest(der).to_vec()),
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(sha2::Sha384::digest(der).to_vec()),
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(sha2::Sha512::digest(der).to_vec()),
        _ => None,
    }
}

#[cfg(test)]
#[path = "cert_tests.rs"]
mod tests;
