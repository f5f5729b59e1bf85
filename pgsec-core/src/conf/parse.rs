//! `ParseConfigFile()`, `ParseConfigFp()` and `ParseConfigDirectory()` of the server's
//! `guc-file.l`: the list of `name = value` items and errors, includes expanded.

use std::path::Path;

use super::lexer::{deescape_quoted, Lexer, Tok};
use crate::source::{
    absolute_config_location, not_regular_kind, read_error, Budget, InputLimits, SourceLoader,
};
use crate::Error;

/// Include nesting the server allows (`CONF_FILE_MAX_DEPTH`).
const MAX_DEPTH: u32 = 10;
/// Files opened for one parse at most (bounds fan-out, which depth alone does not).
const MAX_FILE_OPENS: usize = 2_000;
/// Syntax errors after which the server abandons a file.
const MAX_ERRORS_PER_FILE: usize = 100;

/// One item of the server's `ConfigVariable` list: a setting or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Setting {
        name: String,
        value: String,
        file: String,
        line: usize,
    },
    Error {
        file: String,
        line: usize,
        message: String,
    },
}

pub(crate) struct Parser<'a> {
    loader: &'a dyn SourceLoader,
    major: u32,
    /// Abandon a file at its first syntax error, as `pg_file_settings` does (it reads
    /// at a DEBUG level); the postmaster goes on up to 100 errors.
    stop_at_first_error: bool,
    opens: usize,
    stack: Vec<String>,
    /// What has been read, against the limits.
    budget: Budget,
    /// Why reading stopped: a limit was passed, or a path is not a regular file.
    /// Nothing more is read once it is set.
    fatal: Option<Error>,
    pub(crate) items: Vec<Item>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(
        loader: &'a dyn SourceLoader,
        major: u32,
        stop_at_first_error: bool,
        limits: InputLimits,
    ) -> Self {
        Parser {
            loader,
            major,
            stop_at_first_error,
            opens: 0,
            stack: Vec::new(),
            budget: Budget::new(limits),
            fatal: None,
            items: Vec::new(),
        }
    }

    /// Parses the top-level file, counted against the limits like its includes.
    pub(crate) fn parse_top(&mut self, file: &str, text: &str) {
        if let Err(e) = self.budget.charge(file, text) {
            self.items.push(Item::Error {
                file: file.to_owned(),
                line: 1,
                message: e.to_string(),
            });
            self.fatal = Some(e);
            return;
        }
        self.parse_text(file, text, 0);
    }

    /// Why reading stopped early, if it did (an error item says so too).
    pub(crate) fn take_fatal(&mut self) -> Option<Error> {
        self.fatal.take()
    }

    /// Records why reading stops, as an error on the including line too.
    fn stop(&mut self, calling: &str, calling_line: usize, abs_path: &str, e: Error) -> bool {
        self.items.push(Item::Error {
            file: calling.to_owned(),
            line: calling_line,
            message: format!("could not open file \"{abs_path}\": {e}"),
        });
        self.fatal = Some(e);
        false
    }

    fn error(&mut self, file: &str, line: usize, message: impl Into<String>) {
        let message = message.into();
        if self.keep(file, file.len() + message.len()) {
            self.items.push(Item::Error {
                file: file.to_owned(),
                line,
                message,
            });
        }
    }

    /// Counts `n` bytes an item keeps beside what was read (its file name, a
    /// message): a long path repeated on every item of a large file is bounded too.
    /// False when that passes the limit (reading stops, with an error saying so).
    fn keep(&mut self, file: &str, n: usize) -> bool {
        if self.fatal.is_some() {
            return false;
        }
        match self.budget.charge_kept(file, n) {
            Ok(()) => true,
            Err(e) => {
                self.items.push(Item::Error {
                    file: file.to_owned(),
                    line: 0,
                    message: e.to_string(),
                });
                self.fatal = Some(e);
                false
            }
        }
    }

    /// `ParseConfigFp()` on text already read.
    pub(crate) fn parse_text(&mut self, file: &str, text: &str, depth: u32) -> bool {
        self.stack.push(file.to_owned());
        let ok = self.parse_fp(file, text.as_bytes(), depth);
        self.stack.pop();
        ok
    }

    fn parse_fp(&mut self, file: &str, src: &[u8], depth: u32) -> bool {
        let mut lex = Lexer::new(src);
        let mut lineno: usize = 1;
        let mut ok = true;
        let mut errorcount = 0usize;
        loop {
            if self.fatal.is_some() {
                return false;
            }
            let mut token = lex.next();
            if token == Tok::Eof {
                break;
            }
            if token == Tok::Eol {
                lineno += 1;
                continue;
            }
            // The line's shape: name [=] value EOL.
            let parsed: Result<(String, Vec<u8>), Tok> = (|| {
                if token != Tok::Id && token != Tok::QualifiedId {
                    return Err(token);
                }
                let name = String::from_utf8_lossy(lex.text).into_owned();
                token = lex.next();
                if token == Tok::Equals {
                    token = lex.next();
                }
                let value = match token {
                    Tok::String => deescape_quoted(lex.text),
                    Tok::Id | Tok::Integer | Tok::Real | Tok::UnquotedString => lex.text.to_vec(),
                    _ => return Err(token),
                };
                token = lex.next();
                match token {
                    Tok::Eol | Tok::Eof => Ok((name, value)),
                    _ => Err(token),
                }
            })();
            match parsed {
                Ok((name, value)) => {
                    // EOF counts as a newline for line numbering.
                    lineno += 1;
                    let line = lineno - 1;
                    let value = String::from_utf8_lossy(&value).into_owned();
                    let lower = name.to_ascii_lowercase();
                    let included_ok = match lower.as_str() {
                        "include_dir" => self.parse_directory(&value, file, line, depth + 1),
                        "include_if_exists" => {
                            self.parse_file(&value, false, file, line, depth + 1)
                        }
                        "include" => self.parse_file(&value, true, file, line, depth + 1),
                        _ if !self.keep(file, file.len()) => false,
                        _ => {
                            self.items.push(Item::Setting {
                                name,
                                value,
                                file: file.to_owned(),
                                line,
                            });
                            true
                        }
                    };
                    ok &= included_ok;
                    if token == Tok::Eof {
                        break;
                    }
                }
                Err(bad) => {
                    let line = match bad {
                        Tok::Eol => {
                            lineno += 1;
                            lineno - 1
                        }
                        // At EOF without a newline the server reports the line before.
                        Tok::Eof => lineno.saturating_sub(1),
                        _ => lineno,
                    };
                    self.error(file, line, "syntax error");
                    ok = false;
                    errorcount += 1;
                    if errorcount >= MAX_ERRORS_PER_FILE || self.stop_at_first_error {
                        break;
                    }
                    // resync to the end of the line
                    let mut t = bad;
                    while t != Tok::Eol && t != Tok::Eof {
                        t = lex.next();
                        if t == Tok::Eol {
                            lineno += 1;
                        }
                    }
                    if t == Tok::Eof {
                        break;
                    }
                }
            }
        }
        ok
    }

    /// `ParseConfigFile()` for an include.
    fn parse_file(
        &mut self,
        config_file: &str,
        strict: bool,
        calling: &str,
        calling_line: usize,
        depth: u32,
    ) -> bool {
        if config_file
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.error(calling, calling_line, "empty configuration file name");
            return false;
        }
        let abs_path = absolute_config_location(config_file, calling, self.major);
        if depth > MAX_DEPTH {
            let msg = match self.cycle(&abs_path) {
                Some(c) => format!("nesting depth exceeded (include cycle: {c})"),
                None => "nesting depth exceeded".to_owned(),
            };
            self.error(calling, calling_line, msg);
            return false;
        }
        if abs_path == calling {
            self.error(calling, calling_line, "configuration file recursion");
            return false;
        }
        if self.fatal.is_some() {
            return false;
        }
        if self.opens >= MAX_FILE_OPENS {
            self.error(
                calling,
                calling_line,
                format!("could not open file \"{abs_path}\" (pgsec stops after {MAX_FILE_OPENS} included files)"),
            );
            return false;
        }
        self.opens += 1;
        let read = self
            .loader
            .read_limited(Path::new(&abs_path), self.budget.remaining_bytes());
        match read {
            Ok(text) => match self.budget.charge(&abs_path, &text) {
                Ok(()) => self.parse_text(&abs_path, &text, depth),
                Err(e) => self.stop(calling, calling_line, &abs_path, e),
            },
            // Beyond the server, which fails on a directory only after opening it
            // ("input in flex scanner failed") and blocks on a FIFO.
            Err(e) if not_regular_kind(&e).is_some() => {
                let e = read_error(Path::new(&abs_path), e);
                self.stop(calling, calling_line, &abs_path, e)
            }
            Err(_) if !strict => true,
            Err(_) => {
                self.error(
                    calling,
                    calling_line,
                    format!("could not open file \"{abs_path}\""),
                );
                false
            }
        }
    }

    /// `ParseConfigDirectory()`.
    fn parse_directory(
        &mut self,
        dir: &str,
        calling: &str,
        calling_line: usize,
        depth: u32,
    ) -> bool {
        let files = match crate::source::conf_files_in_dir(self.loader, dir, calling, self.major) {
            Ok(f) => f,
            Err(msg) => {
                self.error(calling, calling_line, msg);
                return false;
            }
        };
        for f in files {
            if !self.parse_file(&f, true, calling, calling_line, depth) {
                return false;
            }
        }
        true
    }

    fn cycle(&self, next: &str) -> Option<String> {
        let mut chain: Vec<&str> = self.stack.iter().map(String::as_str).collect();
        chain.push(next);
        for (i, a) in chain.iter().enumerate() {
            if let Some(j) = chain[i + 1..].iter().position(|b| b == a) {
                return Some(chain[i..=i + 1 + j].join(" -> "));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryLoader;

    fn items(text: &str) -> Vec<Item> {
        let loader = MemoryLoader::new();
        let mut p = Parser::new(&loader, 15, false, InputLimits::default());
        p.parse_text("/d/postgresql.conf", text, 0);
        p.items
    }

    fn setting(name: &str, value: &str, line: usize) -> Item {
        Item::Setting {
            name: name.to_owned(),
            value: value.to_owned(),
            file: "/d/postgresql.conf".to_owned(),
            line,
        }
    }

    fn err(line: usize) -> Item {
        Item::Error {
            file: "/d/postgresql.conf".to_owned(),
            line,
            message: "syntax error".to_owned(),
        }
    }

    #[test]
    fn settings_and_values() {
        let got = items(
            "a = 1\nb 'x y' # c\n\n# only comment\nc=on\nd.e = '10s'\nf = -1.5e3\ng = /tmp\n",
        );
        assert_eq!(
            got,
            vec![
                setting("a", "1", 1),
                setting("b", "x y", 2),
                setting("c", "on", 5),
                setting("d.e", "10s", 6),
                setting("f", "-1.5e3", 7),
                err(8),
            ]
        );
    }

    #[test]
    fn syntax_errors_and_line_numbers() {
        assert_eq!(items("a = \n"), vec![err(1)]);
        assert_eq!(
            items("a = 1 2\nb = 3\n"),
            vec![err(1), setting("b", "3", 2)]
        );
        assert_eq!(items("= 1\n"), vec![err(1)]);
        // at EOF without a newline the server names the previous line
        assert_eq!(items("x = 1\na ="), vec![setting("x", "1", 1), err(1)]);
        assert_eq!(items("a = 1"), vec![setting("a", "1", 1)]);
    }

    #[test]
    fn view_mode_stops_at_first_error() {
        let loader = MemoryLoader::new();
        let mut p = Parser::new(&loader, 15, true, InputLimits::default());
        p.parse_text("/d/postgresql.conf", "a = \nb = 1\n", 0);
        assert_eq!(p.items, vec![err(1)]);
    }

    #[test]
    fn includes() {
        let loader = MemoryLoader::new()
            .with_file("/d/extra.conf", "work_mem = 4MB\n")
            .with_file("/d/conf.d/01.conf", "a = 1\n")
            .with_file("/d/conf.d/00.conf", "a = 0\n")
            .with_file("/d/conf.d/x.conf.bak", "a = 9\n");
        let mut p = Parser::new(&loader, 15, false, InputLimits::default());
        p.parse_text(
            "/d/postgresql.conf",
            "include 'extra.conf'\nInclude_Dir = 'conf.d'\ninclude_if_exists 'nope.conf'\ninclude 'nope.conf'\ninclude ''\ninclude 'postgresql.conf'\ninclude_dir 'nodir'\n",
            0,
        );
        let names: Vec<String> = p
            .items
            .iter()
            .map(|i| match i {
                Item::Setting {
                    name,
                    value,
                    file,
                    line,
                } => format!("{file}:{line} {name}={value}"),
                Item::Error {
                    file,
                    line,
                    message,
                } => format!("{file}:{line} ERROR {message}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "/d/extra.conf:1 work_mem=4MB",
                "/d/conf.d/00.conf:1 a=0",
                "/d/conf.d/01.conf:1 a=1",
                "/d/postgresql.conf:4 ERROR could not open file \"/d/nope.conf\"",
                "/d/postgresql.conf:5 ERROR empty configuration file name",
                "/d/postgresql.conf:6 ERROR configuration file recursion",
                "/d/postgresql.conf:7 ERROR could not open directory \"/d/nodir\"",
            ]
        );
    }

    #[test]
    fn include_cycle_names_the_cycle() {
        let loader = MemoryLoader::new()
            .with_file("/d/a.conf", "include 'b.conf'\n")
            .with_file("/d/b.conf", "include 'a.conf'\n");
        let mut p = Parser::new(&loader, 15, false, InputLimits::default());
        p.parse_text("/d/postgresql.conf", "include 'a.conf'\n", 0);
        let Some(Item::Error { message, .. }) = p.items.first() else {
            panic!("{:?}", p.items);
        };
        assert!(
            message.starts_with("nesting depth exceeded (include cycle: "),
            "{message}"
        );
        assert!(
            message.contains("/d/a.conf -> /d/b.conf -> /d/a.conf"),
            "{message}"
        );
    }
}
