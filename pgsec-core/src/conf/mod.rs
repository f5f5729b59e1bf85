//! `postgresql.conf`, parsed as the server's `guc-file.l` does.
//!
//! Pure like the hba parser: included files come through a [`SourceLoader`].
//!
//! ```
//! use std::path::Path;
//! use pgsec_core::conf::{ConfFile, MemoryLoader};
//!
//! let loader = MemoryLoader::new().with_file("/etc/pg/conf.d/ssl.conf", "ssl = on\n");
//! let text = "ssl = off\nlisten_addresses '*'   # '=' is optional\ninclude_dir 'conf.d'\nwork_mem = \n";
//! let file = ConfFile::parse(text, Path::new("/etc/pg/postgresql.conf"), &loader);
//!
//! let ssl = file.get("SSL").unwrap();
//! assert_eq!((ssl.value.as_str(), ssl.file.as_str()), ("on", "/etc/pg/conf.d/ssl.conf"));
//! assert!(!file.settings[0].applied, "a later line wins");
//! assert_eq!(file.errors[0].message, "syntax error");
//! assert_eq!(file.errors[0].line_number, 4);
//! ```
//!
//! Reading is bounded by [`InputLimits`] (bytes and lines of every file, each time it
//! is included) and reads regular files only: `include '/dev/zero'` or an include of
//! a FIFO stops the parse with an error instead of growing or hanging.
//!
//! The parser reports what the file says; it does not know the server's parameter
//! list, so unknown names and invalid values (which `pg_file_settings` marks
//! "unrecognized configuration parameter" / "setting could not be applied") are not
//! errors here.

// NOTE for implementers: the public types below are the contract other modules (rules,
// reports, CLI) code against. Extend them freely; do not rename fields.

use std::io;
use std::path::Path;

use serde::Serialize;

pub use crate::source::{FsLoader, InputLimits, MemoryLoader, SourceLoader, SourceRef};
use crate::Error;

mod lexer;
mod parse;

/// One `name = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfSetting {
    /// Setting name, lower-cased as the server does.
    pub name: String,
    /// Value after unquoting and unescaping (units kept as written, e.g. `60s`).
    pub value: String,
    /// File the line is in.
    pub file: String,
    /// 1-based line number.
    pub line_number: usize,
    /// False when a later line sets the same name (the server's `applied = false`).
    pub applied: bool,
}

/// A syntax or include error, on its line, as `pg_file_settings.error` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// File of the error.
    pub file: String,
    /// 1-based line number (0 when the error is not tied to a line).
    pub line_number: usize,
    /// The server's message.
    pub message: String,
}

/// A parsed `postgresql.conf`, includes expanded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfFile {
    /// Every setting line in server order (later lines win).
    pub settings: Vec<ConfSetting>,
    /// Errors found while reading.
    ///
    /// When an include is part of a cycle, pgsec appends ` (include cycle: a -> b -> a)`
    /// to the server's message.
    pub errors: Vec<ConfError>,
    /// Settings and errors interleaved in the order the server lists them
    /// (`pg_file_settings.seqno`). Empty for a hand-built file.
    pub entries: Vec<ConfEntry>,
}

/// One entry of [`ConfFile::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfEntry {
    /// `settings[index]`, with its name as written (the server keeps the case).
    Setting {
        /// Index into [`ConfFile::settings`].
        index: usize,
        /// The name exactly as written.
        name_as_written: String,
    },
    /// `errors[index]`.
    Error {
        /// Index into [`ConfFile::errors`].
        index: usize,
    },
}

/// How to parse a `postgresql.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConfParseOptions {
    /// Major version (path canonicalisation changed in 16). Default 15.
    pub major: u32,
    /// Abandon a file at its first syntax error, as `pg_file_settings` does; the
    /// server itself (postmaster, SIGHUP) reports up to 100 per file. Default false.
    pub stop_at_first_error: bool,
    /// Bounds on what the file and its includes may expand to.
    pub limits: InputLimits,
}

impl Default for ConfParseOptions {
    fn default() -> Self {
        ConfParseOptions {
            major: 15,
            stop_at_first_error: false,
            limits: InputLimits::default(),
        }
    }
}

impl ConfParseOptions {
    /// The options `pg_file_settings` of `major` reads with.
    pub fn file_settings_view(major: u32) -> Self {
        ConfParseOptions {
            major,
            stop_at_first_error: true,
            limits: InputLimits::default(),
        }
    }

    /// Sets the bounds on what the file and its includes may expand to.
    #[must_use]
    pub fn with_limits(mut self, limits: InputLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// One row of `pg_file_settings`; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSettingRow {
    /// `sourcefile`.
    pub sourcefile: Option<String>,
    /// `sourceline`.
    pub sourceline: Option<i64>,
    /// `seqno` (1-based).
    pub seqno: i64,
    /// `name`, as written.
    pub name: Option<String>,
    /// `setting`.
    pub setting: Option<String>,
    /// `applied`, as the view computes it: false everywhere when the files have any
    /// error; else false when a later line sets the same name written the same way
    /// (the server compares names exactly here, and does not de-duplicate custom
    /// `a.b` names it has no definition for). The server also says false for names or
    /// values it rejects, which a file parser cannot know.
    pub applied: bool,
    /// `error`.
    pub error: Option<String>,
}

impl ConfFile {
    /// Parses `text` (the contents of `path`) as `guc-file.l` does; included files
    /// are read through `loader`, relative to the file that names them.
    ///
    /// Never fails: syntax errors and unreadable includes are in [`ConfFile::errors`].
    /// When the default [`InputLimits`] are passed or an included path is not a
    /// regular file, reading stops there with an error on the including line;
    /// [`ConfFile::try_parse_with`] makes that an error of the whole parse.
    pub fn parse(text: &str, path: &Path, loader: &dyn SourceLoader) -> ConfFile {
        Self::parse_with(text, path, loader, &ConfParseOptions::default())
    }

    /// [`ConfFile::parse`] with explicit options.
    pub fn parse_with(
        text: &str,
        path: &Path,
        loader: &dyn SourceLoader,
        options: &ConfParseOptions,
    ) -> ConfFile {
        Self::parse_bounded(text, path, loader, options).0
    }

    /// [`ConfFile::parse_with`], failing when reading had to stop: the file and its
    /// includes exceed `options.limits`, or an included path is a FIFO, device,
    /// socket or directory.
    ///
    /// # Errors
    /// [`Error::InputLimit`] or [`Error::NotRegularFile`], naming the file.
    pub fn try_parse_with(
        text: &str,
        path: &Path,
        loader: &dyn SourceLoader,
        options: &ConfParseOptions,
    ) -> Result<ConfFile, Error> {
        match Self::parse_bounded(text, path, loader, options) {
            (_, Some(e)) => Err(e),
            (file, None) => Ok(file),
        }
    }

    /// Reads the regular file at `path` and parses it with `options`, includes read
    /// from the file system; bounded by `options.limits`.
    ///
    /// # Errors
    /// [`Error::Io`] when `path` cannot be read (unreadable included files are
    /// entries in [`ConfFile::errors`]), [`Error::NotRegularFile`] for a FIFO, device,
    /// socket or directory, [`Error::InputLimit`] when the limits are passed.
    pub fn load_with(path: &Path, options: &ConfParseOptions) -> Result<ConfFile, Error> {
        let loader = FsLoader;
        let text = loader
            .read_limited(path, options.limits.max_bytes)
            .map_err(|e| crate::source::read_error(path, e))?;
        Self::try_parse_with(&text, path, &loader, options)
    }

    /// The parse, and why reading stopped early if it did.
    fn parse_bounded(
        text: &str,
        path: &Path,
        loader: &dyn SourceLoader,
        options: &ConfParseOptions,
    ) -> (ConfFile, Option<Error>) {
        let file = path.to_string_lossy();
        let mut p = parse::Parser::new(
            loader,
            options.major,
            options.stop_at_first_error,
            options.limits,
        );
        p.parse_top(&file, text);
        let fatal = p.take_fatal();
        let mut out = ConfFile::default();
        for item in p.items {
            match item {
                parse::Item::Setting {
                    name,
                    value,
                    file,
                    line,
                } => {
                    out.entries.push(ConfEntry::Setting {
                        index: out.settings.len(),
                        name_as_written: name.clone(),
                    });
                    out.settings.push(ConfSetting {
                        name: name.to_ascii_lowercase(),
                        value,
                        file,
                        line_number: line,
                        applied: true,
                    });
                }
                parse::Item::Error {
                    file,
                    line,
                    message,
                } => {
                    out.entries.push(ConfEntry::Error {
                        index: out.errors.len(),
                    });
                    out.errors.push(ConfError {
                        file,
                        line_number: line,
                        message,
                    });
                }
            }
        }
        // Later lines win.
        let mut seen = std::collections::HashSet::new();
        for s in out.settings.iter_mut().rev() {
            if !seen.insert(s.name.clone()) {
                s.applied = false;
            }
        }
        (out, fatal)
    }

    /// Reads and parses the file at `path` from the file system, with the default
    /// [`InputLimits`] ([`ConfFile::load_with`] for the typed error).
    ///
    /// # Errors
    /// The I/O error when `path` itself cannot be read, `InvalidInput` when it or an
    /// included path is not a regular file, `InvalidData` when the limits are
    /// passed; unreadable included files are entries in [`ConfFile::errors`].
    pub fn load(path: &Path) -> io::Result<ConfFile> {
        Self::load_with(path, &ConfParseOptions::default()).map_err(Error::into_io)
    }

    /// The rows of `pg_file_settings` for this file (parse it with
    /// [`ConfParseOptions::file_settings_view`] to match the view exactly).
    pub fn to_file_settings_rows(&self) -> Vec<FileSettingRow> {
        let entries: Vec<ConfEntry> = if self.entries.is_empty() {
            (0..self.settings.len())
                .map(|index| ConfEntry::Setting {
                    index,
                    name_as_written: self.settings[index].name.clone(),
                })
                .chain((0..self.errors.len()).map(|index| ConfEntry::Error { index }))
                .collect()
        } else {
            self.entries.clone()
        };
        let any_error = !self.errors.is_empty();
        let names: Vec<Option<&str>> = entries
            .iter()
            .map(|e| match e {
                ConfEntry::Setting {
                    name_as_written, ..
                } => Some(name_as_written.as_str()),
                ConfEntry::Error { .. } => None,
            })
            .collect();
        let mut rows = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let seqno = i64::try_from(i + 1).unwrap_or(i64::MAX);
            match e {
                ConfEntry::Setting {
                    index,
                    name_as_written,
                } => {
                    let Some(s) = self.settings.get(*index) else {
                        continue;
                    };
                    let superseded = !name_as_written.contains('.')
                        && names[i + 1..].contains(&Some(name_as_written.as_str()));
                    let applied = if self.entries.is_empty() {
                        s.applied
                    } else {
                        !any_error && !superseded
                    };
                    rows.push(FileSettingRow {
                        sourcefile: Some(s.file.clone()),
                        sourceline: i64::try_from(s.line_number).ok(),
                        seqno,
                        name: Some(name_as_written.clone()),
                        setting: Some(s.value.clone()),
                        applied,
                        error: None,
                    });
                }
                ConfEntry::Error { index } => {
                    let Some(err) = self.errors.get(*index) else {
                        continue;
                    };
                    let message = match err.message.find(" (include cycle: ") {
                        Some(i) => err.message[..i].to_owned(),
                        None => err.message.clone(),
                    };
                    rows.push(FileSettingRow {
                        sourcefile: Some(err.file.clone()),
                        sourceline: i64::try_from(err.line_number).ok(),
                        seqno,
                        name: None,
                        setting: None,
                        applied: false,
                        error: Some(message),
                    });
                }
            }
        }
        rows
    }
}

impl ConfFile {
    /// The effective (last) setting of `name` (case-insensitive), if any line sets it.
    pub fn get(&self, name: &str) -> Option<&ConfSetting> {
        let name = name.to_ascii_lowercase();
        self.settings.iter().rev().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_settings_win_and_names_are_lowercased() {
        let f = ConfFile::parse(
            "Work_Mem = 1MB\nssl = on\nwork_mem = '2MB'\n",
            Path::new("/d/postgresql.conf"),
            &MemoryLoader::new(),
        );
        let s = f.get("WORK_MEM").unwrap();
        assert_eq!(
            (s.value.as_str(), s.line_number, s.applied),
            ("2MB", 3, true)
        );
        assert!(!f.settings[0].applied);
        assert_eq!(f.settings[0].name, "work_mem");
        assert_eq!(f.settings[0].file, "/d/postgresql.conf");
        assert_eq!(
            f.entries[0],
            ConfEntry::Setting {
                index: 0,
                name_as_written: "Work_Mem".into()
            }
        );
        // The view compares names as written: both spellings stay applied there.
        let rows = f.to_file_settings_rows();
        assert_eq!(rows[0].name.as_deref(), Some("Work_Mem"));
        assert!(rows[0].applied && rows[2].applied);
        assert_eq!(rows.iter().map(|r| r.seqno).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn errors_unapply_everything_in_the_view() {
        let f = ConfFile::parse(
            "a = 1\nb = \nc = 3\n",
            Path::new("/d/postgresql.conf"),
            &MemoryLoader::new(),
        );
        assert_eq!(f.errors.len(), 1);
        assert_eq!(f.errors[0].line_number, 2);
        assert_eq!(f.errors[0].message, "syntax error");
        assert_eq!(f.settings.len(), 2, "the server goes on after an error");
        let rows = f.to_file_settings_rows();
        assert!(rows.iter().all(|r| !r.applied));
        assert_eq!(rows[1].error.as_deref(), Some("syntax error"));
        let view = ConfFile::parse_with(
            "a = 1\nb = \nc = 3\n",
            Path::new("/d/postgresql.conf"),
            &MemoryLoader::new(),
            &ConfParseOptions::file_settings_view(15),
        );
        assert_eq!(
            view.settings.len(),
            1,
            "the view abandons the file at its first error"
        );
    }

    #[test]
    fn load_from_disk_with_include_dir() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("conf.d/skip.conf")).unwrap();
        std::fs::write(root.join("conf.d/b.conf"), "ssl = on\n").unwrap();
        std::fs::write(
            root.join("conf.d/a.conf"),
            "ssl = off\nlisten_addresses = '*'\n",
        )
        .unwrap();
        std::fs::write(root.join("postgresql.conf"), "include_dir 'conf.d'\n").unwrap();
        let f = ConfFile::load(&root.join("postgresql.conf")).unwrap();
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.get("ssl").unwrap().value, "on");
        assert!(f.get("ssl").unwrap().file.ends_with("conf.d/b.conf"));
        assert_eq!(f.get("listen_addresses").unwrap().value, "*");
        assert!(ConfFile::load(&root.join("missing.conf")).is_err());
    }

    #[test]
    fn hand_built_files_render() {
        let f = ConfFile {
            settings: vec![ConfSetting {
                name: "ssl".into(),
                value: "on".into(),
                file: "postgresql.conf".into(),
                line_number: 1,
                applied: true,
            }],
            ..ConfFile::default()
        };
        let rows = f.to_file_settings_rows();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].applied);
    }
}
