//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in pgsec-core outside of evaluation (which cannot fail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate could not be decoded.
    #[error("cannot decode the certificate in {what}: {reason}; expected a PEM or DER X.509 certificate")]
    Certificate {
        /// Where the certificate came from (a path or "peer certificate").
        what: String,
        /// What the decoder reported.
        reason: String,
    },
    /// A severity, format or other name given by the user is not known.
    #[error("unknown {kind} `{value}`; expected one of: {expected}")]
    UnknownName {
        /// What kind of name it is (e.g. "severity").
        kind: &'static str,
        /// The value given.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// A report could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}
