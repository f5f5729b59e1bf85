//! The password file (`~/.pgpass`, `passfile`, PGPASSFILE) with libpq's rules.
//!
//! Lines are `hostname:port:database:username:password`; `*` alone matches anything in
//! the first four fields; `\` escapes `:` and `\`; lines starting with `#` are comments.
//! As libpq does on Unix, a file readable or writable by group or others is ignored.

use std::path::Path;

/// Reads the file if it is a regular file with safe permissions; `None` otherwise
/// (libpq only warns in that case, and so does this, through tracing).
pub(crate) fn read_password_file(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "password file has group or world access; permissions should be u=rw (0600) \
                 or less; ignoring it"
            );
            return None;
        }
    }
    crate::regular_file::read_to_string(path).ok()
}

/// The password of the first line matching host, port, database and user, if any.
pub(crate) fn lookup(
    text: &str,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut rest = line;
        for token in [host, port, dbname, user] {
            rest = match_field(rest, token)?;
        }
        Some(unescape_password(rest))
    })
}

/// libpq's pwdfMatchesString: returns what follows the field and its `:` when the field
/// matches `token`.
fn match_field<'a>(field: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = field.strip_prefix("*:") {
        return Some(rest);
    }
    let mut chars = field.char_indices();
    let mut tok = token.chars();
    while let Some((i, c)) = chars.next() {
        let (c, escaped) = if c == '\\' {
            match chars.next() {
                Some((_, n)) => (n, true),
                None => return None,
            }
        } else {
            (c, false)
        };
        if c == ':' && !escaped {
            return tok.next().is_none().then(|| &field[i + 1..]);
        }
        if tok.next() != Some(c) {
            return None;
        }
    }
    None
}

/// The password runs to the first unescaped `:` (or the end of the line).
fn unescape_password(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            ':' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment line: *:*:*:*:nope
db.example.com:5432:shop:app:first
*:5433:*:app:second\\:with\\\\colon
host\\:odd:*:*:*:third
*:*:*:*:fallback:ignored-after-colon
";

    #[test]
    fn first_matching_line_wins() {
        assert_eq!(
            lookup(FILE, "db.example.com", "5432", "shop", "app").as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(FILE, "db.example.com", "5432", "other", "app").as_deref(),
            Some("fallback")
        );
    }

    #[test]
    fn wildcards_and_escapes() {
        assert_eq!(
            lookup(FILE, "anything", "5433", "x", "app").as_deref(),
            Some("second:with\\colon")
        );
        assert_eq!(
            lookup(FILE, "host:odd", "1", "d", "u").as_deref(),
            Some("third")
        );
    }

    #[test]
    fn comment_is_not_a_wildcard() {
        assert_eq!(lookup("# *:*:*:*:nope\n", "h", "1", "d", "u"), None);
    }

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        let f = "Db:5432:d:u:pw\n";
        assert_eq!(lookup(f, "db", "5432", "d", "u"), None);
        assert_eq!(lookup(f, "Db", "5432", "d", "u").as_deref(), Some("pw"));
        assert_eq!(lookup(f, "Db2", "5432", "d", "u"), None);
        assert_eq!(lookup(f, "D", "5432", "d", "u"), None);
    }

    #[test]
    fn short_lines_never_match() {
        assert_eq!(lookup("h:5432:d\n", "h", "5432", "d", "u"), None);
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_file_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(read_password_file(&path), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password_file(&path).as_deref(), Some("*:*:*:*:pw\n"));
    }
}
