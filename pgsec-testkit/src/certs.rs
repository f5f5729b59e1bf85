//! Certificates for test servers: a fresh CA and a server certificate per server.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// The TLS identity a server presents: its certificate chain and key, and the CA that
/// clients should trust.
#[derive(Clone)]
pub struct ServerIdentity {
    /// PEM of the CA certificate clients trust (the `sslrootcert`).
    pub ca_pem: String,
    /// PEM of the server certificate, followed by any intermediates the server sends.
    pub cert_chain_pem: String,
    /// PEM of the server's private key.
    pub key_pem: String,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("ca_pem", &format_args!("<{} bytes>", self.ca_pem.len()))
            .field(
                "cert_chain_pem",
                &format_args!("<{} bytes>", self.cert_chain_pem.len()),
            )
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A certificate authority for tests, able to issue server and intermediate certificates.
pub struct TestCa {
    /// PEM of the CA certificate.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

fn certs_err(e: rcgen::Error) -> Error {
    Error::Certificates {
        what: "test certificates",
        source: Box::new(e),
    }
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
}

impl TestCa {
    /// A new self-signed root CA with the given common name.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn new(common_name: &str) -> Result<Self> {
        let key = KeyPair::generate().map_err(certs_err)?;
        let params = ca_params(common_name);
        let cert = params.self_signed(&key).map_err(certs_err)?;
        Ok(TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// An intermediate CA signed by this one.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn intermediate(&self, common_name: &str) -> Result<TestCa> {
        let key = KeyPair::generate().map_err(certs_err)?;
        let params = ca_params(common_name);
        let cert = params.signed_by(&key, &self.issuer).map_err(certs_err)?;
        Ok(TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues a server certificate. `sans` are DNS names or IP addresses (an empty list
    /// gives a certificate without the subjectAltName extension); `common_name` sets the
    /// subject CN when given. Returns (certificate PEM, key PEM).
    ///
    /// # Errors
    /// A SAN is not a valid DNS name or IP, or signing failed.
    pub fn issue(&self, sans: &[&str], common_name: Option<&str>) -> Result<(String, String)> {
        self.issue_with(sans, common_name, |_| {})
    }

    /// Like [`TestCa::issue`], with a hook to adjust the parameters (validity, usages).
    ///
    /// # Errors
    /// A SAN is not a valid DNS name or IP, or signing failed.
    pub fn issue_with(
        &self,
        sans: &[&str],
        common_name: Option<&str>,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Result<(String, String)> {
        let key = KeyPair::generate().map_err(certs_err)?;
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).map_err(certs_err)?;
        let mut dn = DistinguishedName::new();
        if let Some(cn) = common_name {
            dn.push(DnType::CommonName, cn);
        }
        params.distinguished_name = dn;
        validity(&mut params);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        adjust(&mut params);
        let cert = params.signed_by(&key, &self.issuer).map_err(certs_err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params);
    params
}

/// The default identity: a fresh CA and a server certificate for `localhost`,
/// `127.0.0.1` and `::1`.
///
/// # Errors
/// Key generation or signing failed.
pub fn default_identity() -> Result<ServerIdentity> {
    let ca = TestCa::new("pgsec testkit CA")?;
    let (cert, key) = ca.issue(&["localhost", "127.0.0.1", "::1"], Some("localhost"))?;
    Ok(ServerIdentity {
        ca_pem: ca.cert_pem.clone(),
        cert_chain_pem: cert,
        key_pem: key,
    })
}
