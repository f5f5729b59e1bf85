//! `pg_hba.conf`, parsed exactly as the PostgreSQL server parses it (`hba.c`).
//!
//! The parser is pure: files other than the first are read through a [`SourceLoader`],
//! so tests and fuzzers can run on in-memory files. Every line keeps its file and line
//! number, and a line the server would reject keeps the server's error text.
//!
//! ```
//! use std::path::Path;
//! use pgsec_core::hba::{HbaAddress, HbaFile, MemoryLoader, PgVersion};
//!
//! let loader = MemoryLoader::new().with_file("/etc/pg/admins", "alice, bob\n");
//! let text = "hostssl all @admins 0.0.0.0/0 scram-sha-256\nhost all all all bogus\n";
//! let file = HbaFile::parse(text, Path::new("/etc/pg/pg_hba.conf"), PgVersion::V15, &loader);
//!
//! let (_, rule) = file.rules().next().unwrap();
//! assert_eq!(rule.users.len(), 2);
//! assert!(matches!(rule.address, Some(HbaAddress::Net(_))));
//! let (line, error) = file.errors().next().unwrap();
//! assert_eq!((line.line_number, error), (2, "invalid authentication method \"bogus\""));
//!
//! // The same rows `select * from pg_hba_file_rules` shows.
//! let rows = file.to_view_rows(PgVersion::V15);
//! assert_eq!(rows[0].netmask.as_deref(), Some("0.0.0.0"));
//! ```
//!
//! What the parser cannot know, and assumes:
//! - the server runs with `ssl = on` and a typical Linux build (OpenSSL, GSSAPI, PAM,
//!   OpenLDAP): see [`HbaParseOptions`] and [`BuildFeatures`];
//! - `db_user_namespace` is off (PostgreSQL 13–16);
//! - `radiusservers` names resolve (the server looks them up), and an interface named in
//!   a link-local IPv6 zone (`fe80::1%eth0`) exists;
//! - regular expressions (16+) are checked for the usual syntax errors, not compiled
//!   with the server's regex engine.
//!
//! Beyond the server: an include cycle is reported with the files of the cycle
//! appended to the message, nesting stops at the server's depth of 10 in every
//! version (before 16 the server has no limit and fails the whole view instead), one
//! parse opens at most 2,000 included files, and reads at most what its
//! [`InputLimits`] allow: bytes and lines of every file each time it is included,
//! every token of a line beyond its 16th counting as a line (a long `@file` list).
//! Only regular files are read: a FIFO, device, socket or directory named by `@file`
//! or `include*` stops the parse (the server would block on a FIFO and read a
//! directory as empty).
//!
//! The values of secret options (`ldapbindpasswd`, `radiussecrets`) are kept as
//! [`Secret`]s: findings, `Debug`, error texts and [`HbaFile::to_view_rows`] show
//! `<redacted>`; [`HbaFile::to_view_rows_with_secrets`] shows them as the server does.

// NOTE for implementers: the public types below are the contract other modules (rules,
// reports, CLI) code against. Extend them freely; do not rename fields.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

pub use crate::source::{FsLoader, InputLimits, MemoryLoader, SourceLoader, SourceRef};
pub use ident::{IdentFile, IdentLine, IdentMap, IdentViewRow};
pub use view::{format_view_table, HbaViewRow};

use crate::secret::Secret;
use crate::Error;

/// Opens the note pgsec appends to an include error inside a cycle.
pub(crate) const CYCLE_NOTE: &str = " (include cycle: ";

mod addr;
mod ident;
mod lexer;
mod parse;
mod view;

/// Major PostgreSQL version whose parsing rules apply (13 to 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgVersion(u32);

impl PgVersion {
    /// PostgreSQL 15, the default.
    pub const V15: PgVersion = PgVersion(15);

    /// A supported major version (13 to 18).
    ///
    /// # Errors
    /// Returns the unsupported number when it is outside 13..=18.
    pub fn new(major: u32) -> Result<Self, u32> {
        if (13..=18).contains(&major) {
            Ok(PgVersion(major))
        } else {
            Err(major)
        }
    }

    /// The major version number.
    pub fn major(self) -> u32 {
        self.0
    }
}

impl Default for PgVersion {
    fn default() -> Self {
        PgVersion::V15
    }
}

impl fmt::Display for PgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The first column of an hba record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnType {
    /// `local`: Unix-domain socket.
    Local,
    /// `host`: TCP, with or without TLS.
    Host,
    /// `hostssl`: TCP with TLS only.
    HostSsl,
    /// `hostnossl`: TCP without TLS only.
    HostNoSsl,
    /// `hostgssenc`: TCP with GSSAPI encryption only.
    HostGssEnc,
    /// `hostnogssenc`: TCP without GSSAPI encryption only.
    HostNoGssEnc,
}

impl ConnType {
    /// The keyword as written in the file and shown in `pg_hba_file_rules.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnType::Local => "local",
            ConnType::Host => "host",
            ConnType::HostSsl => "hostssl",
            ConnType::HostNoSsl => "hostnossl",
            ConnType::HostGssEnc => "hostgssenc",
            ConnType::HostNoGssEnc => "hostnogssenc",
        }
    }

    /// Every type except `local` (the `host*` lines of RULES.md).
    pub fn is_network(self) -> bool {
        !matches!(self, ConnType::Local)
    }
}

/// One token of a database or user list, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HbaToken {
    /// The text without quotes.
    pub text: String,
    /// Whether it was quoted (a quoted keyword such as `"all"` is a plain name).
    pub quoted: bool,
}

impl HbaToken {
    /// True when this token is the unquoted keyword `kw` (e.g. `all`, `replication`).
    pub fn is_keyword(&self, kw: &str) -> bool {
        !self.quoted && self.text == kw
    }
}

/// The address column of a `host*` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HbaAddress {
    /// `all`: any address.
    All,
    /// `samehost`: any of the server's own addresses.
    SameHost,
    /// `samenet`: any address on a subnet the server is directly connected to.
    SameNet,
    /// An address with its mask (CIDR or address + mask columns).
    Net(ipnet::IpNet),
    /// A host name, or a `.suffix` matching every name that ends in it.
    HostName(String),
    /// An address with a non-contiguous mask from the netmask column (e.g.
    /// `10.0.0.0 255.0.255.0`): matches when `client & mask == addr & mask`. Contiguous
    /// masks are always [`HbaAddress::Net`].
    Masked {
        /// The address as written.
        addr: IpAddr,
        /// The mask as written.
        mask: IpAddr,
    },
}

impl HbaAddress {
    /// Whether `ip` falls in this address (false for the keywords and host names,
    /// which need the server's interfaces or DNS).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            HbaAddress::Net(n) => n.contains(&ip),
            HbaAddress::Masked { addr, mask } => match (addr, mask, ip) {
                (IpAddr::V4(a), IpAddr::V4(m), IpAddr::V4(c)) => {
                    u32::from(*a) & u32::from(*m) == u32::from(c) & u32::from(*m)
                }
                (IpAddr::V6(a), IpAddr::V6(m), IpAddr::V6(c)) => {
                    u128::from(*a) & u128::from(*m) == u128::from(c) & u128::from(*m)
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// Authentication method (the server's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `trust`
    Trust,
    /// `reject`
    Reject,
    /// `scram-sha-256`
    ScramSha256,
    /// `md5`
    Md5,
    /// `password` (cleartext)
    Password,
    /// `gss`
    Gss,
    /// `sspi`
    Sspi,
    /// `ident`
    Ident,
    /// `peer`
    Peer,
    /// `ldap`
    Ldap,
    /// `radius`
    Radius,
    /// `cert`
    Cert,
    /// `pam`
    Pam,
    /// `bsd`
    Bsd,
    /// `oauth` (PostgreSQL 18+)
    OAuth,
}

impl AuthMethod {
    /// The method as written in the file and shown in `pg_hba_file_rules.auth_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Reject => "reject",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Md5 => "md5",
            AuthMethod::Password => "password",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::Ident => "ident",
            AuthMethod::Peer => "peer",
            AuthMethod::Ldap => "ldap",
            AuthMethod::Radius => "radius",
            AuthMethod::Cert => "cert",
            AuthMethod::Pam => "pam",
            AuthMethod::Bsd => "bsd",
            AuthMethod::OAuth => "oauth",
        }
    }
}

/// A record the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaRule {
    /// Connection type.
    pub conn_type: ConnType,
    /// Database list (after `@file` expansion, as the server shows it). Equal lists of
    /// one parse share one allocation.
    pub databases: Arc<[HbaToken]>,
    /// User list (after `@file` expansion; `+group` keeps its `+`), shared like
    /// [`HbaRule::databases`].
    pub users: Arc<[HbaToken]>,
    /// Address; `None` for `local`.
    pub address: Option<HbaAddress>,
    /// Authentication method.
    pub method: AuthMethod,
    /// `name=value` options in file order, as written (without server defaults). The
    /// values of secret options (`ldapbindpasswd`, `radiussecrets`) print redacted.
    pub options: Vec<HbaOption>,
}

/// One `name=value` option of an hba record.
///
/// The value of a secret option (see [`crate::secret::is_secret_hba_option`]) is held
/// as a [`Secret`]: `Display` (`name=value`), `Debug` and [`HbaOption::value`] show
/// [`REDACTED`](crate::secret::REDACTED) in its place.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HbaOption {
    name: String,
    value: OptionValue,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum OptionValue {
    Plain(String),
    Secret(Secret),
}

impl HbaOption {
    /// The option `name` with `value` as written; a secret option's value is kept as a
    /// [`Secret`].
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let value = if crate::secret::is_secret_hba_option(&name) {
            OptionValue::Secret(Secret::new(value))
        } else {
            OptionValue::Plain(value.into())
        };
        HbaOption { name, value }
    }

    /// The option's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as it may be shown: as written, or
    /// [`REDACTED`](crate::secret::REDACTED) for a secret.
    pub fn value(&self) -> &str {
        match &self.value {
            OptionValue::Plain(v) => v,
            OptionValue::Secret(_) => crate::secret::REDACTED,
        }
    }

    /// Whether the value is a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self.value, OptionValue::Secret(_))
    }

    /// The secret value, when the option holds one.
    pub fn secret(&self) -> Option<&Secret> {
        match &self.value {
            OptionValue::Secret(s) => Some(s),
            OptionValue::Plain(_) => None,
        }
    }

    /// The value as written, secret or not. Do not print, log or report it.
    pub fn expose_value(&self) -> &str {
        match &self.value {
            OptionValue::Plain(v) => v,
            OptionValue::Secret(s) => s.expose_secret(),
        }
    }
}

impl fmt::Display for HbaOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value())
    }
}

impl fmt::Debug for HbaOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HbaOption")
            .field("name", &self.name)
            .field("value", &self.value())
            .finish()
    }
}

impl HbaRule {
    /// A rule without options.
    pub fn new(
        conn_type: ConnType,
        databases: impl Into<Arc<[HbaToken]>>,
        users: impl Into<Arc<[HbaToken]>>,
        address: Option<HbaAddress>,
        method: AuthMethod,
    ) -> Self {
        HbaRule {
            conn_type,
            databases: databases.into(),
            users: users.into(),
            address,
            method,
            options: Vec::new(),
        }
    }

    /// The value of option `name` (the last one when repeated), as written; a
    /// secret's value is [`REDACTED`](crate::secret::REDACTED) (see
    /// [`HbaRule::option_entry`] for the secret itself).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.option_entry(name).map(HbaOption::value)
    }

    /// The option `name` (the last one when repeated).
    pub fn option_entry(&self, name: &str) -> Option<&HbaOption> {
        self.options.iter().rev().find(|o| o.name == name)
    }

    /// Adds the option `name=value` (kept as a [`Secret`] when `name` is a secret
    /// option).
    #[must_use]
    pub fn with_option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push(HbaOption::new(name, value));
        self
    }
}

impl HbaToken {
    /// An unquoted token (a keyword such as `all` keeps its meaning).
    pub fn plain(text: impl Into<String>) -> Self {
        HbaToken {
            text: text.into(),
            quoted: false,
        }
    }

    /// Whether the server treats this database/user token as a regular expression
    /// (PostgreSQL 16+: it starts with `/`, quoted or not).
    pub fn is_regex(&self, version: PgVersion) -> bool {
        version.major() >= 16 && self.text.starts_with('/')
    }
}

/// One line (or continued line) of an hba file, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaLine {
    /// File the line is in (as given to the loader, includes resolved to paths); one
    /// shared allocation for all the lines of a file.
    pub file: Arc<str>,
    /// 1-based line number of the first physical line of the record.
    pub line_number: usize,
    /// 1-based number among accepted rules (PostgreSQL 16+ `rule_number`), None on error.
    ///
    /// The parser numbers lines as the server does: a few option errors are only
    /// logged by the server (e.g. `clientcert=bogus`), and its view numbers such a line
    /// and shows it with a null error. Those lines carry `Some` here and an `Err`
    /// result; the file still fails to load.
    pub rule_number: Option<usize>,
    /// The rule, or the error text the server would report for this line.
    ///
    /// When the line is part of an include cycle, pgsec appends
    /// ` (include cycle: a -> b -> a)` to the server's text.
    pub result: Result<HbaRule, String>,
}

impl HbaLine {
    /// An accepted rule at `file:line_number`.
    pub fn accepted(file: impl Into<Arc<str>>, line_number: usize, rule: HbaRule) -> Self {
        HbaLine {
            file: file.into(),
            line_number,
            rule_number: None,
            result: Ok(rule),
        }
    }

    /// A rejected line at `file:line_number` with the server's message.
    pub fn rejected(
        file: impl Into<Arc<str>>,
        line_number: usize,
        error: impl Into<String>,
    ) -> Self {
        HbaLine {
            file: file.into(),
            line_number,
            rule_number: None,
            result: Err(error.into()),
        }
    }
}

/// Compile-time features of the server build, which decide some errors
/// ("not supported by this build"). The default is a typical Linux build
/// (OpenSSL, GSSAPI, PAM, OpenLDAP; no SSPI, no BSD auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BuildFeatures {
    /// Built with SSL (`cert`, `hostssl`).
    pub ssl: bool,
    /// Built with GSSAPI (`gss`, `hostgssenc`).
    pub gss: bool,
    /// Built with SSPI (Windows).
    pub sspi: bool,
    /// Built with PAM.
    pub pam: bool,
    /// Built with BSD authentication.
    pub bsd: bool,
    /// Built with (Open)LDAP.
    pub ldap: bool,
}

impl Default for BuildFeatures {
    fn default() -> Self {
        BuildFeatures {
            ssl: true,
            gss: true,
            sspi: false,
            pam: true,
            bsd: false,
            ldap: true,
        }
    }
}

/// How to parse: the server version and the facts about the server that change
/// what it reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct HbaParseOptions {
    /// Major version whose rules apply.
    pub version: PgVersion,
    /// Whether `ssl = on` (a `hostssl` line is an error otherwise). Default true.
    pub ssl_enabled: bool,
    /// Build features.
    pub build: BuildFeatures,
    /// Bounds on what the file and its includes may expand to.
    pub limits: InputLimits,
    /// The server's `oauth_validator_libraries` (18+), raw. Empty (the default): an
    /// `oauth` line is refused, as the server refuses it; one library: the line's
    /// validator defaults to it; several: the line must name one of them.
    pub oauth_validator_libraries: String,
}

impl HbaParseOptions {
    /// Options for `version`, SSL on, a typical Linux build, the default
    /// [`InputLimits`].
    pub fn new(version: PgVersion) -> Self {
        HbaParseOptions {
            version,
            ssl_enabled: true,
            build: BuildFeatures::default(),
            limits: InputLimits::default(),
            oauth_validator_libraries: String::new(),
        }
    }

    /// Sets the server's `oauth_validator_libraries` (PostgreSQL 18+).
    #[must_use]
    pub fn with_oauth_validator_libraries(mut self, libraries: impl Into<String>) -> Self {
        self.oauth_validator_libraries = libraries.into();
        self
    }

    /// Sets the bounds on what the file and its includes may expand to.
    #[must_use]
    pub fn with_limits(mut self, limits: InputLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets whether the server runs with `ssl = on`.
    #[must_use]
    pub fn with_ssl_enabled(mut self, on: bool) -> Self {
        self.ssl_enabled = on;
        self
    }

    /// Sets the build features.
    #[must_use]
    pub fn with_build(mut self, build: BuildFeatures) -> Self {
        self.build = build;
        self
    }
}

/// A parsed `pg_hba.conf`, includes expanded, in server order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HbaFile {
    /// Every record line, accepted or not, in the order the server reads them.
    pub lines: Vec<HbaLine>,
}

impl HbaFile {
    /// Parses `text` (the contents of `path`) as the server of `version` would.
    /// Included files (`@file`, and `include*` from 16 on) are read through `loader`,
    /// relative to the file that names them.
    ///
    /// Never fails: a line the server would reject carries its error, and an included
    /// file that cannot be read is an error on the line that includes it. When the
    /// default [`InputLimits`] are passed or an included path is not a regular file,
    /// reading stops there with an error on that line; [`HbaFile::try_parse_with`]
    /// makes that an error of the whole parse.
    pub fn parse(
        text: &str,
        path: &Path,
        version: PgVersion,
        loader: &dyn SourceLoader,
    ) -> HbaFile {
        Self::parse_with(text, path, &HbaParseOptions::new(version), loader)
    }

    /// [`HbaFile::parse`] with explicit [`HbaParseOptions`].
    pub fn parse_with(
        text: &str,
        path: &Path,
        options: &HbaParseOptions,
        loader: &dyn SourceLoader,
    ) -> HbaFile {
        Self::parse_bounded(text, path, options, loader).0
    }

    /// [`HbaFile::parse_with`], failing when reading had to stop: the file and its
    /// includes exceed `options.limits`, or an included path is a FIFO, device,
    /// socket or directory.
    ///
    /// # Errors
    /// [`Error::InputLimit`] or [`Error::NotRegularFile`], naming the file.
    pub fn try_parse_with(
        text: &str,
        path: &Path,
        options: &HbaParseOptions,
        loader: &dyn SourceLoader,
    ) -> Result<HbaFile, Error> {
        match Self::parse_bounded(text, path, options, loader) {
            (_, Some(e)) => Err(e),
            (file, None) => Ok(file),
        }
    }

    /// Reads the regular file at `path` and parses it with `options`, includes read
    /// from the file system; bounded by `options.limits`.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read (problems with included files are
    /// line errors instead, as for the server), [`Error::NotRegularFile`] for a FIFO,
    /// device, socket or directory, [`Error::InputLimit`] when the limits are passed.
    pub fn load_with(path: &Path, options: &HbaParseOptions) -> Result<HbaFile, Error> {
        let loader = FsLoader;
        let text = loader
            .read_limited(path, options.limits.max_bytes)
            .map_err(|e| crate::source::read_error(path, e))?;
        Self::try_parse_with(&text, path, options, &loader)
    }

    /// The parse, and why reading stopped early if it did.
    fn parse_bounded(
        text: &str,
        path: &Path,
        options: &HbaParseOptions,
        loader: &dyn SourceLoader,
    ) -> (HbaFile, Option<Error>) {
        let file = path.to_string_lossy();
        // One entry per record at most; the count of physical lines is a cheap bound
        // that spares the growing vector its copies.
        let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
        let mut rule_number = 0usize;
        let mut lists = parse::ListInterner::default();
        let mut tokenizer = lexer::Tokenizer::new(loader, options.version.major(), options.limits);
        tokenizer.tokenize_top(&file, text, &mut |tl: lexer::TokLine<'_, '_>| {
            let (result, hidden) = match &tl.err {
                Some(e) => {
                    let msg = match &e.detail {
                        Some(d) => format!("{}{CYCLE_NOTE}{d})", e.msg),
                        None => e.msg.clone(),
                    };
                    (Err(msg), false)
                }
                None => match parse::parse_line(&tl, options, &mut lists) {
                    Ok(rule) => (Ok(rule), false),
                    Err(e) => (Err(e.msg), e.hidden),
                },
            };
            // The server numbers every line whose error it does not show.
            let numbered = result.is_ok() || hidden;
            if numbered {
                rule_number += 1;
            }
            lines.push(HbaLine {
                file: Arc::clone(tl.file),
                line_number: tl.line_number,
                rule_number: numbered.then_some(rule_number),
                result,
            });
        });
        let fatal = tokenizer.take_fatal();
        (HbaFile { lines }, fatal)
    }

    /// Reads and parses the file at `path` from the file system, with the default
    /// [`InputLimits`] ([`HbaFile::load_with`] for the typed error).
    ///
    /// # Errors
    /// The I/O error when `path` itself cannot be read (the server fails to start),
    /// `InvalidInput` when it or an included path is not a regular file,
    /// `InvalidData` when the limits are passed; problems with included files are
    /// line errors otherwise.
    pub fn load(path: &Path, version: PgVersion) -> io::Result<HbaFile> {
        Self::load_with(path, &HbaParseOptions::new(version)).map_err(Error::into_io)
    }

    /// The accepted rules in order.
    pub fn rules(&self) -> impl Iterator<Item = (&HbaLine, &HbaRule)> {
        self.lines
            .iter()
            .filter_map(|l| l.result.as_ref().ok().map(|r| (l, r)))
    }

    /// The lines the server would reject.
    pub fn errors(&self) -> impl Iterator<Item = (&HbaLine, &str)> {
        self.lines
            .iter()
            .filter_map(|l| l.result.as_ref().err().map(|e| (l, e.as_str())))
    }

    /// The rows of `pg_hba_file_rules` for this file as the server of `version`
    /// shows them (PostgreSQL 15's shape; `rule_number` and `file_name` from 16 on),
    /// except that the values of secret options are
    /// [`REDACTED`](crate::secret::REDACTED).
    pub fn to_view_rows(&self, version: PgVersion) -> Vec<HbaViewRow> {
        view::view_rows(self, &HbaParseOptions::new(version), false)
    }

    /// [`HbaFile::to_view_rows`] with the values of secret options (`ldapbindpasswd`,
    /// `radiussecrets`) shown, exactly as the server's view shows them.
    pub fn to_view_rows_with_secrets(&self, version: PgVersion) -> Vec<HbaViewRow> {
        view::view_rows(self, &HbaParseOptions::new(version), true)
    }

    /// [`HbaFile::to_view_rows`] for a file parsed with `options` (the server facts in
    /// them, e.g. `oauth_validator_libraries`, show in the `options` column); secrets
    /// redacted unless `expose_secrets`.
    pub fn to_view_rows_for(
        &self,
        options: &HbaParseOptions,
        expose_secrets: bool,
    ) -> Vec<HbaViewRow> {
        view::view_rows(self, options, expose_secrets)
    }
}

#[cfg(test)]
mod tests;
