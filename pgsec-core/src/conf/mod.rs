//! `postgresql.conf`, parsed as the server's `guc-file.l` does.
//!
//! Pure like the hba parser: included files come through a [`SourceLoader`].

// NOTE for implementers: the public types below are the contract other modules (rules,
// reports, CLI) code against. Extend them freely; do not rename fields.

pub use crate::source::{FsLoader, MemoryLoader, SourceLoader, SourceRef};

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
    pub errors: Vec<ConfError>,
}

impl ConfFile {
    /// The effective (last) setting of `name` (case-insensitive), if any line sets it.
    pub fn get(&self, name: &str) -> Option<&ConfSetting> {
        let name = name.to_ascii_lowercase();
        self.settings.iter().rev().find(|s| s.name == name)
    }
}
