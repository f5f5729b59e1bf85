//! `pg_ident.conf`: `parse_ident_line()` of the server's `hba.c` over the same
//! tokenizer as `pg_hba.conf` (comments, quoting, continuation, `@file`, and from 16 on
//! `include`, `include_if_exists`, `include_dir`), and the rows of the server's
//! `pg_ident_file_mappings` view (`fill_ident_line()` of `hbafuncs.c`).
//!
//! ```
//! use std::path::Path;
//! use pgsec_core::hba::{HbaParseOptions, IdentFile, MemoryLoader, PgVersion};
//!
//! let text = "# map  system user             role\n\
//!             web    /^(.*)@example\\.com$    \\1\n\
//!             web    alice,bob               app\n";
//! let options = HbaParseOptions::new(PgVersion::new(16).unwrap());
//! let file = IdentFile::parse_with(text, Path::new("/pg/pg_ident.conf"), &options, &MemoryLoader::new());
//! let rows = file.to_view_rows(options.version);
//! assert_eq!(rows[0].sys_name.as_deref(), Some("/^(.*)@example\\.com$"));
//! assert_eq!(rows[1].error.as_deref(), Some("multiple values in ident field"));
//! ```

use std::path::Path;
use std::sync::Arc;

use super::lexer::{TokLine, Token, Tokenizer};
use super::parse::check_regex;
use super::{HbaParseOptions, HbaToken, PgVersion, CYCLE_NOTE};
use crate::source::SourceLoader;

/// One accepted user-name map line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentMap {
    /// The map name (`map=` of an hba line refers to it).
    pub map_name: String,
    /// The system user name; a regular expression when it starts with `/`.
    pub system_user: HbaToken,
    /// The database role (16+: also `all`, `+group` or a regular expression).
    pub pg_user: HbaToken,
}

/// One record of an ident file, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentLine {
    /// File the line is in (includes resolved to paths).
    pub file: Arc<str>,
    /// 1-based line number of the first physical line of the record.
    pub line_number: usize,
    /// 1-based number among accepted lines (16+ `map_number`), None on error.
    pub map_number: Option<usize>,
    /// The mapping, or the error text the server reports for the line.
    pub result: Result<IdentMap, String>,
}

/// A parsed `pg_ident.conf`, includes expanded, in server order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentFile {
    /// Every record line, accepted or not, in the order the server reads them.
    pub lines: Vec<IdentLine>,
}

/// One row of `pg_ident_file_mappings`; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentViewRow {
    /// `map_number` (16+).
    pub map_number: Option<i64>,
    /// `file_name` (16+).
    pub file_name: Option<String>,
    /// `line_number`.
    pub line_number: i64,
    /// `map_name`.
    pub map_name: Option<String>,
    /// `sys_name` (a regular expression keeps its leading `/`).
    pub sys_name: Option<String>,
    /// `pg_username`.
    pub pg_username: Option<String>,
    /// `error`.
    pub error: Option<String>,
}

impl IdentFile {
    /// Parses `text` (the contents of `path`) as the server of `options.version`
    /// would; included files are read through `loader`, relative to the file naming
    /// them. Never fails: a line the server rejects carries its error.
    pub fn parse_with(
        text: &str,
        path: &Path,
        options: &HbaParseOptions,
        loader: &dyn SourceLoader,
    ) -> IdentFile {
        let file = path.to_string_lossy();
        let major = options.version.major();
        let mut lines = Vec::new();
        let mut map_number = 0usize;
        let mut tokenizer = Tokenizer::new(loader, major, options.limits);
        tokenizer.tokenize_top(&file, text, &mut |tl: TokLine<'_, '_>| {
            let result = match &tl.err {
                Some(e) => Err(match &e.detail {
                    Some(d) => format!("{}{CYCLE_NOTE}{d})", e.msg),
                    None => e.msg.clone(),
                }),
                None => parse_ident_line(&tl, major),
            };
            if result.is_ok() {
                map_number += 1;
            }
            lines.push(IdentLine {
                file: Arc::clone(tl.file),
                line_number: tl.line_number,
                map_number: result.is_ok().then_some(map_number),
                result,
            });
        });
        IdentFile { lines }
    }

    /// The accepted mappings, in order.
    pub fn maps(&self) -> impl Iterator<Item = (&IdentLine, &IdentMap)> {
        self.lines
            .iter()
            .filter_map(|l| l.result.as_ref().ok().map(|m| (l, m)))
    }

    /// The rows `pg_ident_file_mappings` shows for this file on `version`.
    pub fn to_view_rows(&self, version: PgVersion) -> Vec<IdentViewRow> {
        let file_columns = version.major() >= 16;
        self.lines
            .iter()
            .map(|l| {
                let (map_name, sys_name, pg_username, error) = match &l.result {
                    Ok(m) => (
                        Some(m.map_name.clone()),
                        Some(m.system_user.text.clone()),
                        Some(m.pg_user.text.clone()),
                        None,
                    ),
                    Err(e) => {
                        let shown = match e.rfind(CYCLE_NOTE) {
                            Some(i) if e.ends_with(')') => &e[..i],
                            _ => e.as_str(),
                        };
                        (None, None, None, Some(shown.to_owned()))
                    }
                };
                IdentViewRow {
                    map_number: if file_columns {
                        l.map_number.and_then(|n| i64::try_from(n).ok())
                    } else {
                        None
                    },
                    file_name: file_columns.then(|| l.file.to_string()),
                    line_number: i64::try_from(l.line_number).unwrap_or(i64::MAX),
                    map_name,
                    sys_name,
                    pg_username,
                    error,
                }
            })
            .collect()
    }
}

/// `parse_ident_line()`: three fields of one value each (more fields are ignored);
/// a system user starting with `/` is a regular expression, and from 16 on so is a
/// role starting with `/`.
fn parse_ident_line(tl: &TokLine<'_, '_>, major: u32) -> Result<IdentMap, String> {
    let mut fields = tl.fields();
    let mut one = || match fields.next() {
        Some(f) if f.len() > 1 => Err("multiple values in ident field".to_owned()),
        Some(f) => f
            .first()
            .cloned()
            .ok_or_else(|| "missing entry at end of line".to_owned()),
        None => Err("missing entry at end of line".to_owned()),
    };
    let map = one()?;
    let system_user = one()?;
    let pg_user = one()?;
    let token = |t: &Token<'_>| HbaToken {
        text: t.text.as_ref().to_owned(),
        quoted: t.quoted,
    };
    let regex_checked = |t: &Token<'_>| -> Result<(), String> {
        match t.text.strip_prefix('/') {
            Some(re) => {
                check_regex(re).map_err(|e| format!("invalid regular expression \"{re}\": {e}"))
            }
            None => Ok(()),
        }
    };
    regex_checked(&system_user)?;
    if major >= 16 {
        regex_checked(&pg_user)?;
    }
    Ok(IdentMap {
        map_name: map.text.as_ref().to_owned(),
        system_user: token(&system_user),
        pg_user: token(&pg_user),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryLoader;

    fn rows(text: &str, major: u32) -> Vec<IdentViewRow> {
        let options = HbaParseOptions::new(PgVersion::new(major).unwrap());
        IdentFile::parse_with(
            text,
            Path::new("/d/pg_ident.conf"),
            &options,
            &MemoryLoader::new().with_file("/d/inc.conf", "im a b\n"),
        )
        .to_view_rows(options.version)
    }

    #[test]
    fn fields_regexes_and_includes_by_major() {
        let text = "m a b\nm a,b c\nm a\nm a b extra\nm bob /(\ninclude inc.conf\n";
        let r15 = rows(text, 15);
        assert_eq!(r15[0].pg_username.as_deref(), Some("b"));
        assert_eq!(
            r15[1].error.as_deref(),
            Some("multiple values in ident field")
        );
        assert_eq!(
            r15[2].error.as_deref(),
            Some("missing entry at end of line")
        );
        assert_eq!(r15[3].map_name.as_deref(), Some("m"));
        assert_eq!(
            r15[4].pg_username.as_deref(),
            Some("/("),
            "no role regex in 15"
        );
        assert_eq!(
            r15[5].error.as_deref(),
            Some("missing entry at end of line")
        );
        assert!(r15.iter().all(|r| r.file_name.is_none()));

        let r16 = rows(text, 16);
        assert_eq!(
            r16[4].error.as_deref(),
            Some("invalid regular expression \"(\": parentheses () not balanced")
        );
        assert_eq!(r16[5].file_name.as_deref(), Some("/d/inc.conf"));
        assert_eq!(r16[5].map_number, Some(3));
    }
}
