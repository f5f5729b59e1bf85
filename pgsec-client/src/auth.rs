//! libpq's `require_auth`: which authentication requests the client answers.
//!
//! tokio-postgres answers whatever the server asks for, so the check sits in the stream
//! it reads from ([`AuthWatch`]): the server's messages are parsed up to
//! AuthenticationOk, and a request that `require_auth` does not allow fails the read
//! before tokio-postgres has the whole message, so nothing (no password, no hash) is
//! sent in answer.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, Result};
use crate::tls::SessionSlot;

/// An authentication method a server can ask for, by its libpq `require_auth` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Clear-text password (`password`).
    Password,
    /// MD5 password hash (`md5`).
    Md5,
    /// SCRAM-SHA-256, with or without channel binding (`scram-sha-256`).
    ScramSha256,
    /// GSSAPI (`gss`).
    Gss,
    /// SSPI (`sspi`).
    Sspi,
    /// No authentication at all, e.g. `trust` in pg_hba.conf (`none`).
    None,
    /// OAuth bearer tokens (`oauth`, PostgreSQL 18): a SASL request offering
    /// OAUTHBEARER and no SCRAM mechanism. tokio-postgres cannot answer it, so it is
    /// only ever refused; the name is accepted so that `!oauth` lists parse as in libpq 18.
    Oauth,
}

const ALL: [AuthMethod; 7] = [
    AuthMethod::Password,
    AuthMethod::Md5,
    AuthMethod::ScramSha256,
    AuthMethod::Gss,
    AuthMethod::Sspi,
    AuthMethod::Oauth,
    AuthMethod::None,
];

impl AuthMethod {
    /// The libpq spelling (`scram-sha-256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::None => "none",
            AuthMethod::Oauth => "oauth",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq's `require_auth` (PostgreSQL 16): a comma-separated list of methods, of which
/// the server must use one, or a list of `!`-negated methods it must not use. `none`
/// means "no authentication"; `!none` demands some.
///
/// ```
/// use pgsec_client::{AuthMethod, RequireAuth};
/// let scram: RequireAuth = "scram-sha-256".parse()?;
/// assert!(scram.allows(AuthMethod::ScramSha256));
/// assert!(!scram.allows(AuthMethod::Password) && !scram.allows(AuthMethod::None));
/// let no_cleartext: RequireAuth = "!password".parse()?;
/// assert!(no_cleartext.allows(AuthMethod::Md5) && no_cleartext.allows(AuthMethod::None));
/// # Ok::<(), pgsec_client::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequireAuth {
    /// The methods named, one bit per [`AuthMethod`].
    listed: u8,
    negated: bool,
}

impl RequireAuth {
    /// No restriction: every method, and none, is answered (what libpq does without
    /// `require_auth`). The watch then only observes.
    pub(crate) const ANY: RequireAuth = RequireAuth {
        listed: 0,
        negated: true,
    };

    /// Whether a server asking for `method` (or, for [`AuthMethod::None`], not asking at
    /// all) is accepted.
    pub fn allows(self, method: AuthMethod) -> bool {
        (self.listed & method.bit() != 0) != self.negated
    }
}

impl fmt::Debug for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequireAuth({self})")
    }
}

impl fmt::Display for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for m in ALL.iter().filter(|m| self.listed & m.bit() != 0) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if self.negated {
                f.write_str("!")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for RequireAuth {
    type Err = Error;

    /// Parses libpq's syntax. Errors name the position of a bad entry, never the entry.
    fn from_str(s: &str) -> Result<Self> {
        let mut listed = 0u8;
        let mut negated = None;
        for (i, entry) in s.split(',').enumerate() {
            let n = i + 1;
            let (neg, name) = match entry.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let method = ALL
                .iter()
                .copied()
                .find(|m| m.as_str() == name)
                .ok_or_else(|| {
                    Error::invalid(
                        "require_auth",
                        format!(
                            "entry {n} is not a method; use password, md5, scram-sha-256, gss, \
                             sspi, oauth or none, each optionally negated with \"!\", separated by \
                             commas"
                        ),
                    )
                })?;
            if *negated.get_or_insert(neg) != neg {
                return Err(Error::invalid(
                    "require_auth",
                    "negated (!) and non-negated methods cannot be combined",
                ));
            }
            if listed & method.bit() != 0 {
                return Err(Error::invalid(
                    "require_auth",
                    format!("method {method} is listed more than once"),
                ));
            }
            listed |= method.bit();
        }
        Ok(RequireAuth {
            listed,
            negated: negated.unwrap_or(false),
        })
    }
}

/// Follows the server's messages up to AuthenticationOk and refuses a request that
/// `require_auth` does not allow.
#[derive(Debug)]
pub(crate) struct AuthWatch {
    policy: RequireAuth,
    server: String,
    /// Type byte, length and (for 'R') the request code of the current message.
    head: [u8; 9],
    head_len: usize,
    /// Bytes of the current message still to pass.
    skip: usize,
    /// The method the server asked for, once it asked.
    requested: Option<AuthMethod>,
    /// The body of an AuthenticationSASL request (its mechanism names), collected up to
    /// [`SASL_BODY_MAX`] bytes while `skip` passes it.
    sasl: Option<Vec<u8>>,
    /// Whether the server offered SCRAM-SHA-256-PLUS.
    scram_plus_offered: bool,
    /// Where the outcome goes once authentication is over (the TLS session record).
    report: Option<SessionSlot>,
    done: bool,
    refused: Option<Refusal>,
}

/// The mechanism list of an AuthenticationSASL request is two short names; anything
/// longer is not read further (the server's message still passes untouched).
const SASL_BODY_MAX: usize = 256;

/// Why the watch failed the stream.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The server asked for a method `require_auth` does not allow.
    Method(AuthMethod),
    /// A message whose length cannot be right.
    Malformed,
}

impl AuthWatch {
    pub(crate) fn new(policy: RequireAuth, server: impl Into<String>) -> Self {
        AuthWatch {
            policy,
            server: server.into(),
            head: [0; 9],
            head_len: 0,
            skip: 0,
            requested: None,
            sasl: None,
            scram_plus_offered: false,
            report: None,
            done: false,
            refused: None,
        }
    }

    /// Records, once AuthenticationOk arrives, which method the server asked for and
    /// whether it offered channel binding, in the TLS session of `slot`.
    pub(crate) fn reporting_to(mut self, slot: SessionSlot) -> Self {
        self.report = Some(slot);
        self
    }

    /// Publishes what authentication used into the session record.
    fn publish(&self) {
        let Some(slot) = &self.report else { return };
        if let Ok(mut guard) = slot.lock() {
            if let Some(session) = guard.as_mut() {
                session.authentication = Some(self.requested.unwrap_or(AuthMethod::None));
                session.scram_plus_offered = self.scram_plus_offered;
            }
        }
    }

    /// Reads through the watch: bytes of a refused request are withdrawn from `buf` and
    /// the read fails (now and from then on).
    pub(crate) fn poll_read<R: AsyncRead + Unpin>(
        watch: &mut Option<AuthWatch>,
        inner: Pin<&mut R>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(w) = watch.as_mut() else {
            return inner.poll_read(cx, buf);
        };
        if let Some(r) = w.refused {
            return Poll::Ready(Err(w.io_error(r)));
        }
        let before = buf.filled().len();
        let polled = inner.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if let Err(r) = w.observe(&buf.filled()[before..]) {
                buf.set_filled(before);
                w.refused = Some(r);
                return Poll::Ready(Err(w.io_error(r)));
            }
            if w.done {
                *watch = None;
            }
        }
        polled
    }

    /// The error the read fails with; [`Error::from_connect`] finds the
    /// [`Error::AuthMethodRefused`] inside it.
    fn io_error(&self, refusal: Refusal) -> io::Error {
        match refusal {
            Refusal::Method(requested) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                Error::AuthMethodRefused {
                    server: self.server.clone(),
                    requested,
                    require_auth: self.policy,
                },
            ),
            Refusal::Malformed => io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed message from the server before authentication completed",
            ),
        }
    }

    /// Feeds bytes the server sent.
    fn observe(&mut self, mut data: &[u8]) -> std::result::Result<(), Refusal> {
        while !data.is_empty() && !self.done {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                if let Some(body) = self.sasl.as_mut() {
                    let room = SASL_BODY_MAX.saturating_sub(body.len()).min(n);
                    body.extend_from_slice(&data[..room]);
                }
                self.skip -= n;
                data = &data[n..];
                if self.skip == 0 {
                    self.end_sasl_body()?;
                }
                continue;
            }
            let want = if self.head_len >= 5 && self.head[0] == b'R' {
                9
            } else {
                5
            };
            let n = (want - self.head_len).min(data.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&data[..n]);
            self.head_len += n;
            data = &data[n..];
            if self.head_len < want {
                continue;
            }
            let len = u32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]])
                as usize;
            if self.head[0] != b'R' {
                // ErrorResponse, NegotiateProtocolVersion, NoticeResponse: tokio-postgres
                // deals with them; pass the body.
                if len < 4 {
                    return Err(Refusal::Malformed);
                }
                self.skip = len - 4;
                self.head_len = 0;
                continue;
            }
            if want == 5 {
                continue; // the request code comes next
            }
            if len < 8 {
                return Err(Refusal::Malformed);
            }
            let code = i32::from_be_bytes([self.head[5], self.head[6], self.head[7], self.head[8]]);
            self.skip = len - 8;
            self.head_len = 0;
            let method = match code {
                0 => {
                    // AuthenticationOk: without a request before it, there was none.
                    if self.requested.is_none() && !self.policy.allows(AuthMethod::None) {
                        return Err(Refusal::Method(AuthMethod::None));
                    }
                    self.done = true;
                    self.publish();
                    continue;
                }
                3 => AuthMethod::Password,
                5 => AuthMethod::Md5,
                7 => AuthMethod::Gss,
                9 => AuthMethod::Sspi,
                10 => {
                    // SCRAM or OAUTHBEARER: decided by the mechanism list, which
                    // end_sasl_body checks before the message is complete.
                    self.sasl = Some(Vec::new());
                    self.requested = Some(AuthMethod::ScramSha256);
                    if self.skip == 0 {
                        self.end_sasl_body()?;
                    }
                    continue;
                }
                // GSS and SASL continuations belong to the request already checked;
                // anything else tokio-postgres refuses by itself without answering.
                _ => continue,
            };
            if !self.policy.allows(method) {
                return Err(Refusal::Method(method));
            }
            self.requested = Some(method);
        }
        Ok(())
    }
}

impl AuthWatch {
    /// The AuthenticationSASL body is complete: a list of NUL-terminated names. The
    /// request is SCRAM when a SCRAM mechanism is offered (tokio-postgres picks it), else
    /// OAuth when OAUTHBEARER is; `require_auth` judges that method. Called before the
    /// last bytes of the message are passed on, so a refusal still withholds it.
    fn end_sasl_body(&mut self) -> std::result::Result<(), Refusal> {
        let Some(body) = self.sasl.take() else {
            return Ok(());
        };
        let names: Vec<&[u8]> = body.split(|b| *b == 0).collect();
        self.scram_plus_offered = names.contains(&&b"SCRAM-SHA-256-PLUS"[..]);
        let scram = self.scram_plus_offered || names.contains(&&b"SCRAM-SHA-256"[..]);
        let method = if !scram && names.contains(&&b"OAUTHBEARER"[..]) {
            AuthMethod::Oauth
        } else {
            AuthMethod::ScramSha256
        };
        if !self.policy.allows(method) {
            return Err(Refusal::Method(method));
        }
        self.requested = Some(method);
        Ok(())
    }
}

/// A plain stream (a Unix-domain socket) read through an [`AuthWatch`].
#[derive(Debug)]
pub(crate) struct AuthWatched<S> {
    inner: S,
    watch: Option<AuthWatch>,
}

impl<S> AuthWatched<S> {
    pub(crate) fn new(inner: S, watch: Option<AuthWatch>) -> Self {
        AuthWatched { inner, watch }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthWatched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        AuthWatch::poll_read(&mut this.watch, Pin::new(&mut this.inner), cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthWatched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(s: &str) -> RequireAuth {
        s.parse().unwrap()
    }

    fn request(code: i32, extra: &[u8]) -> Vec<u8> {
        let mut m = vec![b'R'];
        m.extend_from_slice(&(8 + extra.len() as u32).to_be_bytes());
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    /// Feeds `bytes` in chunks of `chunk`; the method refused, if any.
    fn run(p: &str, bytes: &[u8], chunk: usize) -> Option<AuthMethod> {
        let mut w = AuthWatch::new(policy(p), "srv");
        for c in bytes.chunks(chunk) {
            match w.observe(c) {
                Ok(()) => {}
                Err(Refusal::Method(m)) => return Some(m),
                Err(Refusal::Malformed) => panic!("malformed"),
            }
        }
        None
    }

    #[test]
    fn parses_libpq_syntax_and_refuses_bad_lists() {
        assert_eq!(policy("scram-sha-256").to_string(), "scram-sha-256");
        assert_eq!(policy("md5,scram-sha-256").to_string(), "md5,scram-sha-256");
        assert_eq!(policy("!password,!md5").to_string(), "!password,!md5");
        let none = policy("none");
        assert!(none.allows(AuthMethod::None) && !none.allows(AuthMethod::ScramSha256));
        let not_none = policy("!none");
        assert!(!not_none.allows(AuthMethod::None) && not_none.allows(AuthMethod::Password));
        for bad in [
            "",
            "scram",
            "md5,!password",
            "md5,md5",
            "md5,",
            "SCRAM-SHA-256",
        ] {
            let e = bad.parse::<RequireAuth>().unwrap_err();
            assert!(matches!(e, Error::InvalidValue { .. }), "{bad}: {e:?}");
        }
        let e = "md5,s3cretValue".parse::<RequireAuth>().unwrap_err();
        assert!(!e.to_string().contains("s3cretValue"), "{e}");
        assert!(e.to_string().contains("entry 2"), "{e}");
    }

    #[test]
    fn watch_refuses_what_the_policy_does_not_allow_in_any_chunking() {
        let sasl = request(10, b"SCRAM-SHA-256\0\0");
        let cleartext = request(3, b"");
        let md5 = request(5, b"salt");
        let ok = request(0, b"");
        let mut notice_then_ok = vec![b'N', 0, 0, 0, 9, b'S', b'x', 0, 0, 0];
        notice_then_ok.extend_from_slice(&ok);
        for chunk in [1, 2, 3, 5, 7, 64] {
            assert_eq!(run("scram-sha-256", &sasl, chunk), None);
            assert_eq!(
                run("scram-sha-256", &cleartext, chunk),
                Some(AuthMethod::Password)
            );
            assert_eq!(run("scram-sha-256", &md5, chunk), Some(AuthMethod::Md5));
            assert_eq!(run("scram-sha-256", &ok, chunk), Some(AuthMethod::None));
            assert_eq!(
                run("scram-sha-256", &notice_then_ok, chunk),
                Some(AuthMethod::None)
            );
            assert_eq!(
                run("!password", &cleartext, chunk),
                Some(AuthMethod::Password)
            );
            assert_eq!(run("!password", &md5, chunk), None);
            assert_eq!(run("!password", &ok, chunk), None);
            assert_eq!(run("none", &ok, chunk), None);
            assert_eq!(run("none", &sasl, chunk), Some(AuthMethod::ScramSha256));
            // SASL is judged by its mechanism list: SCRAM when offered, else OAuth.
            let oauth = request(10, b"OAUTHBEARER\0\0");
            let both = request(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0OAUTHBEARER\0\0");
            assert_eq!(run("scram-sha-256", &oauth, chunk), Some(AuthMethod::Oauth));
            assert_eq!(run("scram-sha-256", &both, chunk), None);
            assert_eq!(run("oauth", &both, chunk), Some(AuthMethod::ScramSha256));
            assert_eq!(run("!oauth", &oauth, chunk), Some(AuthMethod::Oauth));
            assert_eq!(run("oauth", &oauth, chunk), None);
            // After AuthenticationOk the watch stops: later bytes are data.
            let mut after = sasl.clone();
            after.extend_from_slice(&request(12, b"v=x"));
            after.extend_from_slice(&ok);
            after.extend_from_slice(&cleartext);
            assert_eq!(run("scram-sha-256", &after, chunk), None);
        }
    }
}
