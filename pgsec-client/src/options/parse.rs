//! libpq's two connection-string syntaxes, turned into `(key, value)` pairs.
//!
//! Errors never quote a value: a malformed string may well contain a password.

use crate::error::{Error, Result};

pub(crate) fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// `key = value` pairs separated by whitespace; values unquoted (`\` escapes the next
/// character) or single-quoted (`\` escapes `'` and `\`), as libpq's conninfo_parse.
pub(crate) fn parse_keyword_value(s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::syntax(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(Error::syntax(format!(
                            "unterminated quoted string in the value of \"{key}\""
                        )))
                    }
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        value.push(next);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(Error::syntax("empty key before \"=\""));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// `postgres[ql]://[user[:password]@][host[:port][,...]][/dbname][?key=value[&...]]`,
/// as libpq's conninfo_uri_parse_options.
pub(crate) fn parse_url(s: &str) -> Result<Vec<(String, String)>> {
    let rest = s
        .strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
        .ok_or_else(|| Error::syntax("URL must start with postgresql:// or postgres://"))?;
    let mut out = Vec::new();

    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    // libpq looks for '@' before the first '/'.
    let authority_end = main.find('/').unwrap_or(main.len());
    let (authority, path) = main.split_at(authority_end);
    let hostspec = match authority.find('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    if !u.is_empty() {
                        out.push(("user".into(), decode(u, "user name")?));
                    }
                    out.push(("password".into(), decode(p, "password")?));
                }
                None if !userinfo.is_empty() => {
                    out.push(("user".into(), decode(userinfo, "user name")?));
                }
                None => {}
            }
            &authority[at + 1..]
        }
        None => authority,
    };

    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for entry in hostspec.split(',') {
            let (host, port) = if let Some(v6) = entry.strip_prefix('[') {
                let end = v6.find(']').ok_or_else(|| {
                    Error::syntax("missing \"]\" after an IPv6 host address in URL")
                })?;
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
                (v6[..end].to_string(), port)
            } else {
                match entry.split_once(':') {
                    Some((h, p)) => (decode(h, "host")?, p),
                    None => (decode(entry, "host")?, ""),
                }
            };
            hosts.push(host);
            ports.push(decode(port, "port")?);
        }
        out.push(("host".into(), hosts.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            out.push(("port".into(), ports.join(",")));
        }
    }

    if let Some(db) = path.strip_prefix('/') {
        if !db.is_empty() {
            out.push(("dbname".into(), decode(db, "database name")?));
        }
    }

    if let Some(query) = query {
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = param
                .split_once('=')
                .ok_or_else(|| Error::syntax("missing \"=\" in a URL query parameter"))?;
            let key = decode(k, "parameter name")?;
            let value = decode(v, "parameter value")?;
            out.push((key, value));
        }
    }
    Ok(out)
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
