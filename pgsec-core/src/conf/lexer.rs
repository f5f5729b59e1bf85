//! The scanner of the server's `guc-file.l`, as flex runs it: longest match wins,
//! ties go to the earlier rule.
//!
//! ```text
//! \n                 EOL             [ \t\r]+   (skip)        #.*   (skip)
//! {ID}               ID              {LETTER}{LETTER_OR_DIGIT}*
//! {QUALIFIED_ID}     QUALIFIED_ID    {ID}"."{ID}
//! {STRING}           STRING          \'([^'\\\n]|\\.|\'\')*\'
//! {UNQUOTED_STRING}  UNQUOTED_STRING {LETTER}({LETTER_OR_DIGIT}|[-._:/])*
//! {INTEGER}          INTEGER         {SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*
//! {REAL}             REAL            {SIGN}?{DIGIT}*"."{DIGIT}*{EXPONENT}?
//! =                  EQUALS          .   ERROR
//! ```

/// Token kinds of `guc-file.l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Eof,
    Eol,
    Id,
    QualifiedId,
    String,
    UnquotedString,
    Integer,
    Real,
    Equals,
    Error,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// Text of the last token.
    pub(crate) text: &'a [u8],
}

fn is_letter(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_letter_or_digit(c: u8) -> bool {
    is_letter(c) || c.is_ascii_digit()
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            text: &[],
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    pub(crate) fn next(&mut self) -> Tok {
        loop {
            let Some(c) = self.at(self.pos) else {
                self.text = &[];
                return Tok::Eof;
            };
            if c == b'\n' {
                self.text = &self.src[self.pos..self.pos + 1];
                self.pos += 1;
                return Tok::Eol;
            }
            if matches!(c, b' ' | b'\t' | b'\r') {
                self.pos += 1;
                continue;
            }
            if c == b'#' {
                while self.at(self.pos).is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let start = self.pos;
        let candidates = [
            (Tok::Id, self.match_id(start)),
            (Tok::QualifiedId, self.match_qualified_id(start)),
            (Tok::String, self.match_string(start)),
            (Tok::UnquotedString, self.match_unquoted(start)),
            (Tok::Integer, self.match_integer(start)),
            (Tok::Real, self.match_real(start)),
            (Tok::Equals, (self.at(start) == Some(b'=')).then_some(1)),
        ];
        let mut best = (Tok::Error, 1usize);
        for (tok, len) in candidates {
            if let Some(len) = len {
                if len > 0 && len > best.1 || (len == best.1 && best.0 == Tok::Error && len > 0) {
                    best = (tok, len);
                }
            }
        }
        // `.` matches one byte (never a newline, handled above).
        self.pos = start + best.1;
        self.text = &self.src[start..self.pos];
        best.0
    }

    fn run(&self, mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
        while self.at(i).is_some_and(&pred) {
            i += 1;
        }
        i
    }

    fn match_id(&self, s: usize) -> Option<usize> {
        if !self.at(s).is_some_and(is_letter) {
            return None;
        }
        Some(self.run(s + 1, is_letter_or_digit) - s)
    }

    fn match_qualified_id(&self, s: usize) -> Option<usize> {
        let first = self.match_id(s)?;
        let dot = s + first;
        if self.at(dot) != Some(b'.') {
            return None;
        }
        let second = self.match_id(dot + 1)?;
        Some(first + 1 + second)
    }

    fn match_string(&self, s: usize) -> Option<usize> {
        if self.at(s) != Some(b'\'') {
            return None;
        }
        let mut i = s + 1;
        let mut best = None;
        loop {
            match self.at(i) {
                None | Some(b'\n') => break,
                Some(b'\'') => {
                    best = Some(i + 1 - s);
                    if self.at(i + 1) == Some(b'\'') {
                        i += 2;
                    } else {
                        break;
                    }
                }
                Some(b'\\') => match self.at(i + 1) {
                    None | Some(b'\n') => break,
                    Some(_) => i += 2,
                },
                Some(_) => i += 1,
            }
        }
        best
    }

    fn match_unquoted(&self, s: usize) -> Option<usize> {
        if !self.at(s).is_some_and(is_letter) {
            return None;
        }
        Some(
            self.run(s + 1, |c| {
                is_letter_or_digit(c) || matches!(c, b'-' | b'.' | b'_' | b':' | b'/')
            }) - s,
        )
    }

    fn match_integer(&self, s: usize) -> Option<usize> {
        let mut i = s;
        if matches!(self.at(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let mut best: Option<usize> = None;
        // {DIGIT}+
        let d_end = self.run(i, |c| c.is_ascii_digit());
        if d_end > i {
            best = Some(self.run(d_end, |c| c.is_ascii_alphabetic()));
        }
        // 0x{HEXDIGIT}+
        if self.at(i) == Some(b'0') && self.at(i + 1) == Some(b'x') {
            let h_end = self.run(i + 2, |c| c.is_ascii_hexdigit());
            if h_end > i + 2 {
                let end = self.run(h_end, |c| c.is_ascii_alphabetic());
                best = Some(best.map_or(end, |b| b.max(end)));
            }
        }
        best.map(|e| e - s)
    }

    fn match_real(&self, s: usize) -> Option<usize> {
        let mut i = s;
        if matches!(self.at(i), Some(b'-' | b'+')) {
            i += 1;
        }
        i = self.run(i, |c| c.is_ascii_digit());
        if self.at(i) != Some(b'.') {
            return None;
        }
        i = self.run(i + 1, |c| c.is_ascii_digit());
        if matches!(self.at(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some(b'-' | b'+')) {
                j += 1;
            }
            let k = self.run(j, |c| c.is_ascii_digit());
            if k > j {
                i = k;
            }
        }
        Some(i - s)
    }
}

/// `DeescapeQuotedString()`: strips the quotes, `''` becomes `'`, backslash escapes
/// `\b \f \n \r \t`, octal `\ooo`, anything else stands for itself. The result is a C
/// string: it ends at a NUL written as `\0`.
pub(crate) fn deescape_quoted(s: &[u8]) -> Vec<u8> {
    let inner = &s[1..s.len().saturating_sub(1).max(1)];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == b'\\' {
            i += 1;
            let Some(&e) = inner.get(i) else {
                break;
            };
            match e {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'0'..=b'7' => {
                    let mut v: u32 = 0;
                    let mut k = 0;
                    while k < 3 && inner.get(i + k).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                        v = (v << 3) + u32::from(inner[i + k] - b'0');
                        k += 1;
                    }
                    i += k - 1;
                    out.push((v & 0xff) as u8);
                }
                other => out.push(other),
            }
        } else if c == b'\'' && inner.get(i + 1) == Some(&b'\'') {
            out.push(b'\'');
            i += 1;
        } else {
            out.push(c);
        }
        i += 1;
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, String)> {
        let mut l = Lexer::new(s.as_bytes());
        let mut out = Vec::new();
        loop {
            let t = l.next();
            if t == Tok::Eof {
                break;
            }
            out.push((t, String::from_utf8_lossy(l.text).into_owned()));
        }
        out
    }

    #[test]
    fn longest_match_and_rule_order() {
        use Tok::*;
        let t = |s: &str| toks(s).into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(t("abc"), vec![Id]);
        assert_eq!(t("a.b"), vec![QualifiedId]);
        assert_eq!(t("a.b.c"), vec![UnquotedString]);
        assert_eq!(t("a-b"), vec![UnquotedString]);
        assert_eq!(t("/tmp"), vec![Error, Id]);
        assert_eq!(t("5min"), vec![Integer]);
        assert_eq!(t("0x1F"), vec![Integer]);
        assert_eq!(t("0xZZ"), vec![Integer]);
        assert_eq!(t("1.5"), vec![Real]);
        assert_eq!(t("1.5GB"), vec![Real, Id]);
        assert_eq!(t("1e5"), vec![Integer, Integer]);
        assert_eq!(t("1.e5"), vec![Real]);
        assert_eq!(t("."), vec![Real]);
        assert_eq!(t("-"), vec![Error]);
        assert_eq!(t("-5"), vec![Integer]);
        assert_eq!(t("= # c\n"), vec![Equals, Eol]);
        assert_eq!(t("'a''b'"), vec![String]);
        assert_eq!(t("'a\\'b'"), vec![String]);
        assert_eq!(t("'abc"), vec![Error, Id]);
        assert_eq!(t("'ab''"), vec![String, Error]);
    }

    #[test]
    fn deescape() {
        let d = |s: &str| String::from_utf8_lossy(&deescape_quoted(s.as_bytes())).into_owned();
        assert_eq!(d("'a''b'"), "a'b");
        assert_eq!(d("'a\\'b'"), "a'b");
        assert_eq!(d("'\\n\\t\\x'"), "\n\tx");
        assert_eq!(d("'\\101\\60'"), "A0");
        assert_eq!(d("'ab\\0cd'"), "ab");
        assert_eq!(d("''"), "");
    }
}
