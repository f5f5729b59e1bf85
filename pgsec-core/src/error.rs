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
    /// A hardening profile is not valid (TOML syntax, an unknown key, a bad value).
    #[error("hardening profile: {field}: {reason}")]
    Profile {
        /// The key (or `syntax`).
        field: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A query of the live collector failed for another reason than a missing
    /// privilege (the connection was lost, the server is shutting down, ...).
    #[cfg(feature = "live")]
    #[error("reading {what} from the server failed: {detail}")]
    Live {
        /// What was being read.
        what: &'static str,
        /// The error and its causes, on one line (server messages never hold secrets).
        detail: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The connected role may read none of the catalogs an audit needs.
    #[error(
        "role {role} may not read the server's catalogs ({reason}); connect as a superuser \
         or as a role granted pg_monitor and SELECT on the pg_catalog tables"
    )]
    NoPrivileges {
        /// The role the audit connected as.
        role: String,
        /// What the server refused.
        reason: String,
    },
}
