//! Tokenizing `pg_hba.conf` as `tokenize_auth_file()` / `next_field_expand()` /
//! `next_token()` of the server's `hba.c` do: logical lines (backslash continuation,
//! CRLF), comma lists, quoting, comments, `@file` expansion and (16+) the `include`,
//! `include_if_exists` and `include_dir` records.
//!
//! Lines are handed to a sink one at a time, with tokens borrowed from the file's
//! text wherever the text holds them verbatim (the common case): a 100,000-line file
//! costs no allocation per token here.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use crate::source::{
    absolute_config_location, canonicalize_path, conf_files_in_dir, io_error_text,
    join_path_components, read_error, Budget, InputLimits, SourceLoader,
};
use crate::Error;

/// Nesting depth the server allows for included files (`CONF_FILE_MAX_DEPTH`).
pub(crate) const MAX_DEPTH: u32 = 10;
/// Files opened for one parse at most: a bound on fan-out (`@a` several times per line,
/// each `@a` naming `@b` several times ...), which the depth limit alone does not bound.
const MAX_FILE_OPENS: usize = 2_000;
/// Tokens a logical line of any file holds before each further one counts as a line
/// against [`InputLimits::max_lines`]: a real line has a handful, and what a line
/// costs in memory grows with its tokens (a long `@file` list of short names).
const FREE_TOKENS_PER_LINE: usize = 16;

/// One token as the server keeps it (`AuthToken`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'t> {
    /// The text without quotes, borrowed from the file when it is written there as is.
    pub(crate) text: Cow<'t, str>,
    /// `initial_quote`: the token began with a double quote.
    pub(crate) quoted: bool,
}

impl Token<'_> {
    /// The same token, owning its text.
    fn to_owned_token<'o>(&self) -> Token<'o> {
        Token {
            text: Cow::Owned(self.text.as_ref().to_owned()),
            quoted: self.quoted,
        }
    }
}

/// Error found while tokenizing a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineErr {
    /// The server's message.
    pub(crate) msg: String,
    /// The include cycle the error is part of (`a -> b -> a`), pgsec's addition.
    pub(crate) detail: Option<String>,
}

/// One logical line with its fields (`TokenizedAuthLine`), lent to the sink.
pub(crate) struct TokLine<'l, 't> {
    /// The file the line is in.
    pub(crate) file: &'l Arc<str>,
    pub(crate) line_number: usize,
    /// Every token of the line, field after field.
    tokens: &'l [Token<'t>],
    /// Where each field ends in `tokens` (no field is empty).
    ends: &'l [usize],
    pub(crate) err: Option<LineErr>,
}

impl<'l, 't> TokLine<'l, 't> {
    /// The fields in order, each a non-empty comma list.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &'l [Token<'t>]> + 'l {
        let tokens = self.tokens;
        self.ends.iter().scan(0usize, move |start, &end| {
            let field = tokens.get(*start..end).unwrap_or_default();
            *start = end;
            Some(field)
        })
    }
}

/// Where the tokenizer hands each line.
pub(crate) type Sink<'s> = dyn FnMut(TokLine<'_, '_>) + 's;

pub(crate) struct Tokenizer<'a> {
    loader: &'a dyn SourceLoader,
    major: u32,
    opens: usize,
    /// Files currently being read, outermost first (to name include cycles).
    stack: Vec<Arc<str>>,
    /// What has been read, against the limits.
    budget: Budget,
    /// Why reading stopped: a limit was passed, or a path is not a regular file.
    /// Nothing more is read once it is set.
    fatal: Option<Error>,
}

impl<'a> Tokenizer<'a> {
    pub(crate) fn new(loader: &'a dyn SourceLoader, major: u32, limits: InputLimits) -> Self {
        Tokenizer {
            loader,
            major,
            opens: 0,
            stack: Vec::new(),
            budget: Budget::new(limits),
            fatal: None,
        }
    }

    /// Why reading stopped early, if it did (the line that was being read carries the
    /// same text as its error).
    pub(crate) fn take_fatal(&mut self) -> Option<Error> {
        self.fatal.take()
    }

    /// Tokenizes the top-level file (depth 0), handing each line to `sink`.
    pub(crate) fn tokenize_top(&mut self, file: &str, text: &str, sink: &mut Sink<'_>) {
        if let Err(e) = self.budget.charge(file, text) {
            let file: Arc<str> = Arc::from(file);
            sink(TokLine {
                file: &file,
                line_number: 1,
                tokens: &[],
                ends: &[],
                err: Some(LineErr {
                    msg: e.to_string(),
                    detail: None,
                }),
            });
            self.fatal = Some(e);
            return;
        }
        self.tokenize_file(file, text, 0, sink);
    }

    fn tokenize_file<'t>(&mut self, file: &str, text: &'t str, depth: u32, sink: &mut Sink<'_>) {
        let file: Arc<str> = Arc::from(file);
        self.stack.push(Arc::clone(&file));
        // Reused from line to line.
        let mut tokens: Vec<Token<'t>> = Vec::with_capacity(16);
        let mut ends: Vec<usize> = Vec::with_capacity(8);
        for (line_number, line) in logical_lines(text) {
            if self.fatal.is_some() {
                break;
            }
            tokens.clear();
            ends.clear();
            let mut err: Option<LineErr> = None;
            match line {
                Cow::Borrowed(line) => {
                    self.lex_line(&file, line, depth, &mut tokens, &mut ends, &mut err);
                }
                // A continued line, or one with a NUL byte: its tokens own their text.
                Cow::Owned(line) => {
                    let mut own: Vec<Token<'_>> = Vec::new();
                    self.lex_line(&file, &line, depth, &mut own, &mut ends, &mut err);
                    tokens.extend(own.iter().map(Token::to_owned_token));
                }
            }
            if ends.is_empty() && err.is_none() {
                continue;
            }
            // An error's text can hold paths longer than the line (the including file's
            // directory): it counts against the limits like what was read.
            if let Some(e) = &err {
                let kept = e.msg.len() + e.detail.as_ref().map_or(0, String::len);
                if self.fatal.is_none() {
                    if let Err(f) = self.budget.charge_kept(&file, kept) {
                        err = Some(LineErr {
                            msg: f.to_string(),
                            detail: None,
                        });
                        self.fatal = Some(f);
                    }
                }
            }
            if self.major >= 16 && err.is_none() && ends.len() == 2 {
                let first = tokens.first().map_or("", |t| t.text.as_ref());
                let second = ends
                    .first()
                    .and_then(|&i| tokens.get(i))
                    .map_or("", |t| t.text.as_ref());
                let handled = match first {
                    "include" => Some(self.include_file(&file, second, depth + 1, false, sink)),
                    "include_if_exists" => {
                        Some(self.include_file(&file, second, depth + 1, true, sink))
                    }
                    "include_dir" => Some(self.include_dir(&file, second, depth + 1, sink)),
                    _ => None,
                };
                match handled {
                    Some(Ok(())) => continue,
                    Some(Err(e)) => err = Some(e),
                    None => {}
                }
            }
            sink(TokLine {
                file: &file,
                line_number,
                tokens: &tokens,
                ends: &ends,
                err,
            });
        }
        self.stack.pop();
    }

    /// The fields of one logical line, appended to `tokens` / `ends`.
    fn lex_line<'x>(
        &mut self,
        file: &str,
        line: &'x str,
        depth: u32,
        tokens: &mut Vec<Token<'x>>,
        ends: &mut Vec<usize>,
        err: &mut Option<LineErr>,
    ) {
        let mut pos = 0usize;
        let mut direct = 0usize;
        while pos < line.len() && err.is_none() {
            let before = tokens.len();
            self.next_field_expand(file, line, &mut pos, depth, &mut direct, tokens, err);
            if tokens.len() > before {
                ends.push(tokens.len());
            }
        }
    }

    /// `next_field_expand()`: one comma list, `@file` references expanded. `direct`
    /// counts the tokens of the line read so far (not those of expanded files, which
    /// their own lines count).
    #[allow(clippy::too_many_arguments)]
    fn next_field_expand<'x>(
        &mut self,
        file: &str,
        line: &'x str,
        pos: &mut usize,
        depth: u32,
        direct: &mut usize,
        tokens: &mut Vec<Token<'x>>,
        err: &mut Option<LineErr>,
    ) {
        while let Some(tok) = next_token(line, pos) {
            let terminating_comma = tok.terminating_comma;
            match tok.text.strip_prefix('@') {
                Some(name) if !tok.initial_quote && !name.is_empty() => {
                    let inc = name.to_owned();
                    self.expand_file(tokens, file, &inc, depth + 1, err);
                }
                _ => {
                    *direct += 1;
                    if *direct > FREE_TOKENS_PER_LINE {
                        if let Err(e) = self.budget.charge_lines(file, 1) {
                            *err = Some(LineErr {
                                msg: e.to_string(),
                                detail: None,
                            });
                            self.fatal = Some(e);
                            break;
                        }
                    }
                    tokens.push(Token {
                        text: tok.text,
                        quoted: tok.initial_quote,
                    });
                }
            }
            if !(terminating_comma && err.is_none()) {
                break;
            }
        }
    }

    /// Reads an included file, enforcing depth, the number of files and the
    /// [`InputLimits`]. The error says whether the file was missing.
    fn open(&mut self, full: &str, depth: u32, at_name: &str) -> Result<String, (LineErr, bool)> {
        let pre16 = self.major < 16;
        let prefix = if pre16 {
            format!("could not open secondary authentication file \"@{at_name}\" as \"{full}\"")
        } else {
            format!("could not open file \"{full}\"")
        };
        if let Some(e) = &self.fatal {
            return Err((
                LineErr {
                    msg: format!("{prefix}: {e}"),
                    detail: None,
                },
                false,
            ));
        }
        if depth > MAX_DEPTH {
            return Err((
                LineErr {
                    msg: format!("{prefix}: maximum nesting depth exceeded"),
                    detail: self.cycle_detail(full),
                },
                false,
            ));
        }
        if self.opens >= MAX_FILE_OPENS {
            return Err((
                LineErr {
                    msg: format!(
                        "{prefix}: too many included files (pgsec stops after {MAX_FILE_OPENS})"
                    ),
                    detail: None,
                },
                false,
            ));
        }
        self.opens += 1;
        let fatal = |this: &mut Self, e: Error| {
            let err = LineErr {
                msg: format!("{prefix}: {e}"),
                detail: None,
            };
            this.fatal = Some(e);
            Err((err, false))
        };
        match self
            .loader
            .read_limited(Path::new(full), self.budget.remaining_bytes())
        {
            Ok(text) => match self.budget.charge(full, &text) {
                Ok(()) => Ok(text),
                Err(e) => fatal(self, e),
            },
            // Beyond the server, which reads a directory as empty and blocks on a FIFO.
            Err(e) if crate::source::not_regular_kind(&e).is_some() => {
                fatal(self, read_error(Path::new(full), e))
            }
            Err(e) => Err((
                LineErr {
                    msg: format!("{prefix}: {}", io_error_text(&e)),
                    detail: None,
                },
                e.kind() == std::io::ErrorKind::NotFound,
            )),
        }
    }

    fn cycle_detail(&self, full: &str) -> Option<String> {
        let mut chain: Vec<&str> = self.stack.iter().map(|f| &**f).collect();
        chain.push(full);
        // Find the first file that appears twice: the cycle runs between its two visits.
        for (i, a) in chain.iter().enumerate() {
            if let Some(j) = chain[i + 1..].iter().position(|b| b == a) {
                let cycle = chain[i..=i + 1 + j].join(" -> ");
                return Some(cycle);
            }
        }
        None
    }

    /// `tokenize_inc_file()` (up to 15) / `tokenize_expand_file()` (16+): the tokens of
    /// every line of the file, appended to the field being read.
    fn expand_file(
        &mut self,
        tokens: &mut Vec<Token<'_>>,
        outer: &str,
        inc: &str,
        depth: u32,
        err: &mut Option<LineErr>,
    ) {
        let full = if inc.starts_with('/') {
            inc.to_owned()
        } else {
            canonicalize_path(
                &join_path_components(&crate::source::parent_directory(outer), inc),
                self.major,
            )
        };
        let text = match self.open(&full, depth, inc) {
            Ok(t) => t,
            Err((e, _)) => {
                *err = Some(e);
                return;
            }
        };
        // The whole file is read; the first line in error stops the expansion there.
        let mut failed: Option<LineErr> = None;
        self.tokenize_file(&full, &text, depth, &mut |line: TokLine<'_, '_>| {
            if failed.is_some() {
                return;
            }
            match line.err {
                Some(e) => failed = Some(e),
                None => tokens.extend(line.tokens.iter().map(Token::to_owned_token)),
            }
        });
        if failed.is_some() {
            *err = failed;
        }
    }

    /// `tokenize_include_file()` (16+).
    fn include_file(
        &mut self,
        outer: &str,
        inc: &str,
        depth: u32,
        missing_ok: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), LineErr> {
        let full = absolute_config_location(inc, outer, self.major);
        match self.open(&full, depth, inc) {
            Ok(text) => {
                self.tokenize_file(&full, &text, depth, sink);
                Ok(())
            }
            Err((_, true)) if missing_ok => Ok(()),
            Err((e, _)) => Err(e),
        }
    }

    /// The `include_dir` record (16+), with `GetConfFilesInDir()`.
    fn include_dir(
        &mut self,
        outer: &str,
        dir: &str,
        depth: u32,
        sink: &mut Sink<'_>,
    ) -> Result<(), LineErr> {
        let files = conf_files_in_dir(self.loader, dir, outer, self.major)
            .map_err(|msg| LineErr { msg, detail: None })?;
        let mut errors: Vec<LineErr> = Vec::new();
        for f in files {
            if let Err(e) = self.include_file(outer, &f, depth, false, sink) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let msg = errors
            .iter()
            .map(|e| e.msg.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let detail = errors.into_iter().find_map(|e| e.detail);
        Err(LineErr { msg, detail })
    }
}

struct RawToken<'l> {
    text: Cow<'l, str>,
    initial_quote: bool,
    terminating_comma: bool,
}

/// Bytes cut from valid UTF-8 at ASCII delimiters (always the case here) as a String;
/// lossily converted should that ever not hold.
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Byte classes for [`next_token`]: bytes skipped before a token (blanks, commas) and
/// bytes that end an unquoted run (blanks, comma, `#`, `"`, NUL).
const SKIP: u8 = 1;
const STOP: u8 = 2;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = SKIP | STOP;
    t[b'\t' as usize] = SKIP | STOP;
    t[b'\r' as usize] = SKIP | STOP;
    t[b',' as usize] = SKIP | STOP;
    t[b'#' as usize] = STOP;
    t[b'"' as usize] = STOP;
    t[0] = STOP;
    t
};

/// `next_token()`.
fn next_token<'l>(text: &'l str, pos: &mut usize) -> Option<RawToken<'l>> {
    let line = text.as_bytes();
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let rest = line.get(*pos..).unwrap_or_default();
    let mut i = *pos
        + rest
            .iter()
            .position(|&c| CLASS[usize::from(c)] & SKIP == 0)
            .unwrap_or(rest.len());
    // Most tokens end at the next blank, comma or '#'. Without a quote (and so
    // without a NUL, which logical lines never hold) the token is that run of
    // bytes, borrowed.
    let rest = line.get(i..).unwrap_or_default();
    let stop = rest
        .iter()
        .position(|&c| CLASS[usize::from(c)] & STOP != 0)
        .unwrap_or(rest.len());
    if !matches!(rest.get(stop), Some(b'"' | 0)) {
        let end = i + stop;
        // Cut at ASCII bytes, so on character boundaries.
        let run = text.get(i..end).unwrap_or_default();
        // `end` holds a blank, a comma, '#' or nothing: the token ends there.
        let (next, terminating_comma) = after_token(line, end).unwrap_or((end, false));
        *pos = next;
        return (!run.is_empty()).then_some(RawToken {
            text: Cow::Borrowed(run),
            initial_quote: false,
            terminating_comma,
        });
    }
    // A token quoted whole, `"db 12"`, ending at a delimiter: its text is the inside,
    // borrowed.
    if stop == 0 && rest.first() == Some(&b'"') {
        if let Some(close) = memchr::memchr(b'"', rest.get(1..).unwrap_or_default()) {
            let after = i + close + 2;
            // Not when a doubled quote or more text follows the closing quote.
            if let Some((next, terminating_comma)) = after_token(line, after) {
                *pos = next;
                return Some(RawToken {
                    text: Cow::Borrowed(text.get(i + 1..after - 1).unwrap_or_default()),
                    initial_quote: true,
                    terminating_comma,
                });
            }
        }
    }
    // Anything else is built byte by byte (capacity bounded: a long line may hold many).
    let mut buf: Vec<u8> = Vec::with_capacity(rest.len().min(64));
    let mut in_quote = false;
    let mut was_quote = false;
    let mut saw_quote = false;
    let mut initial_quote = false;
    let mut terminating_comma = false;
    loop {
        let c = at(i);
        if c == 0 || (is_blank(c) && !in_quote) {
            break;
        }
        if c == b'#' && !in_quote {
            i = line.len();
            break;
        }
        // Older minor releases stopped at 255 bytes ("authentication file token too
        // long"); current releases of every supported branch have no limit.
        if c == b',' && !in_quote {
            terminating_comma = true;
            break;
        }
        if c != b'"' || was_quote {
            buf.push(c);
        }
        if in_quote && c == b'"' {
            was_quote = !was_quote;
        } else {
            was_quote = false;
        }
        if c == b'"' {
            in_quote = !in_quote;
            saw_quote = true;
            if buf.is_empty() {
                initial_quote = true;
            }
        }
        i += 1;
    }
    *pos = i;
    if saw_quote || !buf.is_empty() {
        Some(RawToken {
            text: Cow::Owned(utf8(buf)),
            initial_quote,
            terminating_comma,
        })
    } else {
        None
    }
}

/// For a token whose text may end at `end`: where the next token is looked for and
/// whether a comma ended this one (the list goes on), or None when the byte at `end`
/// continues the token. Outside quotes a blank or a comma ends a token, and `#` ends it
/// and the line.
fn after_token(line: &[u8], end: usize) -> Option<(usize, bool)> {
    match line.get(end) {
        None | Some(b'#') => Some((line.len(), false)),
        Some(b',') => Some((end, true)),
        Some(&c) if is_blank(c) => Some((end, false)),
        Some(_) => None,
    }
}

/// `pg_isblank()`.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r'
}

/// Splits text into logical lines as `tokenize_auth_file()` reads them: a physical
/// line ends at `\n`; trailing `\r`/`\n` are stripped; a line ending in a backslash
/// continues on the next one. Yields (number of the first physical line, bytes).
pub(crate) fn logical_lines(text: &str) -> LogicalLines<'_> {
    LogicalLines {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line_number: 1,
    }
}

/// The iterator of [`logical_lines`].
pub(crate) struct LogicalLines<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    line_number: usize,
}

impl<'t> Iterator for LogicalLines<'t> {
    type Item = (usize, Cow<'t, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        while self.pos < bytes.len() {
            let pos = self.pos;
            let line_number = self.line_number;
            // The common case, one physical line without NUL or continuation, is borrowed.
            // (A NUL byte before the newline takes the slow path.)
            let plain_end = match memchr::memchr2(b'\n', 0, &bytes[pos..]).map(|i| pos + i) {
                Some(i) if bytes[i] == 0 => None,
                Some(i) => Some(i + 1),
                None => Some(bytes.len()),
            };
            if let Some(end) = plain_end {
                let seg = &bytes[pos..end];
                let mut n = seg.len();
                while n > 0 && matches!(seg[n - 1], b'\n' | b'\r') {
                    n -= 1;
                }
                if n == 0 || seg[n - 1] != b'\\' {
                    self.pos = end;
                    self.line_number += 1;
                    // Cut before `\r`/`\n`, so on a character boundary.
                    let line = self.text.get(pos..pos + n).unwrap_or_default();
                    return Some((line_number, Cow::Borrowed(line)));
                }
            }
            let (buf, continuations, got_any) = self.continued_line();
            self.line_number += continuations + 1;
            if got_any {
                return Some((line_number, Cow::Owned(utf8(buf))));
            }
        }
        None
    }
}

impl LogicalLines<'_> {
    /// Reads a line with continuations or NUL bytes the way the server does; returns
    /// the bytes, the number of continuations, and whether a line was read at all.
    fn continued_line(&mut self) -> (Vec<u8>, usize, bool) {
        let bytes = self.bytes;
        let mut buf: Vec<u8> = Vec::new();
        let mut last_backslash_buflen = 0usize;
        let mut continuations = 0usize;
        let mut got_any = false;
        loop {
            // pg_get_line_append(): read up to and including a newline. A NUL byte
            // hides the rest of the physical line from strlen(), newline included, so
            // the next physical line is appended to this one.
            let mut got_line = false;
            while self.pos < bytes.len() {
                let end = match memchr::memchr(b'\n', &bytes[self.pos..]) {
                    Some(i) => self.pos + i + 1,
                    None => bytes.len(),
                };
                let seg = &bytes[self.pos..end];
                self.pos = end;
                got_line = true;
                match seg.iter().position(|&b| b == 0) {
                    Some(nul) => buf.extend_from_slice(&seg[..nul]),
                    None => {
                        buf.extend_from_slice(seg);
                        break;
                    }
                }
            }
            if !got_line {
                break;
            }
            got_any = true;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            if buf.len() > last_backslash_buflen && buf.last() == Some(&b'\\') {
                buf.pop();
                last_backslash_buflen = buf.len();
                continuations += 1;
                continue;
            }
            break;
        }
        (buf, continuations, got_any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryLoader;

    /// A line as the sink saw it, kept.
    struct Line {
        file: String,
        line_number: usize,
        fields: Vec<Vec<Token<'static>>>,
        err: Option<String>,
        detail: Option<String>,
    }

    fn collect(mut tokenizer: Tokenizer<'_>, file: &str, text: &str) -> Vec<Line> {
        let mut out = Vec::new();
        tokenizer.tokenize_top(file, text, &mut |l: TokLine<'_, '_>| {
            out.push(Line {
                file: l.file.to_string(),
                line_number: l.line_number,
                fields: l
                    .fields()
                    .map(|f| f.iter().map(Token::to_owned_token).collect())
                    .collect(),
                err: l.err.as_ref().map(|e| e.msg.clone()),
                detail: l.err.and_then(|e| e.detail),
            });
        });
        out
    }

    fn tok(text: &str, major: u32) -> Vec<Line> {
        let loader = MemoryLoader::new();
        collect(
            Tokenizer::new(&loader, major, InputLimits::default()),
            "/d/pg_hba.conf",
            text,
        )
    }

    fn texts(line: &Line) -> Vec<Vec<String>> {
        line.fields
            .iter()
            .map(|f| f.iter().map(|t| t.text.to_string()).collect())
            .collect()
    }

    fn ll(text: &str) -> Vec<(usize, Vec<u8>)> {
        logical_lines(text)
            .map(|(n, l)| (n, l.into_owned().into_bytes()))
            .collect()
    }

    #[test]
    fn logical_lines_handle_continuation_and_crlf() {
        let l = ll("a\\\nb\r\nc\n\nd");
        assert_eq!(
            l,
            vec![
                (1, b"ab".to_vec()),
                (3, b"c".to_vec()),
                (4, b"".to_vec()),
                (5, b"d".to_vec())
            ]
        );
        // two backslashes at the end: the second line's backslash is after the first
        let l = ll("a\\\n\\\nb\n");
        assert_eq!(l, vec![(1, b"ab".to_vec())]);
        // a continuation at EOF still yields the line
        let l = ll("a\\\n");
        assert_eq!(l, vec![(1, b"a".to_vec())]);
    }

    #[test]
    fn comment_ending_in_backslash_swallows_next_line() {
        let lines = tok(
            "# comment \\\nhost all all all trust\nlocal all all trust\n",
            15,
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line_number, 3);
    }

    #[test]
    fn comma_lists_and_quotes() {
        let lines = tok("host a,\"b c\", d all 1.2.3.4/32 md5 # x\n", 15);
        assert_eq!(
            texts(&lines[0]),
            vec![
                vec!["host"],
                vec!["a", "b c", "d"],
                vec!["all"],
                vec!["1.2.3.4/32"],
                vec!["md5"]
            ]
        );
        assert!(lines[0].fields[1][1].quoted);
        assert!(!lines[0].fields[1][0].quoted);
    }

    #[test]
    fn doubled_quotes_and_partial_quotes() {
        let lines = tok("host \"a\"\"b\" al\"l\" \"\" x\n", 15);
        let f = &lines[0].fields;
        assert_eq!(f[1][0].text, "a\"b");
        assert!(f[1][0].quoted);
        assert_eq!(f[2][0].text, "all");
        assert!(
            !f[2][0].quoted,
            "a quote after the first character is not initial"
        );
        assert_eq!(f[3][0].text, "");
        assert!(f[3][0].quoted);
    }

    #[test]
    fn quoted_tokens_end_where_the_server_ends_them() {
        // (text, quoted) per field, for tokens quoted whole (borrowed) and not.
        type Fields = Vec<Vec<(&'static str, bool)>>;
        let cases: [(&str, Fields); 7] = [
            ("\"a b\" x", vec![vec![("a b", true)], vec![("x", false)]]),
            (
                "\"a\",b x",
                vec![vec![("a", true), ("b", false)], vec![("x", false)]],
            ),
            ("\"a\"#c x", vec![vec![("a", true)]]),
            ("\"\" x", vec![vec![("", true)], vec![("x", false)]]),
            (
                "\"a\"\"b\" x",
                vec![vec![("a\"b", true)], vec![("x", false)]],
            ),
            ("\"a\"b x", vec![vec![("ab", true)], vec![("x", false)]]),
            ("\"a b", vec![vec![("a b", true)]]),
        ];
        for (line, want) in cases {
            let lines = tok(&format!("{line}\n"), 15);
            let got: Vec<Vec<(&str, bool)>> = lines[0]
                .fields
                .iter()
                .map(|f| f.iter().map(|t| (t.text.as_ref(), t.quoted)).collect())
                .collect();
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn comment_and_comma_right_after_a_token() {
        let lines = tok("host a,b#c d\nlocal x,\"y\"z,w all#\n", 15);
        assert_eq!(texts(&lines[0]), vec![vec!["host"], vec!["a", "b"]]);
        assert_eq!(
            texts(&lines[1]),
            vec![vec!["local"], vec!["x", "yz", "w"], vec!["all"]]
        );
        assert!(lines[1].fields[1][1].quoted);
    }

    #[test]
    fn space_before_comma_ends_field() {
        let lines = tok("host a ,b c\n", 15);
        assert_eq!(
            texts(&lines[0]),
            vec![vec!["host"], vec!["a"], vec!["b"], vec!["c"]]
        );
    }

    #[test]
    fn long_tokens_are_kept_whole() {
        let long = "x".repeat(100_000);
        let lines = tok(&format!("host {long} all all trust\n"), 15);
        assert!(lines[0].err.is_none());
        assert_eq!(lines[0].fields[1][0].text.len(), 100_000);
    }

    #[test]
    fn at_file_expansion_relative_to_including_file() {
        let loader = MemoryLoader::new()
            .with_file("/d/sub/users", "alice, bob\n# c\ncarol\n")
            .with_file("/d/sub/inner", "@users\n");
        let lines = collect(
            Tokenizer::new(&loader, 15, InputLimits::default()),
            "/d/pg_hba.conf",
            "host all @sub/inner,dave all md5\n",
        );
        assert_eq!(lines[0].err, None);
        assert_eq!(texts(&lines[0])[2], vec!["alice", "bob", "carol", "dave"]);
    }

    #[test]
    fn missing_at_file_messages_by_version() {
        let lines = tok("host all @nope all md5\n", 15);
        assert_eq!(
            lines[0].err.as_deref(),
            Some("could not open secondary authentication file \"@nope\" as \"/d/nope\": No such file or directory")
        );
        let lines = tok("host all @nope all md5\n", 16);
        assert_eq!(
            lines[0].err.as_deref(),
            Some("could not open file \"/d/nope\": No such file or directory")
        );
    }

    #[test]
    fn quoted_at_is_a_name() {
        let lines = tok("host all \"@x\" all md5\n", 15);
        assert_eq!(lines[0].err, None);
        assert_eq!(lines[0].fields[2][0].text, "@x");
        let lines = tok("host all @ all md5\n", 15);
        assert_eq!(lines[0].fields[2][0].text, "@");
    }

    #[test]
    fn at_cycle_is_an_error_naming_the_cycle() {
        let loader = MemoryLoader::new()
            .with_file("/d/a", "@b\n")
            .with_file("/d/b", "x, @a\n");
        let lines = collect(
            Tokenizer::new(&loader, 16, InputLimits::default()),
            "/d/pg_hba.conf",
            "host all @a all md5\n",
        );
        let err = lines[0].err.as_deref().unwrap();
        assert!(err.contains("maximum nesting depth exceeded"), "{err}");
        let detail = lines[0].detail.as_deref().unwrap();
        assert_eq!(detail, "/d/a -> /d/b -> /d/a");
    }

    #[test]
    fn include_records_16() {
        let loader = MemoryLoader::new()
            .with_file(
                "/d/more.conf",
                "local all all peer\n\nhost all all all md5\n",
            )
            .with_file("/d/conf.d/b.conf", "local b all trust\n")
            .with_file("/d/conf.d/a.conf", "local a all trust\n")
            .with_file("/d/conf.d/.hidden.conf", "local h all trust\n")
            .with_file("/d/conf.d/c.txt", "local c all trust\n");
        let text = "include more.conf\ninclude_if_exists nope.conf\ninclude_dir conf.d\ninclude missing.conf\n";
        let lines = collect(
            Tokenizer::new(&loader, 16, InputLimits::default()),
            "/d/pg_hba.conf",
            text,
        );
        let summary: Vec<(String, usize)> = lines
            .iter()
            .map(|l| (l.file.clone(), l.line_number))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/d/more.conf".to_owned(), 1),
                ("/d/more.conf".to_owned(), 3),
                ("/d/conf.d/a.conf".to_owned(), 1),
                ("/d/conf.d/b.conf".to_owned(), 1),
                ("/d/pg_hba.conf".to_owned(), 4),
            ]
        );
        assert_eq!(
            lines[4].err.as_deref(),
            Some("could not open file \"/d/missing.conf\": No such file or directory")
        );
        // before 16 an include line is just a line
        let lines = collect(
            Tokenizer::new(&loader, 15, InputLimits::default()),
            "/d/pg_hba.conf",
            text,
        );
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.err.is_none()));
    }

    #[test]
    fn include_dir_errors() {
        let lines = tok("include_dir \"\"\ninclude_dir nodir\n", 16);
        assert_eq!(
            lines[0].err.as_deref(),
            Some("empty configuration directory name")
        );
        assert_eq!(
            lines[1].err.as_deref(),
            Some("could not open directory \"/d/nodir\"")
        );
    }

    #[test]
    fn fan_out_is_bounded() {
        // each file names the next one three times: 3^10 expansions without a budget
        let mut loader = MemoryLoader::new();
        for i in 0..12 {
            loader = loader.with_file(
                format!("/d/f{i}"),
                format!("@f{n}, @f{n}, @f{n}\n", n = i + 1),
            );
        }
        let lines = collect(
            Tokenizer::new(&loader, 15, InputLimits::default()),
            "/d/pg_hba.conf",
            "host all @f0 all md5\n",
        );
        assert!(lines[0].err.is_some());
    }
}
