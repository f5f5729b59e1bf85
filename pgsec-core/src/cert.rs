//! Certificate facts from PEM or DER (pure), and the server's TLS files from a data
//! directory (the one place this module reads files).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::conf::ConfFile;
use crate::snapshot::{CertFileFacts, CertificateFacts, Collected, KeyFileFacts, ServerTlsFiles};
use crate::{Error, InputLimits};

impl CertificateFacts {
    /// Facts of the first certificate in PEM text (or of DER bytes when `bytes` does not
    /// look like PEM). `what` names the source in errors.
    ///
    /// # Errors
    /// [`Error::Certificate`] when no certificate can be decoded.
    pub fn from_pem_or_der(bytes: &[u8], what: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Certificate {
            what: what.to_owned(),
            reason,
        };
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
                let pem = pem.map_err(|e| err(e.to_string()))?;
                if pem.label != "CERTIFICATE" {
                    continue;
                }
                let cert = pem.parse_x509().map_err(|e| err(e.to_string()))?;
                return Ok(Self::from_x509(&cert));
            }
            Err(err("no CERTIFICATE block".to_owned()))
        } else {
            Self::from_der(bytes, what)
        }
    }

    /// Facts of a DER-encoded certificate.
    ///
    /// # Errors
    /// [`Error::Certificate`] when the bytes are not a certificate.
    pub fn from_der(der: &[u8], what: &str) -> Result<Self, Error> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| Error::Certificate {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_x509(&cert))
    }

    /// Every DNS and IP subjectAltName, as text.
    pub fn names(&self) -> Vec<String> {
        self.dns_sans
            .iter()
            .cloned()
            .chain(self.ip_sans.iter().map(IpAddr::to_string))
            .collect()
    }

    /// `not_after` as `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn not_after_utc(&self) -> String {
        crate::pgvalue::utc_datetime(self.not_after)
    }

    /// `not_before` as `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn not_before_utc(&self) -> String {
        crate::pgvalue::utc_datetime(self.not_before)
    }

    fn from_x509(cert: &X509Certificate<'_>) -> Self {
        let mut facts = CertificateFacts::new(
            cert.subject().to_string(),
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        facts.issuer = cert.issuer().to_string();
        facts.common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            facts.has_san_extension = true;
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => facts.dns_sans.push((*d).to_owned()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            facts.ip_sans.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            facts.ip_sans.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        facts
    }
}

impl ServerTlsFiles {
    /// Reads the server certificate and key named by `ssl_cert_file` / `ssl_key_file`
    /// (PostgreSQL's defaults `server.crt` / `server.key` when `conf` does not set them;
    /// relative paths are relative to `data_dir`). What cannot be read is recorded as
    /// not collected, with the reason.
    pub fn read_from_data_dir(data_dir: &Path, conf: Option<&ConfFile>) -> Self {
        let path_of = |name: &str, default: &str| -> PathBuf {
            let value = conf
                .and_then(|c| c.get(name))
                .map(|s| s.value.clone())
                .unwrap_or_else(|| default.to_owned());
            let p = PathBuf::from(value);
            if p.is_absolute() {
                p
            } else {
                data_dir.join(p)
            }
        };
        let cert_path = path_of("ssl_cert_file", "server.crt");
        let key_path = path_of("ssl_key_file", "server.key");
        // Regular files only, and bounded: `ssl_cert_file` may name anything.
        let read = crate::source::read_input_bytes(&cert_path, InputLimits::DEFAULT_MAX_BYTES);
        let cert = match read {
            Ok(bytes) => {
                let shown = cert_path.display().to_string();
                match CertificateFacts::from_pem_or_der(&bytes, &shown) {
                    Ok(c) => Collected::Present(CertFileFacts::new(shown, c)),
                    Err(e) => Collected::not_collected(e.to_string()),
                }
            }
            Err(Error::Io { source, .. }) => {
                Collected::not_collected(format!("cannot read {}: {source}", cert_path.display()))
            }
            Err(e) => Collected::not_collected(e.to_string()),
        };
        ServerTlsFiles::new(cert, key_facts(&key_path))
    }
}

#[cfg(unix)]
fn key_facts(path: &Path) -> Collected<KeyFileFacts> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Collected::Present(KeyFileFacts::new(
            path.display().to_string(),
            m.mode() & 0o7777,
            m.uid(),
        )),
        Err(e) => Collected::not_collected(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(not(unix))]
fn key_facts(path: &Path) -> Collected<KeyFileFacts> {
    Collected::not_collected(format!(
        "{}: file modes are only checked on Unix",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(sans: Vec<String>) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "db.example.com");
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2025, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn certificate_facts_from_pem() {
        let (pem, _) = self_signed(vec!["db.example.com".into(), "10.0.0.5".into()]);
        let c = CertificateFacts::from_pem_or_der(pem.as_bytes(), "test").unwrap();
        assert!(c.subject.contains("CN=db.example.com"), "{}", c.subject);
        assert_eq!(c.dns_sans, ["db.example.com"]);
        assert_eq!(c.ip_sans, ["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.not_after, 1_735_689_600);
        assert!(c.has_san());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CertificateFacts::from_pem_or_der(b"not a cert", "x").is_err());
        assert!(CertificateFacts::from_pem_or_der(
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
            "x"
        )
        .is_err());
    }

    #[cfg(unix)]
    #[test]
    fn data_dir_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (pem, key) = self_signed(vec![]);
        std::fs::write(dir.path().join("server.crt"), pem).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        std::fs::set_permissions(
            dir.path().join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let f = ServerTlsFiles::read_from_data_dir(dir.path(), None);
        let cert = f.cert.get().unwrap();
        assert!(!cert.certificate.has_san());
        assert_eq!(f.key.get().unwrap().mode, 0o644);
        let empty = tempfile::tempdir().unwrap();
        let f = ServerTlsFiles::read_from_data_dir(empty.path(), None);
        assert!(f.cert.get().unwrap_err().contains("server.crt"));
    }
}
