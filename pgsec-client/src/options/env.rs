//! The environment libpq reads, made explicit so it can be injected in tests.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Upstream libpq's compiled-in socket directory.
pub(crate) const FALLBACK_SOCKET_DIR: &str = "/tmp";

/// The environment that [`crate::Config::with_env`] reads: `PG*` variables, the home
/// directory (for `~/.pgpass` and `~/.postgresql`), the operating-system user (the
/// default user name) and the default Unix-socket directory.
///
/// `Debug` lists variable names only, never values (PGPASSWORD is a secret).
///
/// ```
/// use pgsec_client::{Config, Environment};
/// let env = Environment::empty()
///     .var("PGHOST", "db.example.com")
///     .var("PGUSER", "app")
///     .home("/home/app");
/// let config = Config::parse_with_env("dbname=shop", &env)?;
/// assert_eq!(config.get_user(), Some("app"));
/// # Ok::<(), pgsec_client::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Environment {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
    os_user: Option<String>,
    socket_dir: Option<PathBuf>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("vars", &names)
            .field("home", &self.home)
            .field("os_user", &self.os_user)
            .field("socket_dir", &self.socket_dir)
            .finish()
    }
}

impl Environment {
    /// No variables, no home directory, no OS user.
    pub fn empty() -> Self {
        Environment::default()
    }

    /// The process environment: `PG*` variables, `HOME`, the user from `USER` or
    /// `LOGNAME`, and `/var/run/postgresql` as socket directory when it exists (Debian's
    /// libpq default), else `/tmp`.
    pub fn current() -> Self {
        let vars: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("PG"))
            .collect();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty());
        let debian = Path::new("/var/run/postgresql");
        let socket_dir = if debian.is_dir() {
            debian.to_path_buf()
        } else {
            PathBuf::from(FALLBACK_SOCKET_DIR)
        };
        Environment {
            vars,
            home,
            os_user,
            socket_dir: Some(socket_dir),
        }
    }

    /// Sets a variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets the home directory.
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Sets the operating-system user (libpq's default user name).
    pub fn os_user(mut self, user: impl Into<String>) -> Self {
        self.os_user = Some(user.into());
        self
    }

    /// Sets the directory used for an empty host.
    pub fn socket_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.socket_dir = Some(dir.into());
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub(crate) fn home_dir(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    pub(crate) fn user_name(&self) -> Option<&str> {
        self.os_user.as_deref()
    }

    pub(crate) fn socket_directory(&self) -> &Path {
        self.socket_dir
            .as_deref()
            .unwrap_or(Path::new(FALLBACK_SOCKET_DIR))
    }
}
