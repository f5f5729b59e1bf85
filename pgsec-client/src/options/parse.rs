//! libpq's two connection-string syntaxes, turned into `(key, value)` pairs.
//!
//! Errors never quote a value or an unknown word: a malformed string may well hold a
//! password where a key was expected. They name a key only when it is a known option,
//! and otherwise say where (the 1-based character position).

use super::known_key;
use crate::error::{Error, Result};

/// One `key=value` of a connection string.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) key: String,
    pub(crate) value: String,
    /// Where the key starts (1-based, in characters).
    pub(crate) position: usize,
}

pub(crate) fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// How an error names the key at `position`: by name when it is a known option.
fn key_at(key: &str, position: usize) -> String {
    match known_key(key) {
        Some(k) => format!("{k} (position {position})"),
        None => format!("the word at position {position}"),
    }
}

/// `key = value` pairs separated by whitespace; values unquoted (`\` escapes the next
/// character) or single-quoted (`\` escapes `'` and `\`), as libpq's conninfo_parse.
pub(crate) fn parse_keyword_value(s: &str) -> Result<Vec<Pair>> {
    let mut out = Vec::new();
    let mut chars = s.chars().zip(1usize..).peekable();
    let skip_blanks = |chars: &mut std::iter::Peekable<_>| {
        while chars
            .next_if(|&(c, _): &(char, usize)| c.is_ascii_whitespace())
            .is_some()
        {}
    };
    loop {
        skip_blanks(&mut chars);
        let Some(&(_, position)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((c, _)) = chars.next_if(|&(c, _)| c != '=' && !c.is_ascii_whitespace()) {
            key.push(c);
        }
        skip_blanks(&mut chars);
        if chars.next().map(|(c, _)| c) != Some('=') {
            return Err(Error::syntax(format!(
                "missing \"=\" after {}; write every option as key=value, and quote a value \
                 holding spaces as key='a b'",
                key_at(&key, position)
            )));
        }
        if key.is_empty() {
            return Err(Error::syntax(format!(
                "empty key before \"=\" at position {position}"
            )));
        }
        skip_blanks(&mut chars);
        let mut value = String::new();
        if chars.next_if(|&(c, _)| c == '\'').is_some() {
            loop {
                match chars.next().map(|(c, _)| c) {
                    None => {
                        return Err(Error::syntax(format!(
                            "unterminated quoted string in the value of {}",
                            key_at(&key, position)
                        )))
                    }
                    Some('\\') => {
                        if let Some((c, _)) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some((c, _)) = chars.next_if(|&(c, _)| !c.is_ascii_whitespace()) {
                if c == '\\' {
                    if let Some((next, _)) = chars.next() {
                        value.push(next);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push(Pair {
            key,
            value,
            position,
        });
    }
    Ok(out)
}

const ENCODE_HINT: &str = "percent-encode \"@\" in a user name or password as %40 (and \
                           \":\" as %3A, \"/\" as %2F, \"?\" as %3F)";

/// `postgres[ql]://[user[:password]@][host[:port][,...]][/dbname][?key=value[&...]]`,
/// as libpq's conninfo_uri_parse_options, except that an `@` libpq would take as part
/// of the host or database name is refused: it is almost always an unencoded `@`, `/`
/// or `?` of a password, and splitting there would send part of the password to the
/// network as a host name.
pub(crate) fn parse_url(s: &str) -> Result<Vec<Pair>> {
    let rest = strip_scheme(s)?;
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = split_authority(main)?;
    let mut out = Vec::new();
    let hostspec = push_userinfo(s, authority, &mut out)?;
    push_hosts(s, hostspec, &mut out)?;
    if let Some(db) = path.strip_prefix('/') {
        if !db.is_empty() {
            out.push(url_pair(s, "dbname", decode(db, "database name")?, db));
        }
    }
    if let Some(query) = query {
        push_query(s, query, &mut out)?;
    }
    Ok(out)
}

/// What follows `postgresql://` or `postgres://`; refuses any other start.
fn strip_scheme(s: &str) -> Result<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
        .ok_or_else(|| Error::syntax("URL must start with postgresql:// or postgres://"))
}

/// The part of `url` that `sub` (a slice of it) starts at: a 1-based character position.
fn position_in(url: &str, sub: &str) -> usize {
    let byte = sub.as_ptr() as usize - url.as_ptr() as usize;
    url[..byte].chars().count() + 1
}

/// A pair whose position is where `at` (a slice of `url`) starts.
fn url_pair(url: &str, key: &str, value: String, at: &str) -> Pair {
    Pair {
        key: key.into(),
        value,
        position: position_in(url, at),
    }
}

/// Splits the URL before its query into the authority (`user:password@hosts`) and the
/// path (`/dbname`) at the first `/`, where libpq looks for `@`. Refuses an `@` that
/// would make the end of the password ambiguous: a second one in the authority, or
/// one in the path.
fn split_authority(main: &str) -> Result<(&str, &str)> {
    let authority_end = main.find('/').unwrap_or(main.len());
    let (authority, path) = main.split_at(authority_end);
    if authority.matches('@').count() > 1 {
        return Err(Error::syntax(format!(
            "the URL has more than one \"@\" before the host, so it cannot be told where \
             the password ends and the host begins; {ENCODE_HINT}"
        )));
    }
    if path.contains('@') {
        return Err(Error::syntax(format!(
            "the URL has an \"@\" after the first \"/\": if the password contains \"/\", the \
             host would be taken from inside it; {ENCODE_HINT} (a database name with \"@\" \
             is written with %40 too)"
        )));
    }
    Ok((authority, path))
}

/// Pushes the user and password of `authority` (before its `@`, if any) and returns
/// what follows: the host list.
fn push_userinfo<'a>(url: &str, authority: &'a str, out: &mut Vec<Pair>) -> Result<&'a str> {
    let Some(at) = authority.find('@') else {
        return Ok(authority);
    };
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((u, p)) => {
            if !u.is_empty() {
                out.push(url_pair(url, "user", decode(u, "user name")?, u));
            }
            out.push(url_pair(url, "password", decode(p, "password")?, p));
        }
        None if !userinfo.is_empty() => {
            out.push(url_pair(
                url,
                "user",
                decode(userinfo, "user name")?,
                userinfo,
            ));
        }
        None => {}
    }
    Ok(&authority[at + 1..])
}

/// Pushes `host` (and `port`, when any entry names one) for a comma-separated list of
/// `host[:port]` and `[v6addr][:port]` entries; nothing for an empty list.
fn push_hosts(url: &str, hostspec: &str, out: &mut Vec<Pair>) -> Result<()> {
    if hostspec.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for entry in hostspec.split(',') {
        let (host, port) = split_host_entry(entry)?;
        hosts.push(host);
        ports.push(decode(port, "port")?);
    }
    out.push(url_pair(url, "host", hosts.join(","), hostspec));
    if ports.iter().any(|p| !p.is_empty()) {
        out.push(url_pair(url, "port", ports.join(","), hostspec));
    }
    Ok(())
}

/// One entry of the host list: the host (decoded; an IPv6 address is taken as written
/// between its brackets) and the port as written (empty when there is none).
fn split_host_entry(entry: &str) -> Result<(String, &str)> {
    let Some(v6) = entry.strip_prefix('[') else {
        return Ok(match entry.split_once(':') {
            Some((h, p)) => (decode(h, "host")?, p),
            None => (decode(entry, "host")?, ""),
        });
    };
    let end = v6
        .find(']')
        .ok_or_else(|| Error::syntax("missing \"]\" after an IPv6 host address in URL"))?;
    let after = &v6[end + 1..];
    let port = match after.strip_prefix(':') {
        Some(p) => p,
        None if after.is_empty() => "",
        None => {
            return Err(Error::syntax(
                "unexpected character after an IPv6 host address in URL",
            ))
        }
    };
    if v6[..end].is_empty() {
        return Err(Error::syntax("empty IPv6 host address in URL"));
    }
    Ok((v6[..end].to_string(), port))
}

/// Pushes the `key=value` parameters of the query (after `?`, separated by `&`; empty
/// ones skipped). Refuses a parameter without `=`, naming it by its number and
/// position only: it may be the rest of a password.
fn push_query(url: &str, query: &str, out: &mut Vec<Pair>) -> Result<()> {
    for (i, param) in query.split('&').enumerate() {
        if param.is_empty() {
            continue;
        }
        let (k, v) = param.split_once('=').ok_or_else(|| {
            Error::syntax(format!(
                "missing \"=\" in URL query parameter {} (position {}); if it is the rest \
                 of a password holding \"?\", percent-encode that as %3F",
                i + 1,
                position_in(url, param)
            ))
        })?;
        let key = decode(k, "parameter name")?;
        let value = decode(v, "parameter value")?;
        out.push(url_pair(url, &key, value, param));
    }
    Ok(())
}

/// Percent-decoding; `what` names the part in errors, whose value is never quoted.
fn decode(s: &str, what: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::syntax(format!("invalid percent-encoded token in the {what}"))
                    })?;
                if hex == 0 {
                    return Err(Error::syntax(format!(
                        "forbidden value %00 in percent-encoded {what}"
                    )));
                }
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::syntax(format!("the {what} is not UTF-8 after percent-decoding")))
}
