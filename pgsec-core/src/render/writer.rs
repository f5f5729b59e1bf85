//! A streaming writer of pretty-printed JSON, byte for byte what
//! `serde_json::to_string_pretty` writes for the same document (two-space indent, `": "`
//! after keys, `[]` and `{}` when empty, serde_json's string escapes).
//!
//! The JSON and SARIF reports are written with it one finding at a time. It exists for
//! speed: a SARIF log is mostly keys and indentation, and writing them as constant
//! bytes instead of through a general serializer keeps SARIF within reach of the text
//! report on a large report. The renderers' tests check the output against
//! `serde_json` on arbitrary reports.

use std::io;

/// A comma, a line break and the indentation of the first 63 levels.
const COMMA_NEWLINE_INDENT: &[u8; 128] = &{
    let mut b = [b' '; 128];
    b[0] = b',';
    b[1] = b'\n';
    b
};

/// Lower-case hex digits, as serde_json writes `\u00XX` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Pretty-printed JSON into a buffer that goes out to `out` in large writes.
pub(super) struct JsonWriter<W: io::Write> {
    out: W,
    buf: Vec<u8>,
    depth: usize,
    /// Nothing written yet in the innermost open array or object.
    first: bool,
}

impl<W: io::Write> JsonWriter<W> {
    pub(super) fn new(out: W) -> Self {
        JsonWriter {
            out,
            buf: Vec::with_capacity(super::BUFFER + super::BUFFER / 4),
            depth: 0,
            first: true,
        }
    }

    /// Hands what is buffered to the output once there is a buffer's worth (call it
    /// between values, e.g. after each finding).
    pub(super) fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= super::BUFFER {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Ends the document with a newline and flushes everything to the output.
    pub(super) fn finish(mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }

    /// `,` unless first in its container, a line break and the indentation.
    #[inline]
    fn line(&mut self, comma: bool) {
        let end = 2 + 2 * self.depth;
        let from = usize::from(!comma);
        match COMMA_NEWLINE_INDENT.get(from..end) {
            Some(line) => self.buf.extend_from_slice(line),
            None => {
                self.buf
                    .extend_from_slice(if comma { b",\n" } else { b"\n" });
                for _ in 0..self.depth {
                    self.buf.extend_from_slice(b"  ");
                }
            }
        }
    }

    #[inline]
    fn open(&mut self, bracket: u8) {
        self.buf.push(bracket);
        self.depth += 1;
        self.first = true;
    }

    #[inline]
    fn close(&mut self, bracket: u8) {
        self.depth = self.depth.saturating_sub(1);
        if !self.first {
            self.line(false);
        }
        self.buf.push(bracket);
        self.first = false;
    }

    /// `{`
    #[inline]
    pub(super) fn begin_object(&mut self) {
        self.open(b'{');
    }

    /// `}`
    #[inline]
    pub(super) fn end_object(&mut self) {
        self.close(b'}');
    }

    /// `[`
    #[inline]
    pub(super) fn begin_array(&mut self) {
        self.open(b'[');
    }

    /// `]`
    #[inline]
    pub(super) fn end_array(&mut self) {
        self.close(b']');
    }

    /// What goes before an array element.
    #[inline]
    pub(super) fn element(&mut self) {
        let comma = !self.first;
        self.line(comma);
        self.first = false;
    }

    /// An object key. Keys are the renderers' own constants: plain ASCII that needs no
    /// escaping (checked in debug builds).
    #[inline]
    pub(super) fn key(&mut self, key: &'static str) {
        debug_assert!(key.bytes().all(|b| needs_escape(b).is_none()), "{key}");
        self.element();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\": ");
    }

    /// A string value.
    #[inline]
    pub(super) fn string(&mut self, value: &str) {
        self.string_of(&[value]);
    }

    /// One string value made of `parts`, each escaped.
    pub(super) fn string_of(&mut self, parts: &[&str]) {
        self.buf.push(b'"');
        for part in parts {
            escape_into(&mut self.buf, part);
        }
        self.buf.push(b'"');
    }

    /// A string value written by `write`, which must only append bytes that need no
    /// escaping in a JSON string (checked in debug builds).
    pub(super) fn plain_string(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.buf.push(b'"');
        let start = self.buf.len();
        write(&mut self.buf);
        debug_assert!(self.buf[start..].iter().all(|b| needs_escape(*b).is_none()));
        self.buf.push(b'"');
    }

    /// An unsigned number.
    pub(super) fn number(&mut self, n: usize) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// `true` or `false`.
    pub(super) fn bool(&mut self, b: bool) {
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
    }

    /// `"key": "value"`.
    #[inline]
    pub(super) fn field(&mut self, key: &'static str, value: &str) {
        self.key(key);
        self.string(value);
    }
}

/// The escape serde_json writes for `b` inside a string: `None` for bytes written as
/// they are (everything but `"`, `\` and the C0 controls).
#[inline]
fn needs_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        0x08 => Some(b"\\b"),
        0x09 => Some(b"\\t"),
        0x0a => Some(b"\\n"),
        0x0c => Some(b"\\f"),
        0x0d => Some(b"\\r"),
        0x00..=0x1f => Some(b"\\u00"),
        _ => None,
    }
}

/// Appends `s` escaped as the inside of a JSON string.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // `bytes[start..i]` is written as it is once an escape (or the end) is reached.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time past text that needs no escape (most of it).
        if let Some(word) = bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            if !word_needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        if let Some(escape) = bytes.get(i).and_then(|b| needs_escape(*b).map(|e| (*b, e))) {
            let (b, escape) = escape;
            buf.extend_from_slice(bytes.get(start..i).unwrap_or_default());
            buf.extend_from_slice(escape);
            if escape == b"\\u00" {
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
            start = i + 1;
        }
        i += 1;
    }
    buf.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// Whether any of the eight bytes of `word` is a C0 control, `"` or `\` (bit tricks
/// from "Bit Twiddling Hacks": a byte below `n`, a byte equal to zero).
#[inline]
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS != 0;
    below(word, 0x20)
        || below(word ^ (ONES * u64::from(b'"')), 1)
        || below(word ^ (ONES * u64::from(b'\\')), 1)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn written(write: impl FnOnce(&mut JsonWriter<&mut Vec<u8>>)) -> String {
        let mut out = Vec::new();
        let mut w = JsonWriter::new(&mut out);
        write(&mut w);
        w.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    fn pretty(v: &Value) -> String {
        serde_json::to_string_pretty(v).unwrap() + "\n"
    }

    /// Writes `v` with the writer (keys as the Value holds them).
    fn write_value(w: &mut JsonWriter<&mut Vec<u8>>, v: &Value) {
        match v {
            Value::Null => w.buf.extend_from_slice(b"null"),
            Value::Bool(b) => w.bool(*b),
            Value::Number(n) => w.number(n.as_u64().unwrap() as usize),
            Value::String(s) => w.string(s),
            Value::Array(items) => {
                w.begin_array();
                for item in items {
                    w.element();
                    write_value(w, item);
                }
                w.end_array();
            }
            Value::Object(map) => {
                w.begin_object();
                for (k, item) in map {
                    // Test keys are leaked: the writer takes constants.
                    w.key(Box::leak(k.clone().into_boxed_str()));
                    write_value(w, item);
                }
                w.end_object();
            }
        }
    }

    #[test]
    fn every_escape_is_serde_jsons() {
        let all: String = (0u32..0x100)
            .chain([0x2028, 0x202e, 0xfeff, 0xffff, 0x1_f4a9, 0x10_ffff])
            .filter_map(char::from_u32)
            .collect();
        let doc = json!({ "a": all, "b": [all, "", "\"\\"], "c": 0 });
        assert_eq!(written(|w| write_value(w, &doc)), pretty(&doc));
        let parts = written(|w| w.string_of(&["\u{1}\"", "", "\\x\n"]));
        assert_eq!(parts, pretty(&json!("\u{1}\"\\x\n")));
    }

    #[test]
    fn escapes_at_every_offset_of_a_word() {
        for len in 0..24 {
            for at in 0..len {
                for special in ['"', '\\', '\u{0}', '\u{1f}', '\n', '\u{7f}', 'é', ' '] {
                    let mut text: String = "abcdefghijklmnopqrstuvwx"[..len].to_owned();
                    text.replace_range(at..=at, &special.to_string());
                    let mut buf = Vec::new();
                    escape_into(&mut buf, &text);
                    let expected = serde_json::to_string(&text).unwrap();
                    assert_eq!(
                        String::from_utf8(buf).unwrap(),
                        expected[1..expected.len() - 1],
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn nesting_empties_and_numbers_are_serde_jsons() {
        let mut doc = json!([[], {}, [{}], {"e": []}, 0, usize::MAX, true, false]);
        for depth in 0..80 {
            doc = json!({ "k": [depth, doc, {}], "l": [] });
            if depth % 7 == 0 || depth > 60 {
                assert_eq!(written(|w| write_value(w, &doc)), pretty(&doc), "{depth}");
            }
        }
        assert_eq!(written(|w| write_value(w, &json!([]))), "[]\n");
        assert_eq!(written(|w| write_value(w, &json!({}))), "{}\n");
    }

    /// Accepts `left` bytes, then fails.
    struct FailAfter(usize);

    impl io::Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_errors_come_back() {
        let mut w = JsonWriter::new(FailAfter(10));
        w.begin_array();
        for _ in 0..super::super::BUFFER {
            w.element();
            w.string("0123456789");
        }
        assert_eq!(w.spill().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
