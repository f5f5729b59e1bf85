//! PostgreSQL value helpers shared by the parsers, the collector and the rules: how the
//! server reads a boolean, and how pgsec prints a point in time. One copy each, so that
//! two commands cannot read or print the same value differently.

use time::OffsetDateTime;

/// PostgreSQL's `parse_bool` (`src/backend/utils/adt/bool.c`): unique prefixes of
/// `true`/`false`/`yes`/`no`, `on`/`off` (`off` needs at least `of`), `1`/`0`;
/// case-insensitive, surrounding white space ignored. `None` for anything else.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        return None;
    }
    let prefix_of = |word: &str| word.starts_with(v.as_str());
    match v.as_str() {
        "1" | "on" => Some(true),
        "0" | "of" | "off" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`; out of range values are clamped to the
/// calendar `time` supports (years -9999..=9999), which no certificate leaves.
pub(crate) fn utc_datetime(unix: i64) -> String {
    let t = at(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, the way every pgsec report and refusal
/// prints a point in time.
///
/// ```
/// assert_eq!(pgsec_core::format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
/// ```
pub fn format_utc(unix: i64) -> String {
    utc_datetime(unix)
}

/// Unix seconds as `YYYY-MM-DD` (UTC).
pub(crate) fn utc_date(unix: i64) -> String {
    let t = at(unix);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn at(unix: i64) -> OffsetDateTime {
    let min = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp();
    let max = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT).unix_timestamp();
    OffsetDateTime::from_unix_timestamp(unix.clamp(min, max)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_the_server_reads_them() {
        for t in ["true", "TRUE", " t", "tr", "yes", "y", "on", "ON", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "f", "no", "n", "off", "of", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for x in ["", "o", "maybe", "2", "onn", "truee", "yess"] {
            assert_eq!(parse_bool(x), None, "{x}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_datetime(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
        assert_eq!(utc_date(-86_400), "1969-12-31");
        assert_eq!(utc_date(253_402_300_799), "9999-12-31");
        // Clamped, never a panic.
        assert!(utc_datetime(i64::MAX).starts_with("9999-12-31"));
        assert!(utc_datetime(i64::MIN).starts_with("-9999-01-01"));
    }
}
