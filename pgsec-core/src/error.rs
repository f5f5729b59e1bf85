//! The crate's error type, and the one way pgsec prints an error with its causes.
//!
//! Convention (the Rust API guidelines), followed by every pgsec crate: an error's
//! message describes its own layer; the error it wraps is returned by `source()`, not
//! repeated in the message. Reporters (`anyhow`, `eyre`, [`display_chain`], the CLI)
//! print the chain, each cause once.

use std::path::PathBuf;

/// Everything that can go wrong in pgsec-core outside of evaluation (which cannot fail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A path names a FIFO, device, socket or directory where a file is expected;
    /// pgsec reads regular files only.
    #[error("{}: is a {kind}, not a regular file; pgsec reads only regular files", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is (`FIFO`, `character device`, `directory`, ...).
        kind: &'static str,
    },
    /// Reading stopped at one of the [`InputLimits`](crate::InputLimits): the file and
    /// the files it includes, each counted every time it is included, are larger.
    #[error(
        "{}: the input exceeds the limit of {max} {limit} (counted over the file and every \
         file it includes, each time it is included); if the input is trusted, raise the \
         limit with --max-input-{limit}",
        path.display()
    )]
    InputLimit {
        /// The file being read when the limit was passed.
        path: PathBuf,
        /// Which limit.
        limit: crate::InputLimit,
        /// Its value.
        max: u64,
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
    #[error("cannot serialise the report")]
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
    #[error("reading {what} from the server failed")]
    Live {
        /// What was being read.
        what: &'static str,
        /// The driver's error (server messages never hold secrets).
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

/// An error and its `source()` chain on one line, `outer: cause: root cause`: each
/// message once (a wrapper that still repeats its cause is not printed twice), line
/// breaks folded, and tokio-postgres' bare `db error` dropped before the server's own
/// message.
///
/// ```
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// let e = pgsec_core::Error::Io { path: "/etc/pg_hba.conf".into(), source: io };
/// assert_eq!(pgsec_core::display_chain(&e), "cannot read /etc/pg_hba.conf: no such file");
/// ```
pub fn display_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(error);
    while let Some(err) = cur {
        let text = err.to_string().replace('\n', " ");
        let repeated = parts.last().is_some_and(|p| p.ends_with(&text));
        if !text.is_empty() && !repeated {
            if parts.last().is_some_and(|p| p == "db error") {
                parts.pop();
            }
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

impl Error {
    /// The error as an [`std::io::Error`], for the functions that return one: the
    /// cause of [`Error::Io`] itself, `InvalidInput` for [`Error::NotRegularFile`],
    /// `InvalidData` for the rest (the message kept).
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            Error::Io { source, .. } => source,
            e @ Error::NotRegularFile { .. } => {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            }
            e => std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        }
    }
}
