//! Building a test server: hardened by default, weakened only on request.

use std::fmt::Write as _;

use crate::backend::Backend;
use crate::certs::ServerIdentity;

/// How many clones of the kit's template a server keeps ready for
/// [`TestServer::fresh_database`](crate::TestServer::fresh_database) unless [`ServerBuilder::databases_ahead`] says otherwise.
pub const DATABASES_AHEAD: usize = 2;

/// Builds a [`TestServer`](crate::TestServer). Hardened by default (TLS on with a fresh CA, `hostssl` +
/// SCRAM only, pgaudit when installed, connections logged); every weakening is a method
/// named for what it does.
///
/// ```no_run
/// # async fn demo() -> Result<(), pgsec_testkit::Error> {
/// use pgsec_testkit::TestServer;
/// let weak = TestServer::builder()
///     .ssl(false)
///     .hba_lines(["host all all 0.0.0.0/0 trust"])
///     .setting("password_encryption", "md5")
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerBuilder {
    pub(crate) backend: Option<Backend>,
    pub(crate) ssl: bool,
    pub(crate) extra_hba: Vec<String>,
    pub(crate) replace_hba: bool,
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) app_superuser: bool,
    pub(crate) pgaudit: bool,
    pub(crate) identity: Option<ServerIdentity>,
    pub(crate) image: Option<String>,
    pub(crate) major: Option<u32>,
    pub(crate) databases_ahead: usize,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            backend: None,
            ssl: true,
            extra_hba: Vec::new(),
            replace_hba: false,
            settings: Vec::new(),
            app_superuser: false,
            pgaudit: true,
            identity: None,
            image: None,
            major: None,
            databases_ahead: DATABASES_AHEAD,
        }
    }
}

impl ServerBuilder {
    /// A hardened server (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Forces a backend instead of the automatic choice (and `PGSEC_TESTKIT_BACKEND`).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// `ssl = on` (default) or off. With TLS off the kit's own hba lines become `host`
    /// lines so that the server stays reachable.
    pub fn ssl(mut self, on: bool) -> Self {
        self.ssl = on;
        self
    }

    /// hba lines placed before the kit's own (first match wins, so these take effect).
    pub fn hba_lines<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_hba.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Use only the lines given with [`ServerBuilder::hba_lines`], none of the kit's.
    /// The kit still needs to log in as its admin: give a line that lets it in.
    pub fn replace_hba(mut self, replace: bool) -> Self {
        self.replace_hba = replace;
        self
    }

    /// Any `postgresql.conf` setting, written after the kit's own (so it wins).
    /// `listen_addresses` is accepted into the file but a local server still listens
    /// on loopback only.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Keeps PostgreSQL's durability settings (`fsync`, `synchronous_commit`,
    /// `full_page_writes` on) instead of the kit's test-only `off`: for a server that an
    /// audit should find production-shaped (the demo, the hardening test).
    pub fn durable(self) -> Self {
        self.setting("fsync", "on")
            .setting("synchronous_commit", "on")
            .setting("full_page_writes", "on")
    }

    /// Creates the application role as a SUPERUSER (a deliberately unsafe set-up).
    pub fn app_superuser(mut self, yes: bool) -> Self {
        self.app_superuser = yes;
        self
    }

    /// Load pgaudit when installed (default true).
    pub fn pgaudit(mut self, load: bool) -> Self {
        self.pgaudit = load;
        self
    }

    /// How many clones of the kit's template [`crate::TestServer::fresh_database`] keeps
    /// ready, made in the background on their own superuser session (default
    /// [`crate::DATABASES_AHEAD`], 0 turns it off). `CREATE DATABASE` is most of a fresh
    /// database's cost; a test that leaves a moment between two calls gets one made
    /// ahead. The price: up to this many spare databases (a few megabytes each) and
    /// their writes running beside the tests.
    pub fn databases_ahead(mut self, n: usize) -> Self {
        self.databases_ahead = n;
        self
    }

    /// Presents this certificate chain and key instead of the kit's own.
    pub fn server_identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The container image (default `PGSEC_TESTKIT_IMAGE`, else `pgsec/postgres:<major>`
    /// for the major of [`ServerBuilder::major`], `PGSEC_PG_MAJOR` or
    /// [`crate::DEFAULT_MAJOR`]).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// The PostgreSQL major this server must run (outranks `PGSEC_PG_MAJOR`). The
    /// container backend runs `pgsec/postgres:<major>` (built by
    /// `scripts/build-pg-image.sh <major>`; 15, 17 and 18 are known), the local backend
    /// `/usr/lib/postgresql/<major>/bin`. Starting fails with
    /// [`crate::Error::MajorUnavailable`] when that major is not there, or when an image
    /// given with [`ServerBuilder::image`] or `PGSEC_TESTKIT_IMAGE` runs another one.
    pub fn major(mut self, major: u32) -> Self {
        self.major = Some(major);
        self
    }

    /// True when nothing weakens the default set-up.
    pub(crate) fn is_hardened(&self) -> bool {
        self.ssl && self.extra_hba.is_empty() && !self.replace_hba && !self.app_superuser
    }

    /// The `pg_hba.conf` text. `net_lines` are the addresses the kit's own lines admit
    /// (loopback locally, the bridge inside a container).
    pub(crate) fn render_hba(&self, net_addrs: &[&str], local_socket: bool) -> String {
        let mut out = String::from("# pg_hba.conf written by pgsec-testkit\n");
        for line in &self.extra_hba {
            out.push_str(line);
            out.push('\n');
        }
        if self.replace_hba {
            return out;
        }
        let kind = if self.ssl { "hostssl" } else { "host" };
        if local_socket {
            out.push_str("local   all all scram-sha-256\n");
        }
        for addr in net_addrs {
            let _ = writeln!(out, "{kind} all all {addr} scram-sha-256");
        }
        out.push_str("host    all all 0.0.0.0/0 reject\nhost    all all ::/0 reject\n");
        out
    }

    /// The `postgresql.conf` fragment (the kit's settings, then the caller's).
    pub(crate) fn render_conf(&self, base: &[(&str, String)], pgaudit: bool) -> String {
        let mut out = String::from("\n# written by pgsec-testkit\n");
        let mut put = |k: &str, v: &str| {
            let _ = writeln!(out, "{k} = '{}'", v.replace('\'', "''"));
        };
        for (k, v) in base {
            put(k, v);
        }
        put("ssl", if self.ssl { "on" } else { "off" });
        put("ssl_cert_file", "server.crt");
        put("ssl_key_file", "server.key");
        put("ssl_min_protocol_version", "TLSv1.2");
        put("ssl_ciphers", "HIGH:!aNULL:!MEDIUM:!3DES");
        put("password_encryption", "scram-sha-256");
        put("log_connections", "on");
        put("log_disconnections", "on");
        put("log_line_prefix", "%m [%p] %q%u@%d %r ");
        put("log_lock_waits", "on");
        put("idle_in_transaction_session_timeout", "5min");
        put("max_connections", "200");
        // Fresh databases are cloned with WAL_LOG: new WAL segments need not be
        // zero-filled first (a test server is not a durability benchmark).
        put("wal_init_zero", "off");
        // Test-only durability settings (a crash loses the server, which a test never
        // reuses): no fsync of data or WAL (CREATE DATABASE's copy is fsync-bound), no
        // wait for the WAL flush at commit, no full pages after a checkpoint. NEVER on a
        // server whose data matters: with fsync off an OS crash corrupts the cluster.
        // `ServerBuilder::setting` turns them back on.
        put("fsync", "off");
        put("synchronous_commit", "off");
        put("full_page_writes", "off");
        if pgaudit && self.pgaudit {
            put("shared_preload_libraries", "pgaudit");
            put("pgaudit.log", "ddl,role");
            put("pgaudit.log_relation", "on");
        }
        for (k, v) in &self.settings {
            put(k, v);
        }
        out
    }
}
