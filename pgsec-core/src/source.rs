//! Where parsers read files from. The parsers do no I/O of their own: the file system
//! is one [`SourceLoader`], an in-memory map is another (tests, fuzzing).
//!
//! Work is bounded on any input: [`InputLimits`] caps the bytes and lines a parse reads
//! (every included file counted each time it is included), and [`FsLoader`] reads
//! regular files only, so a FIFO, a device or a directory named where a file is
//! expected is refused instead of hanging or growing without end.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::Error;

/// Bounds on what one parse reads: the first file and every file it includes, counted
/// each time it is included (a file included twice counts twice), so neither fan-out
/// (`@file` named many times, `include` repeated) nor one huge file can make memory
/// or time grow beyond them.
///
/// The defaults, [`InputLimits::DEFAULT_MAX_BYTES`] (64 MiB) and
/// [`InputLimits::DEFAULT_MAX_LINES`] (1,000,000), are far above any real
/// configuration; the `pgsec` command raises them with `--max-input-bytes` and
/// `--max-input-lines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InputLimits {
    /// Bytes read in all, over every file and every time it is read.
    pub max_bytes: u64,
    /// Lines read in all, counted like the bytes.
    pub max_lines: u64,
}

impl InputLimits {
    /// The default byte limit: 64 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
    /// The default line limit: 1,000,000.
    pub const DEFAULT_MAX_LINES: u64 = 1_000_000;

    /// Limits of `max_bytes` bytes and `max_lines` lines.
    pub fn new(max_bytes: u64, max_lines: u64) -> Self {
        InputLimits {
            max_bytes,
            max_lines,
        }
    }

    /// Sets the byte limit.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the line limit.
    #[must_use]
    pub fn with_max_lines(mut self, max_lines: u64) -> Self {
        self.max_lines = max_lines;
        self
    }
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits::new(Self::DEFAULT_MAX_BYTES, Self::DEFAULT_MAX_LINES)
    }
}

/// Which of the [`InputLimits`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputLimit {
    /// [`InputLimits::max_bytes`].
    Bytes,
    /// [`InputLimits::max_lines`].
    Lines,
}

impl InputLimit {
    /// `bytes` or `lines`: the unit, and the end of the `pgsec` flag
    /// (`--max-input-bytes`, `--max-input-lines`).
    pub fn as_str(self) -> &'static str {
        match self {
            InputLimit::Bytes => "bytes",
            InputLimit::Lines => "lines",
        }
    }
}

impl fmt::Display for InputLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes an entry may keep beside what was read before the rest counts as read.
pub(crate) const FREE_KEPT_BYTES: usize = 512;

/// What one parse has read so far, against its [`InputLimits`].
#[derive(Debug)]
pub(crate) struct Budget {
    limits: InputLimits,
    bytes: u64,
    lines: u64,
}

impl Budget {
    pub(crate) fn new(limits: InputLimits) -> Self {
        Budget {
            limits,
            bytes: 0,
            lines: 0,
        }
    }

    /// Bytes that may still be read.
    pub(crate) fn remaining_bytes(&self) -> u64 {
        self.limits.max_bytes.saturating_sub(self.bytes)
    }

    /// Counts `text`, just read from `path`.
    ///
    /// # Errors
    /// [`Error::InputLimit`] naming `path` once a limit is passed.
    pub(crate) fn charge(&mut self, path: &str, text: &str) -> Result<(), Error> {
        let exceeded = |limit: InputLimit, max: u64| Error::InputLimit {
            path: PathBuf::from(path),
            limit,
            max,
        };
        self.bytes = self.bytes.saturating_add(text.len() as u64);
        if self.bytes > self.limits.max_bytes {
            return Err(exceeded(InputLimit::Bytes, self.limits.max_bytes));
        }
        self.lines = self.lines.saturating_add(line_count(text));
        if self.lines > self.limits.max_lines {
            return Err(exceeded(InputLimit::Lines, self.limits.max_lines));
        }
        Ok(())
    }
}

impl Budget {
    /// Counts `n` more lines (for pg_hba.conf, the tokens of a line beyond the first
    /// few), found in `path`.
    ///
    /// # Errors
    /// [`Error::InputLimit`] naming `path` once the line limit is passed.
    pub(crate) fn charge_lines(&mut self, path: &str, n: u64) -> Result<(), Error> {
        self.lines = self.lines.saturating_add(n);
        if self.lines > self.limits.max_lines {
            return Err(Error::InputLimit {
                path: PathBuf::from(path),
                limit: InputLimit::Lines,
                max: self.limits.max_lines,
            });
        }
        Ok(())
    }

    /// Counts what one entry keeps beside what was read (the file name of a setting,
    /// the text of an error naming a path), `n` bytes, while reading `path`: the part
    /// above [`FREE_KEPT_BYTES`] counts as read, so that a long path repeated on every
    /// entry of a large file is bounded too, and real files are not charged at all.
    ///
    /// # Errors
    /// [`Error::InputLimit`] naming `path` once the byte limit is passed.
    pub(crate) fn charge_kept(&mut self, path: &str, n: usize) -> Result<(), Error> {
        let n = n.saturating_sub(FREE_KEPT_BYTES);
        if n == 0 {
            return Ok(());
        }
        self.bytes = self.bytes.saturating_add(n as u64);
        if self.bytes > self.limits.max_bytes {
            return Err(Error::InputLimit {
                path: PathBuf::from(path),
                limit: InputLimit::Bytes,
                max: self.limits.max_bytes,
            });
        }
        Ok(())
    }
}

/// Lines of `text`: its newlines, and one more for a last line without one.
fn line_count(text: &str) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64;
    newlines + u64::from(!text.is_empty() && !text.ends_with('\n'))
}

/// The error [`FsLoader`] wraps in an [`io::Error`] for a path that is not a regular
/// file.
#[derive(Debug)]
pub(crate) struct NotRegularFile {
    pub(crate) kind: &'static str,
}

impl fmt::Display for NotRegularFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "is a {}, not a regular file", self.kind)
    }
}

impl std::error::Error for NotRegularFile {}

/// The kind of file when `e` says a path is not a regular file (from [`FsLoader`], or
/// a directory from any loader).
pub(crate) fn not_regular_kind(e: &io::Error) -> Option<&'static str> {
    if let Some(n) = e.get_ref().and_then(|i| i.downcast_ref::<NotRegularFile>()) {
        return Some(n.kind);
    }
    is_directory_error(e).then_some("directory")
}

/// The fatal error for a path that is not a regular file, or for another read error.
pub(crate) fn read_error(path: &Path, e: io::Error) -> Error {
    match not_regular_kind(&e) {
        Some(kind) => Error::NotRegularFile {
            path: path.to_path_buf(),
            kind,
        },
        None => Error::Io {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

fn file_kind(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
    }
    if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

fn refuse(t: fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegularFile { kind: file_kind(t) },
    )
}

/// Opens `path` for reading when it is a regular file. The type is checked before
/// opening, and again on the opened file (the path may have changed in between);
/// the open does not block, so a FIFO cannot hang it.
fn open_regular(path: &Path) -> io::Result<fs::File> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    Ok(file)
}

/// At most `max + 1` bytes of the regular file at `path` (one more than allowed, so
/// that the caller can tell a file of exactly `max` bytes from a longer one).
fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let cap = len.min(max.saturating_add(1)).min(1 << 20);
    let mut buf = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads the regular file at `path` as text (invalid UTF-8 replaced, as the parsers
/// do), within `limits`: what `pgsec` uses for a hardening profile.
///
/// # Errors
/// [`Error::NotRegularFile`] for a FIFO, device, socket or directory;
/// [`Error::InputLimit`] when the file has more bytes or lines than `limits` allow;
/// [`Error::Io`] when it cannot be read.
pub fn read_input_file(path: &Path, limits: &InputLimits) -> Result<String, Error> {
    let bytes = read_regular(path, limits.max_bytes).map_err(|e| read_error(path, e))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Budget::new(*limits).charge(&path.to_string_lossy(), &text)?;
    Ok(text)
}

/// The bytes of the regular file at `path`, at most `max_bytes` of them (certificates,
/// keys).
///
/// # Errors
/// [`Error::NotRegularFile`] for a FIFO, device, socket or directory;
/// [`Error::InputLimit`] when the file has more than `max_bytes` bytes;
/// [`Error::Io`] when it cannot be read.
pub fn read_input_bytes(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Error> {
    let bytes = read_regular(path, max_bytes).map_err(|e| read_error(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::InputLimit {
            path: path.to_path_buf(),
            limit: InputLimit::Bytes,
            max: max_bytes,
        });
    }
    Ok(bytes)
}

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

    /// Reads the file at `path`, or at least its first `max_bytes + 1` bytes: the
    /// parsers pass what their [`InputLimits`] leave, and refuse a longer file. The
    /// default reads the whole file with [`SourceLoader::read`].
    ///
    /// # Errors
    /// As [`SourceLoader::read`].
    fn read_limited(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let _ = max_bytes;
        self.read(path)
    }

    /// Lists the files (not sub-directories) in a directory (for `include_dir`), as
    /// full paths, unsorted.
    ///
    /// # Errors
    /// Any I/O error.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// Reads from the real file system: regular files only (a FIFO, device, socket or
/// directory is an `InvalidInput` error saying so), and never more than asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl SourceLoader for FsLoader {
    /// Reads a regular file of at most [`InputLimits::DEFAULT_MAX_BYTES`].
    fn read(&self, path: &Path) -> io::Result<String> {
        let max = InputLimits::DEFAULT_MAX_BYTES;
        let bytes = read_regular(path, max)?;
        if bytes.len() as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {max} bytes"),
            ));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn read_limited(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let bytes = read_regular(path, max_bytes)?;
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
    fn budget_counts_bytes_lines_and_long_kept_text() {
        assert_eq!(line_count(""), 0);
        assert_eq!(line_count("a"), 1);
        assert_eq!(line_count("a\n"), 1);
        assert_eq!(line_count("a\nb"), 2);
        let mut b = Budget::new(InputLimits::new(10, 3));
        assert!(b.charge("f", "ab\ncd\n").is_ok());
        assert_eq!(b.remaining_bytes(), 4);
        assert!(
            b.charge_kept("f", FREE_KEPT_BYTES).is_ok(),
            "short text is free"
        );
        assert!(b.charge_lines("f", 1).is_ok());
        assert!(matches!(
            b.charge_lines("f", 1),
            Err(Error::InputLimit {
                limit: InputLimit::Lines,
                max: 3,
                ..
            })
        ));
        let mut b = Budget::new(InputLimits::new(10, 3));
        assert!(b.charge_kept("f", FREE_KEPT_BYTES + 10).is_ok());
        assert!(matches!(
            b.charge("g", "x"),
            Err(Error::InputLimit {
                limit: InputLimit::Bytes,
                ..
            })
        ));
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
