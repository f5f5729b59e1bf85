//! Values that must never be shown: the one list of `pg_hba.conf` options whose value
//! is a secret, and [`Secret`], whose `Debug` and `Display` print [`REDACTED`].
//!
//! Redaction happens where a value is parsed, not where it is printed: an
//! [`HbaOption`](crate::hba::HbaOption) holds a secret option's value as a [`Secret`],
//! so findings, reports, `Debug` output and logs built from it cannot carry it.
//!
//! ```
//! use pgsec_core::hba::HbaOption;
//! use pgsec_core::secret::{is_secret_hba_option, REDACTED};
//!
//! assert!(is_secret_hba_option("ldapbindpasswd"));
//! let option = HbaOption::new("ldapbindpasswd", "hunter2");
//! assert_eq!(option.to_string(), format!("ldapbindpasswd={REDACTED}"));
//! assert!(!format!("{option:?}").contains("hunter2"));
//! assert_eq!(option.expose_value(), "hunter2");
//! ```

use std::borrow::Cow;
use std::fmt;

/// What is printed in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// The `pg_hba.conf` options whose value is a secret (PostgreSQL 13–18 documentation,
/// "Client Authentication"): the LDAP search+bind password and the RADIUS shared
/// secrets. No other option (LDAP, RADIUS, PAM, GSSAPI, certificate, OAuth) carries
/// one.
const SECRET_HBA_OPTIONS: &[&str] = &["ldapbindpasswd", "radiussecrets"];

/// Whether the value of the `pg_hba.conf` option `name` is a secret. Option names are
/// case-sensitive for the server, but any spelling is treated as secret here.
pub fn is_secret_hba_option(name: &str) -> bool {
    SECRET_HBA_OPTIONS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// `name=value` as the server writes an option in `pg_hba_file_rules.options`, with
/// the value replaced by [`REDACTED`] when `name` is a secret option.
pub fn redact_hba_option_entry(entry: &str) -> Cow<'_, str> {
    match entry.split_once('=') {
        Some((name, _)) if is_secret_hba_option(name) => Cow::Owned(format!("{name}={REDACTED}")),
        _ => Cow::Borrowed(entry),
    }
}

/// A secret string. `Debug` and `Display` print [`REDACTED`]; the value is reached
/// only through [`Secret::expose_secret`], so it is never shown by accident.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Do not print, log or put it in a report.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_options_and_entries() {
        assert!(is_secret_hba_option("radiussecrets"));
        assert!(is_secret_hba_option("LDAPBINDPASSWD"));
        assert!(!is_secret_hba_option("ldapbinddn"));
        assert_eq!(
            redact_hba_option_entry("radiussecrets=a,b"),
            "radiussecrets=<redacted>"
        );
        assert_eq!(redact_hba_option_entry("map=x"), "map=x");
        assert_eq!(redact_hba_option_entry("novalue"), "novalue");
    }

    #[test]
    fn secret_prints_redacted() {
        let s = Secret::new("pw");
        assert_eq!(
            format!("{s} {s:?} {s:#?}"),
            "<redacted> <redacted> <redacted>"
        );
        assert_eq!(s.expose_secret(), "pw");
    }
}
