//! `pg_hba.conf`, parsed exactly as the PostgreSQL server parses it (`hba.c`).
//!
//! The parser is pure: files other than the first are read through a [`SourceLoader`],
//! so tests and fuzzers can run on in-memory files. Every line keeps its file and line
//! number, and a line the server would reject keeps the server's error text.

// NOTE for implementers: the public types below are the contract other modules (rules,
// reports, CLI) code against. Extend them freely; do not rename fields.

use std::fmt;

pub use crate::source::{FsLoader, MemoryLoader, SourceLoader, SourceRef};

/// Major PostgreSQL version whose parsing rules apply (13 to 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgVersion(u32);

impl PgVersion {
    /// PostgreSQL 15, the default.
    pub const V15: PgVersion = PgVersion(15);

    /// A supported major version (13 to 17).
    ///
    /// # Errors
    /// Returns the unsupported number when it is outside 13..=17.
    pub fn new(major: u32) -> Result<Self, u32> {
        if (13..=17).contains(&major) {
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
        }
    }
}

/// A record the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaRule {
    /// Connection type.
    pub conn_type: ConnType,
    /// Database list (after `@file` expansion, as the server shows it).
    pub databases: Vec<HbaToken>,
    /// User list (after `@file` expansion; `+group` keeps its `+`).
    pub users: Vec<HbaToken>,
    /// Address; `None` for `local`.
    pub address: Option<HbaAddress>,
    /// Authentication method.
    pub method: AuthMethod,
    /// `name=value` options in file order, as written (without server defaults).
    pub options: Vec<(String, String)>,
}

/// One line (or continued line) of an hba file, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaLine {
    /// File the line is in (as given to the loader, includes resolved to paths).
    pub file: String,
    /// 1-based line number of the first physical line of the record.
    pub line_number: usize,
    /// 1-based number among accepted rules (PostgreSQL 16+ `rule_number`), None on error.
    pub rule_number: Option<usize>,
    /// The rule, or the error text the server would report for this line.
    pub result: Result<HbaRule, String>,
}

/// A parsed `pg_hba.conf`, includes expanded, in server order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HbaFile {
    /// Every record line, accepted or not, in the order the server reads them.
    pub lines: Vec<HbaLine>,
}
