//! One view of server settings for rules with sources `L F`: live `pg_settings` when
//! collected, else `postgresql.conf`, else skipped. Unset settings in a file take
//! PostgreSQL 15's defaults, and the evidence says so.

use super::{need, Eval};
use crate::report::Location;

/// PostgreSQL 15 defaults of the settings the rules read.
const PG15_DEFAULTS: &[(&str, &str)] = &[
    ("ssl", "off"),
    ("ssl_min_protocol_version", "TLSv1.2"),
    ("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL"),
    ("ssl_cert_file", "server.crt"),
    ("ssl_key_file", "server.key"),
    ("listen_addresses", "localhost"),
    ("password_encryption", "scram-sha-256"),
    ("authentication_timeout", "1min"),
    ("search_path", "\"$user\", public"),
    ("shared_preload_libraries", ""),
    ("pgaudit.log", "none"),
    ("pgaudit.log_catalog", "on"),
    ("pgaudit.log_relation", "off"),
    ("log_connections", "off"),
    ("log_disconnections", "off"),
    ("log_line_prefix", "%m [%p] "),
    ("log_lock_waits", "off"),
    ("idle_in_transaction_session_timeout", "0"),
    ("fsync", "on"),
    ("full_page_writes", "on"),
    ("ignore_system_indexes", "off"),
    ("allow_system_table_mods", "off"),
    // Settings of later majors, at their defaults (rules read them only on those majors).
    ("scram_iterations", "4096"),
    ("allow_alter_system", "on"),
    ("ssl_groups", "X25519:prime256v1"),
    ("ssl_tls13_ciphers", ""),
    ("oauth_validator_libraries", ""),
];

/// PostgreSQL 15's default for `name`, if the rules know it.
pub(crate) fn pg15_default(name: &str) -> Option<&'static str> {
    PG15_DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A line of postgresql.conf.
    File,
    /// Not set in the file: the server default applies.
    FileDefault,
    /// `pg_settings` of a live server.
    Live,
}

/// One setting's effective value.
#[derive(Debug, Clone)]
pub(crate) struct Setting {
    pub(crate) name: String,
    pub(crate) value: String,
    /// Unit of a bare number (live: `pg_settings.unit`).
    pub(crate) unit: Option<String>,
    pub(crate) location: Location,
    pub(crate) origin: Origin,
    /// For live settings: where the server says it was set.
    pub(crate) source_note: Option<String>,
}

impl Setting {
    /// `name = 'value'` with where it comes from, for evidence.
    pub(crate) fn describe(&self) -> String {
        match self.origin {
            Origin::File => format!("{} = '{}' at {}", self.name, self.value, self.location),
            Origin::FileDefault => format!(
                "{} is not set in {}; the server's default '{}' applies",
                self.name, self.location, self.value
            ),
            Origin::Live => match &self.source_note {
                Some(n) => format!("{} = '{}' on the server ({n})", self.name, self.value),
                None => format!("{} = '{}' on the server", self.name, self.value),
            },
        }
    }

    /// The value as a boolean, as the server parses booleans.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        parse_bool(&self.value)
    }

    /// The value as milliseconds, where a bare number is in `base_unit` (`ms`, `s`, `min`)
    /// unless the live server gave its own unit.
    pub(crate) fn as_millis(&self, base_unit: &str) -> Option<f64> {
        let unit = self.unit.as_deref().unwrap_or(base_unit);
        parse_duration_ms(&self.value, unit)
    }
}

use crate::pgvalue::parse_bool;

/// Parses a time setting (`60`, `60s`, `1min`, `1.5h`) into milliseconds; a bare number
/// is in `base_unit`.
pub(crate) fn parse_duration_ms(value: &str, base_unit: &str) -> Option<f64> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim();
    let unit = if unit.is_empty() { base_unit } else { unit };
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Splits a list setting (`shared_preload_libraries`, `search_path`) as the server's
/// `SplitIdentifierString` does: comma-separated, whitespace trimmed, double quotes
/// removed (and preserving case inside them); unquoted names are lower-cased.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut quoted_any = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => {
                in_quotes = !in_quotes;
                quoted_any = true;
            }
            ',' if !in_quotes => {
                push_item(&mut out, &cur, quoted_any);
                cur.clear();
                quoted_any = false;
            }
            c if !in_quotes && c.is_whitespace() => {}
            c if !in_quotes => cur.extend(c.to_lowercase()),
            c => cur.push(c),
        }
    }
    push_item(&mut out, &cur, quoted_any);
    out
}

fn push_item(out: &mut Vec<String>, item: &str, quoted: bool) {
    if !item.is_empty() || quoted {
        out.push(item.to_owned());
    }
}

/// Emits when the boolean setting `name` has the value `bad`: the shape of the pgaudit,
/// logging and runtime rules about one switch.
pub(super) fn bool_rule(ev: &mut Eval<'_>, name: &str, bad: bool, fix: &str, why: &str) {
    let s = need!(ev, ev.setting(name));
    match s.as_bool() {
        Some(v) if v == bad => ev.emit(
            name,
            s.location.clone(),
            format!("{}: {why}", s.describe()),
            fix,
        ),
        Some(_) => {}
        None => ev.skip(format!("{} is not a boolean", s.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("60", "s"), Some(60_000.0));
        assert_eq!(parse_duration_ms("1min", "s"), Some(60_000.0));
        assert_eq!(parse_duration_ms("90s", "ms"), Some(90_000.0));
        assert_eq!(parse_duration_ms(" 2 h", "s"), Some(7_200_000.0));
        assert_eq!(parse_duration_ms("0", "ms"), Some(0.0));
        assert_eq!(parse_duration_ms("soon", "s"), None);
        assert_eq!(parse_duration_ms("5 fortnights", "s"), None);
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list("pg_stat_statements, PGAUDIT"),
            ["pg_stat_statements", "pgaudit"]
        );
        assert_eq!(split_list("\"$user\", public"), ["$user", "public"]);
        assert_eq!(split_list("\"My Schema\",x"), ["My Schema", "x"]);
        assert!(split_list("").is_empty());
        assert!(split_list(" ").is_empty());
    }
}
