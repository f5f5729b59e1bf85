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

    /// Lists the files (not sub-directories) in a directory (for `include_dir`), as
    /// full paths, unsorted.
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
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            // The server skips directories (stat follows symlinks, so does metadata).
            if std::fs::metadata(&path)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                continue;
            }
            out.push(path);
        }
        Ok(out)
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

/// Text of an I/O error as the server's `%m` / `strerror()` prints it
/// ("No such file or directory"), without Rust's " (os error N)" suffix.
pub(crate) fn io_error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => return "No such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => return "Permission denied".to_owned(),
        _ => {}
    }
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// True when reading failed because the path is a directory: the server opens a
/// directory without error and then reads nothing from it.
pub(crate) fn is_directory_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(21) || e.kind() == io::ErrorKind::IsADirectory
}

/// `trim_directory()` of PostgreSQL's `path.c`: drops the last path component.
pub(crate) fn parent_directory(path: &str) -> String {
    let b = path.as_bytes();
    if b.is_empty() {
        return String::new();
    }
    let mut p = b.len() - 1;
    while p > 0 && b[p] == b'/' {
        p -= 1;
    }
    while p > 0 && b[p] != b'/' {
        p -= 1;
    }
    while p > 0 && b[p - 1] == b'/' {
        p -= 1;
    }
    if p == 0 && b[0] == b'/' {
        p = 1;
    }
    String::from_utf8_lossy(&b[..p]).into_owned()
}

/// `join_path_components()` of `path.c`.
pub(crate) fn join_path_components(head: &str, tail: &str) -> String {
    let mut tail = tail;
    while tail.starts_with("./") {
        tail = &tail[2..];
    }
    let mut out = head.to_owned();
    if !tail.is_empty() {
        if !head.is_empty() {
            out.push('/');
        }
        out.push_str(tail);
    }
    out
}

/// `canonicalize_path()` of `path.c`. PostgreSQL 16 made it fully lexical; before
/// that it only collapsed separators and processed trailing `.` and `..`.
pub(crate) fn canonicalize_path(path: &str, major: u32) -> String {
    if major >= 16 {
        canonicalize_path_16(path)
    } else {
        canonicalize_path_old(path)
    }
}

fn canonicalize_path_16(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut stack: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => match stack.last() {
                Some(&last) if last != ".." => {
                    stack.pop();
                }
                _ if absolute => {}
                _ => stack.push(".."),
            },
            c => stack.push(c),
        }
    }
    let joined = stack.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn canonicalize_path_old(path: &str) -> String {
    // trim_trailing_separator
    let mut s: String = path.to_owned();
    while s.len() > 1 && s.ends_with('/') {
        s.pop();
    }
    // collapse duplicate separators
    let mut collapsed = String::with_capacity(s.len());
    let mut was_sep = false;
    for ch in s.chars() {
        if ch == '/' && was_sep {
            continue;
        }
        was_sep = ch == '/';
        collapsed.push(ch);
    }
    let mut s = collapsed;
    let mut pending_strips = 0usize;
    loop {
        if s.len() >= 2 && s.ends_with("/.") {
            s = parent_directory(&s);
        } else if s == "." {
            if pending_strips > 0 {
                s.clear();
            }
            break;
        } else if (s.len() >= 3 && s.ends_with("/..")) || s == ".." {
            s = parent_directory(&s);
            pending_strips += 1;
        } else if pending_strips > 0 && !s.is_empty() {
            s = parent_directory(&s);
            pending_strips -= 1;
            if s.is_empty() {
                s = ".".to_owned();
            }
        } else {
            break;
        }
    }
    if pending_strips > 0 {
        for _ in 1..pending_strips {
            s.push_str("../");
        }
        s.push_str("..");
    }
    s
}

/// `AbsoluteConfigLocation()`: an absolute location as is, a relative one against the
/// directory of the calling file, canonicalised.
pub(crate) fn absolute_config_location(location: &str, calling_file: &str, major: u32) -> String {
    if location.starts_with('/') {
        return location.to_owned();
    }
    let dir = parent_directory(calling_file);
    canonicalize_path(&join_path_components(&dir, location), major)
}

/// `GetConfFilesInDir()`: the `*.conf` files of a directory, absolute, sorted bytewise.
///
/// # Errors
/// The server's message for an empty name or an unreadable directory.
pub(crate) fn conf_files_in_dir(
    loader: &dyn SourceLoader,
    includedir: &str,
    calling_file: &str,
    major: u32,
) -> Result<Vec<String>, String> {
    if includedir
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Err("empty configuration directory name".to_owned());
    }
    let directory = absolute_config_location(includedir, calling_file, major);
    let entries = loader
        .list_dir(Path::new(&directory))
        .map_err(|_| format!("could not open directory \"{directory}\""))?;
    let mut files: Vec<String> = entries
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| name.len() >= 6 && !name.starts_with('.') && name.ends_with(".conf"))
        .map(|name| canonicalize_path(&join_path_components(&directory, &name), major))
        .collect();
    files.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    files.dedup();
    Ok(files)
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn parent_directory_matches_trim_directory() {
        assert_eq!(parent_directory("/data/pg_hba.conf"), "/data");
        assert_eq!(parent_directory("pg_hba.conf"), "");
        assert_eq!(parent_directory("/pg_hba.conf"), "/");
        assert_eq!(parent_directory("/a//b"), "/a");
        assert_eq!(parent_directory(""), "");
    }

    #[test]
    fn canonicalize_old_and_new() {
        assert_eq!(canonicalize_path("/a//b/", 15), "/a/b");
        assert_eq!(canonicalize_path("/a/b/..", 15), "/a");
        assert_eq!(canonicalize_path("/a/./b", 15), "/a/./b");
        assert_eq!(canonicalize_path("/a/./b", 16), "/a/b");
        assert_eq!(canonicalize_path("/a/../b", 16), "/b");
        assert_eq!(canonicalize_path("../x", 16), "../x");
        assert_eq!(canonicalize_path("/../x", 16), "/x");
        assert_eq!(canonicalize_path("a/..", 15), ".");
    }

    #[test]
    fn absolute_location() {
        assert_eq!(
            absolute_config_location("x.conf", "/d/pg_hba.conf", 15),
            "/d/x.conf"
        );
        assert_eq!(
            absolute_config_location("./x.conf", "/d/p.conf", 15),
            "/d/x.conf"
        );
        assert_eq!(
            absolute_config_location("/abs/x", "/d/p.conf", 15),
            "/abs/x"
        );
        assert_eq!(absolute_config_location("x", "p.conf", 15), "x");
    }

    #[test]
    fn io_error_texts() {
        let e = io::Error::new(io::ErrorKind::NotFound, "no such file");
        assert_eq!(io_error_text(&e), "No such file or directory");
        let e = io::Error::from_raw_os_error(21);
        assert_eq!(io_error_text(&e), "Is a directory");
        assert!(is_directory_error(&e));
    }
}
