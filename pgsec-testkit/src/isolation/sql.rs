//! The one place the checker turns names and values into SQL text.
//!
//! Names come from the catalog and are quoted by pgsec-core's quoter (as the server's
//! `quote_ident()` does); values are bound as parameters when statements run, and
//! inlined with [`literal`] only in the printed counterexample.

/// The name as an SQL identifier, quoted where the server's `quote_ident()` would.
pub(crate) fn ident(name: &str) -> String {
    // Catalog names are never empty, hold no NUL and are at most 63 bytes, so the
    // quoter cannot refuse them; anything else is kept quoted rather than panicking.
    pgsec_core::sql::quote_ident(name)
        .unwrap_or_else(|_| format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `schema.name`, each part quoted as needed.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A string literal for display (`standard_conforming_strings` on): quotes doubled,
/// and an `E''` literal when the text has a backslash or a control character.
pub(crate) fn literal(value: &str) -> String {
    if value.chars().any(|c| c == '\\' || c.is_control()) {
        let mut out = String::from("E'");
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// A nullable value for display.
pub(crate) fn literal_or_null(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_as_the_server_quotes_them() {
        assert_eq!(ident("t"), "t");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public", "Odd Name"), "public.\"Odd Name\"");
    }

    #[test]
    fn literals_survive_quotes_backslashes_and_controls() {
        assert_eq!(literal("acme"), "'acme'");
        assert_eq!(literal(" it's "), "' it''s '");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal("a\nb'"), "E'a\\x0ab'''");
        assert_eq!(literal("ａｃｍｅ"), "'ａｃｍｅ'");
        assert_eq!(literal_or_null(None), "NULL");
    }
}
