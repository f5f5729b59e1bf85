//! SQL names as PostgreSQL reads them: the one identifier quoter pgsec uses wherever it
//! writes SQL, and the server's rule for custom setting names.
//!
//! [`quote_ident`] gives what the server's `quote_ident()` gives (`quote_identifier()`
//! in `ruleutils.c`): the name as is when it is made of lower-case ASCII letters, digits
//! and `_`, does not start with a digit and is not a keyword outside the unreserved
//! category; otherwise the name in double quotes with embedded quotes doubled. The
//! keyword list is PostgreSQL's own ([`keyword`]), PostgreSQL 15 through 18.
//!
//! ```
//! use pgsec_core::sql::{check_setting_name, quote_ident, quote_setting_name};
//!
//! assert_eq!(quote_ident("app")?, "app");
//! assert_eq!(quote_ident("fetch")?, "\"fetch\""); // a reserved keyword
//! assert_eq!(quote_ident("Shop \"EU\"")?, "\"Shop \"\"EU\"\"\"");
//! assert!(quote_ident("a\0b").is_err());
//!
//! assert!(check_setting_name("app.current_tenant_id").is_ok());
//! assert!(check_setting_name("app.1tenant").is_err()); // the server refuses it too
//! assert_eq!(quote_setting_name("app.user")?, "app.\"user\"");
//! # Ok::<(), pgsec_core::sql::NameError>(())
//! ```

use std::fmt;

mod keywords;

/// The longest name PostgreSQL keeps, in bytes (`NAMEDATALEN - 1`): longer identifiers
/// are truncated by the server, so they would name another object.
pub const MAX_NAME_LEN: usize = 63;

/// A keyword's category in PostgreSQL's grammar (`kwlist.h`), which decides where it may
/// stand as a bare name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeywordCategory {
    /// `UNRESERVED_KEYWORD` (`pg_get_keywords()` catcode `U`): usable as any name.
    Unreserved,
    /// `COL_NAME_KEYWORD` (`C`): a column or table name, not a function or type name.
    ColName,
    /// `TYPE_FUNC_NAME_KEYWORD` (`T`): a function or type name, not a column name.
    TypeFuncName,
    /// `RESERVED_KEYWORD` (`R`): never a bare name.
    Reserved,
}

impl KeywordCategory {
    /// The category's code in `pg_get_keywords()`: `U`, `C`, `T` or `R`.
    #[must_use]
    pub fn catcode(self) -> char {
        match self {
            KeywordCategory::Unreserved => 'U',
            KeywordCategory::ColName => 'C',
            KeywordCategory::TypeFuncName => 'T',
            KeywordCategory::Reserved => 'R',
        }
    }

    /// Whether [`quote_ident`] quotes a name that is this keyword: every category but
    /// [`KeywordCategory::Unreserved`], as the server does (some positions would accept
    /// a column-name or type-function-name keyword bare; the server does not tell them
    /// apart and neither does pgsec).
    #[must_use]
    pub fn needs_quotes(self) -> bool {
        self != KeywordCategory::Unreserved
    }
}

/// The category of `word` when it is a PostgreSQL keyword (15 through 18), compared
/// without regard to ASCII case as the server's scanner does.
///
/// ```
/// use pgsec_core::sql::{keyword, KeywordCategory};
/// assert_eq!(keyword("SELECT"), Some(KeywordCategory::Reserved));
/// assert_eq!(keyword("merge_action"), Some(KeywordCategory::ColName)); // PostgreSQL 17
/// assert_eq!(keyword("tenant"), None);
/// ```
#[must_use]
pub fn keyword(word: &str) -> Option<KeywordCategory> {
    // Called for every name a report quotes: no allocation for the usual lower-case one.
    if word.bytes().any(|b| b.is_ascii_uppercase()) {
        return lower_keyword(&word.to_ascii_lowercase());
    }
    lower_keyword(word)
}

fn lower_keyword(lower: &str) -> Option<KeywordCategory> {
    // No keyword has a digit (`tenant_42`, `t17`: the names of large catalogues).
    if lower.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    keywords::KEYWORDS
        .binary_search_by(|(w, _)| (*w).cmp(lower))
        .ok()
        .map(|i| keywords::KEYWORDS[i].1)
}

/// Every keyword of PostgreSQL 15 through 18 with its category, in byte order.
pub fn keywords() -> impl ExactSizeIterator<Item = (&'static str, KeywordCategory)> {
    keywords::KEYWORDS.iter().copied()
}

/// Why a name cannot be used. The messages do not repeat the name: it may come from an
/// untrusted source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name holds a NUL byte, which no PostgreSQL name can.
    Nul,
    /// The identifier is longer than [`MAX_NAME_LEN`] bytes.
    TooLong,
    /// The setting name has no dot, so it is not a custom setting.
    NoDot,
    /// A part of the setting name between dots is empty.
    EmptyPart,
    /// A part of the setting name starts with a digit or `$`.
    PartStart,
    /// The setting name has a character other than letters, digits, `_`, `$` and `.`.
    Character,
    /// A part of the setting name is longer than [`MAX_NAME_LEN`] bytes.
    PartTooLong,
}

impl NameError {
    /// What is wrong, as a phrase ("it is empty").
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            NameError::Empty => "it is empty",
            NameError::Nul => "it holds a NUL byte",
            NameError::TooLong => {
                "it is longer than 63 bytes, which PostgreSQL truncates to name another object"
            }
            NameError::NoDot => "it has no dot, so it would name a built-in setting",
            NameError::EmptyPart => "a part between dots is empty",
            NameError::PartStart => "a part starts with a digit or `$`",
            NameError::Character => {
                "it has a character other than letters, digits, `_`, `$` and `.`"
            }
            NameError::PartTooLong => {
                "a part between dots is longer than 63 bytes, which SET truncates"
            }
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name refused: {}", self.reason())
    }
}

impl std::error::Error for NameError {}

/// `name` as an SQL identifier, exactly as the server's `quote_ident()` writes it.
///
/// # Errors
/// [`NameError::Empty`], [`NameError::Nul`], or [`NameError::TooLong`] for names longer
/// than [`MAX_NAME_LEN`] bytes (the server would truncate them, so the SQL would act on
/// another object).
pub fn quote_ident(name: &str) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains('\0') {
        return Err(NameError::Nul);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    Ok(quote_catalog_name(name))
}

/// [`quote_ident`] for names read from the server's catalogs (never empty, no NUL, at
/// most 63 bytes), where evaluating must not fail: anything is quoted as it is.
pub(crate) fn quote_catalog_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let plain = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !keyword(name).is_some_and(KeywordCategory::needs_quotes);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Checks a custom setting name (for `set_config`, `current_setting`, `SET`) as the
/// server's `valid_custom_variable_name()` (guc.c, PostgreSQL 15+) does: two or more
/// parts separated by dots, each starting with a letter, `_` or a non-ASCII character
/// and going on with those, digits or `$`. Case does not matter to the server.
///
/// The server refuses some names that pass: those under a prefix an extension has
/// reserved once loaded (`MarkGUCPrefixReserved`: `plpgsql`, `pgaudit`,
/// `pg_stat_statements`, ...), and built-in names are not custom ones. Pick a prefix of
/// the application's own, such as `app`.
///
/// # Errors
/// A [`NameError`] saying which rule the name breaks.
pub fn check_setting_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let mut saw_dot = false;
    let mut part_start = true;
    for &b in name.as_bytes() {
        match b {
            b'.' if part_start => return Err(NameError::EmptyPart),
            b'.' => {
                saw_dot = true;
                part_start = true;
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' | 0x80..=0xff => part_start = false,
            b'0'..=b'9' | b'$' if !part_start => {}
            b'0'..=b'9' | b'$' => return Err(NameError::PartStart),
            0 => return Err(NameError::Nul),
            _ => return Err(NameError::Character),
        }
    }
    if part_start {
        return Err(NameError::EmptyPart);
    }
    if !saw_dot {
        return Err(NameError::NoDot);
    }
    Ok(())
}

/// A custom setting name written into SQL (`SET LOCAL`, `ALTER ROLE … RESET`): each part
/// quoted with [`quote_ident`].
///
/// # Errors
/// As [`check_setting_name`], and [`NameError::PartTooLong`] when a part is longer than
/// [`MAX_NAME_LEN`] bytes: the server truncates identifiers in SQL text, so `SET` would
/// set another setting than `set_config` with the same name.
pub fn quote_setting_name(name: &str) -> Result<String, NameError> {
    check_setting_name(name)?;
    let parts = name
        .split('.')
        .map(|part| quote_ident(part).map_err(|_| NameError::PartTooLong))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyword_table_is_sorted_lower_case_and_complete() {
        let words: Vec<&str> = keywords().map(|(w, _)| w).collect();
        assert!(words.windows(2).all(|w| w[0] < w[1]), "not sorted");
        assert!(words
            .iter()
            .all(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        assert_eq!(words.len(), 495);
        let quoted = keywords().filter(|(_, c)| c.needs_quotes()).count();
        assert_eq!(quoted, 164);
    }

    #[test]
    fn quotes_like_the_server() {
        for (name, quoted) in [
            ("app", "app"),
            ("_x1", "_x1"),
            ("fetch", "\"fetch\""),
            ("user", "\"user\""),
            ("select", "\"select\""),
            ("authorization", "\"authorization\""), // type_func_name
            ("json_table", "\"json_table\""),       // col_name, PostgreSQL 17
            ("system_user", "\"system_user\""),     // reserved, PostgreSQL 16
            ("set", "set"),                         // unreserved
            ("name", "name"),
            ("App", "\"App\""),
            ("1a", "\"1a\""),
            ("a$", "\"a$\""),
            ("a b", "\"a b\""),
            ("é", "\"é\""),
            ("a\"b", "\"a\"\"b\""),
            ("\"", "\"\"\"\""),
        ] {
            assert_eq!(quote_ident(name).unwrap(), quoted, "{name:?}");
        }
        assert_eq!(quote_ident(""), Err(NameError::Empty));
        assert_eq!(quote_ident("a\0"), Err(NameError::Nul));
        assert!(quote_ident(&"x".repeat(63)).is_ok());
        assert_eq!(quote_ident(&"x".repeat(64)), Err(NameError::TooLong));
    }

    #[test]
    fn no_keyword_has_a_digit_or_an_upper_case_letter() {
        // `lower_keyword` answers None at once for a word with a digit.
        for (w, _) in keywords() {
            assert!(
                w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{w}"
            );
        }
        assert_eq!(keyword("t1"), None);
    }

    #[test]
    fn keyword_lookup_ignores_ascii_case() {
        assert_eq!(keyword("Fetch"), Some(KeywordCategory::Reserved));
        assert_eq!(keyword("recheck"), Some(KeywordCategory::Unreserved));
        assert_eq!(keyword(""), None);
        assert_eq!(KeywordCategory::TypeFuncName.catcode(), 'T');
    }

    #[test]
    fn setting_names_follow_guc_c() {
        for ok in [
            "app.current_tenant_id",
            "a.b",
            "_a._b",
            "a$.b",
            "a1.b$2",
            "A.B",
            "a.b.c",
            "é.ü",
        ] {
            assert_eq!(check_setting_name(ok), Ok(()), "{ok:?}");
        }
        for (bad, why) in [
            ("", NameError::Empty),
            ("x", NameError::NoDot),
            (".x", NameError::EmptyPart),
            ("app.x.", NameError::EmptyPart),
            ("app..x", NameError::EmptyPart),
            ("app.1tenant", NameError::PartStart),
            ("app.$x", NameError::PartStart),
            ("app.x-y", NameError::Character),
            ("app.x y", NameError::Character),
            ("app.x\0", NameError::Nul),
        ] {
            assert_eq!(check_setting_name(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn setting_names_in_sql_quote_each_part() {
        assert_eq!(
            quote_setting_name("app.current_tenant_id").unwrap(),
            "app.current_tenant_id"
        );
        assert_eq!(quote_setting_name("App.x$").unwrap(), "\"App\".\"x$\"");
        assert_eq!(quote_setting_name("app.select").unwrap(), "app.\"select\"");
        let long = format!("app.{}", "x".repeat(64));
        assert_eq!(check_setting_name(&long), Ok(()));
        assert_eq!(quote_setting_name(&long), Err(NameError::PartTooLong));
    }
}
