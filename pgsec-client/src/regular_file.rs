//! Reading the files connection options name (`sslrootcert`, `sslcert`, `sslkey`,
//! `passfile`): regular files only, and at most [`MAX_BYTES`], so that a FIFO or a
//! device named there can neither hang the client nor exhaust its memory.

use std::io;
use std::path::Path;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The largest certificate, key or password file read: 16 MiB.
pub(crate) const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes of the regular file at `path`.
///
/// # Errors
/// `InvalidInput` for a FIFO, device, socket or directory, or a file larger than
/// [`MAX_BYTES`]; the I/O error otherwise.
pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
    pgsec_core::read_input_bytes(path, MAX_BYTES).map_err(|e| match e {
        pgsec_core::Error::Io { source, .. } => source,
        e => io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
    })
}

/// The file as text (invalid UTF-8 is an error).
///
/// # Errors
/// As [`read`], and `InvalidData` for text that is not UTF-8.
pub(crate) fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Every certificate of the PEM file at `path`.
///
/// # Errors
/// [`pem::Error::Io`] as [`read`], or what the PEM decoder reports.
pub(crate) fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    let bytes = read(path).map_err(pem::Error::Io)?;
    CertificateDer::pem_slice_iter(&bytes).collect()
}

/// The first private key of the PEM file at `path`.
///
/// # Errors
/// [`pem::Error::Io`] as [`read`], or what the PEM decoder reports.
pub(crate) fn pem_key(path: &Path) -> Result<PrivateKeyDer<'static>, pem::Error> {
    let bytes = read(path).map_err(pem::Error::Io)?;
    PrivateKeyDer::from_pem_slice(&bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = read(&fifo).unwrap_err();
            assert!(e.to_string().contains("FIFO"), "{e}");
        }
        let e = read(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = pem_certs(dir.path()).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let file = dir.path().join("ok");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "text");
    }
}
