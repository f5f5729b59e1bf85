//! Debian's PgBouncer in front of a test server, TLS on both sides.
//!
//! [`PgBouncer::start`] runs `pgbouncer` (from `PGBOUNCER`, `PATH` or `/usr/sbin`) in
//! transaction pooling mode on a free loopback port:
//!
//! - server side: TLS with `server_tls_sslmode = verify-full` against the test server's
//!   CA (the server is addressed as `127.0.0.1`, which its certificate names);
//! - client side: TLS required, with a certificate for `localhost` and `127.0.0.1` from
//!   a CA the kit generates, so clients can use `sslmode=verify-full`;
//! - authentication: SCRAM, with an `auth_file` holding the roles' SCRAM secrets (read
//!   from `pg_authid`, never passwords), which PgBouncer also uses to log in to the
//!   server.
//!
//! [`PgBouncer::stop`] and [`PgBouncer::restart`] take it down (`SIGTERM`: its immediate
//! shutdown, closing every connection) and bring it back on the same port, for fault
//! tests.
//!
//! PgBouncer refuses to run as root, so when the tests run as root it runs as the
//! `postgres` user and its files are handed to that user. It is stopped, and its files
//! removed, when the [`PgBouncer`] is dropped or the test process ends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgsec_testkit::Error> {
//! use pgsec_testkit::pgbouncer::PgBouncer;
//! let server = pgsec_testkit::shared().await?;
//! let db = server.fresh_database().await?;
//! let bouncer = PgBouncer::builder(server).default_pool_size(2).start().await?;
//! let conninfo = bouncer.conninfo(db.name(), &server.info().app);
//! # let _ = conninfo; Ok(()) }
//! ```

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::backend::local::RunAs;
use crate::backend::reaper::{sh_quote, Reaper};
use crate::certs::TestCa;
use crate::error::{Error, Result};
use crate::server::{Credentials, TestServer};

/// How long to wait for PgBouncer to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`PgBouncer::stop`] waits after `SIGTERM` before `SIGKILL`.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The pid of the current `pgbouncer` process, for the reaper (empty while stopped).
const CHILD_PID_FILE: &str = "child.pid";

/// PgBouncer's `pool_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolMode {
    /// A server connection per client connection.
    Session,
    /// A server connection per transaction (the default here).
    Transaction,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// Options for [`PgBouncer`].
#[derive(Debug)]
#[must_use = "a builder does nothing until start() is awaited"]
pub struct PgBouncerBuilder<'a> {
    server: &'a TestServer,
    pool_mode: PoolMode,
    default_pool_size: u32,
    max_client_conn: u32,
}

impl PgBouncerBuilder<'_> {
    /// `pool_mode` (default transaction).
    pub fn pool_mode(mut self, mode: PoolMode) -> Self {
        self.pool_mode = mode;
        self
    }

    /// Server connections per database and user (`default_pool_size`, default 2).
    pub fn default_pool_size(mut self, size: u32) -> Self {
        self.default_pool_size = size;
        self
    }

    /// Most client connections (`max_client_conn`, default 100).
    pub fn max_client_conn(mut self, max: u32) -> Self {
        self.max_client_conn = max;
        self
    }

    /// Writes the configuration and starts PgBouncer; returns once it accepts TCP
    /// connections.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when a size is zero; [`Error::Unsupported`] when
    /// `pgbouncer` is not installed or a role has no SCRAM secret;
    /// [`Error::Postgres`] when the SCRAM secrets cannot be read; [`Error::NotReady`]
    /// (with PgBouncer's log) when it does not start.
    pub async fn start(self) -> Result<PgBouncer> {
        if self.default_pool_size == 0 || self.max_client_conn == 0 {
            return Err(Error::InvalidOption(
                "pgbouncer pool sizes must be at least 1".to_owned(),
            ));
        }
        let binary = find_binary()?;
        let info = self.server.info();
        let run_as = RunAs::detect()?;
        let dir = tempfile::Builder::new()
            .prefix("pgsec-pgbouncer-")
            .tempdir()?;
        let path = |name: &str| dir.path().join(name);

        let auth = auth_file(self.server, &[&info.admin, &info.app]).await?;
        let ca = TestCa::new("pgsec testkit pgbouncer CA")?;
        let (cert, key) = ca.issue(&["localhost", "127.0.0.1"], Some("pgbouncer"))?;
        let port = free_port()?;
        let server_tls = if info.ssl {
            format!(
                "server_tls_sslmode = verify-full\nserver_tls_ca_file = {}\n",
                path("server-ca.pem").display()
            )
        } else {
            "server_tls_sslmode = disable\n".to_owned()
        };
        let ini = format!(
            "[databases]\n\
             * = host={host} port={server_port}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             pool_mode = {mode}\n\
             default_pool_size = {pool}\n\
             min_pool_size = 0\n\
             reserve_pool_size = 0\n\
             max_client_conn = {max_client}\n\
             auth_type = scram-sha-256\n\
             auth_file = {auth_file}\n\
             client_tls_sslmode = require\n\
             client_tls_cert_file = {cert_file}\n\
             client_tls_key_file = {key_file}\n\
             {server_tls}\
             logfile = {log}\n\
             pidfile = {pid}\n\
             log_connections = 1\n\
             log_disconnections = 1\n",
            host = info.hostaddr,
            server_port = info.port,
            mode = self.pool_mode.as_str(),
            pool = self.default_pool_size,
            max_client = self.max_client_conn,
            auth_file = path("userlist.txt").display(),
            cert_file = path("bouncer.crt").display(),
            key_file = path("bouncer.key").display(),
            log = path("pgbouncer.log").display(),
            pid = path("pgbouncer.pid").display(),
        );
        let files = [
            ("pgbouncer.ini", ini.as_str()),
            ("userlist.txt", auth.as_str()),
            ("server-ca.pem", info.ca_pem.as_str()),
            ("bouncer.crt", cert.as_str()),
            ("bouncer.key", key.as_str()),
            ("ca.pem", ca.cert_pem.as_str()),
            ("pgbouncer.log", ""),
        ];
        for (name, contents) in files {
            write_private(&path(name), contents, &run_as)?;
        }
        run_as.chown(dir.path())?;

        let child = spawn(&binary, dir.path(), run_as)?;
        // The reaper signals whichever process `child.pid` names (restart() replaces it).
        let reaper = Reaper::spawn(&format!(
            "pid=$(cat {pid_file} 2>/dev/null); if [ -n \"$pid\" ]; then \
             kill -TERM \"$pid\" 2>/dev/null; sleep 1; kill -KILL \"$pid\" 2>/dev/null; fi; \
             rm -rf {dir}",
            pid_file = sh_quote(&path(CHILD_PID_FILE).to_string_lossy()),
            dir = sh_quote(&dir.path().to_string_lossy()),
        ))?;
        let mut bouncer = PgBouncer {
            port,
            ca_pem: ca.cert_pem.clone(),
            ca_path: path("ca.pem"),
            pool_mode: self.pool_mode,
            default_pool_size: self.default_pool_size,
            binary,
            run_as,
            child,
            running: true,
            reaper,
            dir,
        };
        bouncer.wait_ready().await?;
        Ok(bouncer)
    }
}

/// A running PgBouncer (see the module docs). Stopped on drop.
pub struct PgBouncer {
    port: u16,
    ca_pem: String,
    ca_path: PathBuf,
    pool_mode: PoolMode,
    default_pool_size: u32,
    binary: PathBuf,
    run_as: RunAs,
    /// The current process (after [`PgBouncer::stop`], one already reaped).
    child: Child,
    running: bool,
    reaper: Reaper,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Options for a PgBouncer in front of `server`.
    pub fn builder(server: &TestServer) -> PgBouncerBuilder<'_> {
        PgBouncerBuilder {
            server,
            pool_mode: PoolMode::Transaction,
            default_pool_size: 2,
            max_client_conn: 100,
        }
    }

    /// PgBouncer in transaction pooling mode with 2 server connections per database
    /// and user.
    ///
    /// # Errors
    /// As [`PgBouncerBuilder::start`].
    pub async fn start(server: &TestServer) -> Result<PgBouncer> {
        Self::builder(server).start().await
    }

    /// Host name clients connect to and verify (`localhost`).
    pub fn host(&self) -> &str {
        "localhost"
    }

    /// The loopback port PgBouncer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that issued PgBouncer's client-side certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The same CA as a file (for `sslrootcert`).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// `pool_mode`.
    pub fn pool_mode(&self) -> PoolMode {
        self.pool_mode
    }

    /// Server connections per database and user.
    pub fn default_pool_size(&self) -> u32 {
        self.default_pool_size
    }

    /// A libpq connection string through PgBouncer for `dbname` as `creds`
    /// (`sslmode=verify-full` with PgBouncer's CA). Contains the password.
    pub fn conninfo(&self, dbname: &str, creds: &Credentials) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host=localhost hostaddr=127.0.0.1 port={} user={} password={} dbname={} \
             sslmode=verify-full sslrootcert={}",
            self.port,
            q(&creds.user),
            q(creds.password()),
            q(dbname),
            q(&self.ca_path.to_string_lossy()),
        )
    }

    /// Whether PgBouncer runs (false after [`PgBouncer::stop`] until
    /// [`PgBouncer::restart`]).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Stops PgBouncer with `SIGTERM`, its immediate shutdown: every client and server
    /// connection is closed at once, transactions in flight included. Waits until the
    /// process has exited (`SIGKILL` after 10 s). Does nothing when it is stopped.
    ///
    /// # Errors
    /// [`Error::Io`] when the signal cannot be sent.
    pub async fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        let pid = self.child.id();
        // The kit has no unsafe code, so the signal goes through kill(1); the child is
        // not reaped before it is sent, so its pid cannot have been reused.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| Error::Io {
                path: PathBuf::from("kill"),
                source,
            })?;
        // From here the process may be reaped: the reaper must not signal its pid.
        let pid_file = self.dir.path().join(CHILD_PID_FILE);
        std::fs::write(&pid_file, "").map_err(|source| Error::Io {
            path: pid_file,
            source,
        })?;
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if !sent.success() || start.elapsed() > STOP_TIMEOUT => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        // A pidfile left by a killed process would make the next start wait for it.
        let _ = std::fs::remove_file(self.dir.path().join("pgbouncer.pid"));
        self.running = false;
        Ok(())
    }

    /// Stops PgBouncer (as [`PgBouncer::stop`]) if it runs and starts it again on the
    /// same port with the same configuration; returns once it accepts connections.
    /// Clients see their connections closed, and new ones are accepted again.
    ///
    /// # Errors
    /// As [`PgBouncer::stop`]; [`Error::NotReady`] (with PgBouncer's log) when it does
    /// not start again.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.child = spawn(&self.binary, self.dir.path(), self.run_as)?;
        self.running = true;
        self.wait_ready().await
    }

    /// The end of PgBouncer's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let start = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut last_error = String::from("not tried");
        while start.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                last_error = format!("pgbouncer exited ({status})");
                break;
            }
            match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => return Ok(()),
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(Error::NotReady {
            seconds: READY_TIMEOUT.as_secs(),
            last_error,
            log_tail: self.log_tail(),
        })
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // The reaper signals the pid while it is still our (possibly zombie) child, so it
        // cannot hit a reused pid; only then is the child reaped.
        self.reaper.finish();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl fmt::Debug for PgBouncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBouncer")
            .field("port", &self.port)
            .field("pool_mode", &self.pool_mode)
            .field("default_pool_size", &self.default_pool_size)
            .field("running", &self.running)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// Starts `pgbouncer` on the configuration in `dir` and records its pid for the reaper.
fn spawn(binary: &Path, dir: &Path, run_as: RunAs) -> Result<Child> {
    let mut command = Command::new(binary);
    command
        .arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run_as.apply(&mut command);
    let child = command.spawn().map_err(|source| Error::Io {
        path: binary.to_path_buf(),
        source,
    })?;
    let pid_file = dir.join(CHILD_PID_FILE);
    std::fs::write(&pid_file, child.id().to_string()).map_err(|source| Error::Io {
        path: pid_file,
        source,
    })?;
    Ok(child)
}

/// `"user" "SCRAM-SHA-256$..."` lines for the given roles, read from `pg_authid` as the
/// kit's superuser.
async fn auth_file(server: &TestServer, roles: &[&Credentials]) -> Result<String> {
    let admin = server.admin_client().await?;
    let names: Vec<&str> = roles.iter().map(|c| c.user.as_str()).collect();
    let rows = admin
        .query(
            "select rolname::text, rolpassword from pg_catalog.pg_authid \
             where rolname = any($1) and rolpassword like 'SCRAM-SHA-256$%'",
            &[&names],
        )
        .await?;
    if rows.len() != names.len() {
        return Err(Error::Unsupported(format!(
            "pgbouncer needs SCRAM secrets for {names:?}; found {} (password_encryption must \
             be scram-sha-256)",
            rows.len()
        )));
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::new();
    for row in rows {
        let user: String = row.try_get(0)?;
        let secret: String = row.try_get(1)?;
        out.push_str(&format!("{} {}\n", quote(&user), quote(&secret)));
    }
    Ok(out)
}

fn find_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PGBOUNCER") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Unsupported(
                "pgbouncer not found in PGBOUNCER, PATH or /usr/sbin; install Debian's package \
                 (apt-get install pgbouncer; scripts/test.sh does)"
                    .to_owned(),
            )
        })
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn write_private(path: &Path, contents: &str, run_as: &RunAs) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, contents).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    run_as.chown(path)
}
