//! Where parsers read files from. The parsers do no I/O of their own: the file system
//! is one [`SourceLoader`], an in-memory map is another (tests, fuzzing).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// A file handed to a parser: its name (as shown in evidence) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Path as it will appear in evidence and reports.
    pub path: PathBuf,
    /// File contents.
    pub text: String,
}

/// Reads files for `include` directives and `@file` references.
pub trait SourceLoader {
    /// Reads the file at `path` (already resolved against the including file).
    ///
    /// # Errors
    /// Any I/O error; `NotFound` matters (`include_if_exists`).
    fn read(&self, path: &Path) -> io::Result<String>;

    /// Lists the file names in a directory (for `include_dir`), unsorted.
    ///
    /// # Errors
    /// Any I/O error.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// Reads from the real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }
}

/// An in-memory file system, for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    files: BTreeMap<PathBuf, String>,
}

impl MemoryLoader {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    #[must_use]
    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl SourceLoader for MemoryLoader {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let found: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect();
        if found.is_empty() && !self.files.keys().any(|p| p.starts_with(dir)) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(found)
    }
}
