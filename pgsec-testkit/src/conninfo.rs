//! libpq connection strings to a test server, built from its [`ConnectionInfo`].

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::server::ConnectionInfo;

/// A libpq key/value connection string to a test server, started from its
/// [`ConnectionInfo`] ([`ConnectionInfo::conninfo_for`], or
/// [`ConnectionInfo::socket_conninfo_for`]) and changed where a test needs to: another
/// host name to check the certificate against, another root certificate, a password,
/// more options. Values are quoted where libpq needs it. [`Conninfo::build`] gives the
/// string; the password never appears in `Debug`.
///
/// ```
/// # fn demo(info: &pgsec_testkit::ConnectionInfo) {
/// // The server's address and CA, but a name its certificate does not carry.
/// let conninfo = info
///     .conninfo_for(&info.app.user, "postgres")
///     .host("db.elsewhere.test")
///     .option("connect_timeout", "20")
///     .build();
/// assert!(conninfo.starts_with("host=db.elsewhere.test hostaddr=127.0.0.1 "));
/// # }
/// ```
#[must_use]
#[derive(Clone, PartialEq, Eq)]
pub struct Conninfo {
    host: String,
    hostaddr: Option<IpAddr>,
    port: u16,
    user: String,
    password: Option<String>,
    dbname: String,
    sslrootcert: Option<PathBuf>,
    options: Vec<(String, String)>,
}

impl ConnectionInfo {
    /// A connection string for `dbname` as `user` over TCP, without a password: `host`
    /// (checked by verify-full), `hostaddr`, `port` and `sslrootcert` of this server
    /// (no `sslmode`: pgsec-client defaults to verify-full).
    pub fn conninfo_for(&self, user: &str, dbname: &str) -> Conninfo {
        Conninfo {
            host: self.host.clone(),
            hostaddr: Some(self.hostaddr),
            port: self.port,
            user: user.to_owned(),
            password: None,
            dbname: dbname.to_owned(),
            sslrootcert: Some(self.ca_path.clone()),
            options: Vec::new(),
        }
    }

    /// A connection string for `dbname` as `user` over the server's Unix socket
    /// (`host` is the socket directory; no `hostaddr`, no `sslrootcert`), without a
    /// password. `None` when the server has no socket (the container backend).
    pub fn socket_conninfo_for(&self, user: &str, dbname: &str) -> Option<Conninfo> {
        let dir = self.socket_dir.as_ref()?;
        Some(Conninfo {
            host: dir.display().to_string(),
            hostaddr: None,
            sslrootcert: None,
            ..self.conninfo_for(user, dbname)
        })
    }
}

impl Conninfo {
    /// The host name, and so the name verify-full checks the certificate against; the
    /// socket still goes to the server's `hostaddr`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Adds `password` (handle the string with care: never log it).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Trusts the certificates in `path` instead of the server's CA file (another CA, a
    /// copy that outlives the server, a path inside a container).
    pub fn sslrootcert(mut self, path: impl AsRef<Path>) -> Self {
        self.sslrootcert = Some(path.as_ref().to_path_buf());
        self
    }

    /// Leaves `sslrootcert` out (for a weak `sslmode` that checks nothing).
    pub fn without_sslrootcert(mut self) -> Self {
        self.sslrootcert = None;
        self
    }

    /// Appends `key=value` (e.g. `sslmode`, `connect_timeout`, `channel_binding`).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// The connection string.
    #[must_use]
    pub fn build(&self) -> String {
        let mut pairs: Vec<(&str, Cow<'_, str>)> = vec![("host", quote(&self.host))];
        if let Some(addr) = self.hostaddr {
            pairs.push(("hostaddr", Cow::Owned(addr.to_string())));
        }
        pairs.push(("port", Cow::Owned(self.port.to_string())));
        pairs.push(("user", quote(&self.user)));
        if let Some(password) = &self.password {
            pairs.push(("password", quote(password)));
        }
        pairs.push(("dbname", quote(&self.dbname)));
        let root = self.sslrootcert.as_ref().map(|p| p.to_string_lossy());
        if let Some(root) = &root {
            pairs.push(("sslrootcert", quote(root)));
        }
        for (key, value) in &self.options {
            pairs.push((key, quote(value)));
        }
        pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Debug for Conninfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = Conninfo {
            password: self.password.as_ref().map(|_| "<redacted>".to_owned()),
            ..self.clone()
        };
        f.debug_tuple("Conninfo").field(&redacted.build()).finish()
    }
}

/// A conninfo value as libpq reads it: as it is when plain, else in single quotes with
/// `\` and `'` escaped.
fn quote(value: &str) -> Cow<'_, str> {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!(
            "'{}'",
            value.replace('\\', "\\\\").replace('\'', "\\'")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Credentials;

    fn info() -> ConnectionInfo {
        ConnectionInfo {
            host: "localhost".into(),
            hostaddr: IpAddr::from([127, 0, 0, 1]),
            port: 5433,
            ca_pem: String::new(),
            ca_path: "/tmp/kit ca/ca.crt".into(),
            admin: Credentials::new("pgsec_admin", "admin-secret"),
            app: Credentials::new("pgsec_app", "app-secret"),
            socket_dir: Some("/run/kit".into()),
            ssl: true,
        }
    }

    #[test]
    fn starts_from_the_servers_address_and_ca() {
        let info = info();
        assert_eq!(
            info.conninfo_for("pgsec_app", "db").build(),
            "host=localhost hostaddr=127.0.0.1 port=5433 user=pgsec_app dbname=db \
             sslrootcert='/tmp/kit ca/ca.crt'"
        );
        assert_eq!(
            info.conninfo_for("pgsec_app", "db")
                .host("db.elsewhere.test")
                .password("pw")
                .sslrootcert("/tmp/other.crt")
                .option("sslmode", "verify-full")
                .build(),
            "host=db.elsewhere.test hostaddr=127.0.0.1 port=5433 user=pgsec_app password=pw \
             dbname=db sslrootcert=/tmp/other.crt sslmode=verify-full"
        );
        assert_eq!(
            info.conninfo_for("u", "d")
                .without_sslrootcert()
                .option("sslmode", "require")
                .build(),
            "host=localhost hostaddr=127.0.0.1 port=5433 user=u dbname=d sslmode=require"
        );
        assert_eq!(
            info.socket_conninfo_for("u", "d").unwrap().build(),
            "host=/run/kit port=5433 user=u dbname=d"
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = info().conninfo_for("u", "d").password("app-secret");
        let debug = format!("{c:?}");
        assert!(!debug.contains("app-secret"), "{debug}");
        assert!(debug.contains("password=<redacted>"), "{debug}");
    }

    #[test]
    fn values_are_quoted_only_where_libpq_needs_it() {
        assert_eq!(quote("localhost"), "localhost");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote(r"it's a\b"), r"'it\'s a\\b'");
    }
}
