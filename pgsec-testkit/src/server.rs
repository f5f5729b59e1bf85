//! A running test server and what it hands out.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use tokio_postgres::Client;

use crate::backend::container::{ContainerServer, ContainerSpec, DATA_DIR};
use crate::backend::local::{LocalServer, LocalSpec};
use crate::backend::{
    image_for, log_backend_once, major_from_env, Backend, DEFAULT_MAJOR, ENV_IMAGE, ENV_PG_MAJOR,
};
use crate::builder::ServerBuilder;
use crate::certs::{default_identity, ServerIdentity};
use crate::error::{Error, Result};
use crate::proxy::Proxy;

/// Name of the superuser the kit creates.
pub const ADMIN_USER: &str = "pgsec_admin";
/// Name of the non-superuser application role the kit creates.
pub const APP_USER: &str = "pgsec_app";

/// Clones of one template made ahead by a background task; closed when the task stopped.
type Ahead = tokio::sync::mpsc::Receiver<TestDatabase>;

/// The template every fresh database is cloned from.
pub const TEMPLATE_DB: &str = "pgsec_template";

/// A role's name and password. The password never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Role name.
    pub user: String,
    password: String,
}

impl Credentials {
    /// Credentials for `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The password (handle with care: never log it).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How to reach a test server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Host name to connect to and to check the certificate against (`localhost`).
    pub host: String,
    /// Address the socket is opened to (libpq `hostaddr`): 127.0.0.1.
    pub hostaddr: IpAddr,
    /// TCP port on the host.
    pub port: u16,
    /// PEM of the CA that signed the server certificate.
    pub ca_pem: String,
    /// The same CA as a file (for `sslrootcert`).
    pub ca_path: PathBuf,
    /// The superuser the kit administers the server with.
    pub admin: Credentials,
    /// A LOGIN role without SUPERUSER, CREATEDB, CREATEROLE or BYPASSRLS (unless the
    /// builder made it a superuser on purpose).
    pub app: Credentials,
    /// The Unix-socket directory (local backend only).
    pub socket_dir: Option<PathBuf>,
    /// Whether the server has `ssl = on`.
    pub ssl: bool,
}

impl ConnectionInfo {
    /// The server's socket address (`hostaddr` and `port`), e.g. the upstream of a
    /// [`Proxy`].
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.hostaddr, self.port)
    }

    /// A libpq connection string for `dbname` as `user`, without a password (give it
    /// through `PGPASSWORD` or a password file): `host` (checked by verify-full),
    /// `hostaddr`, `port` and `sslrootcert` of this server. Append options after a space.
    ///
    /// ```
    /// # fn demo(info: &pgsec_testkit::ConnectionInfo) {
    /// let conninfo = format!("{} channel_binding=require", info.conninfo_as(&info.app.user, "postgres"));
    /// # }
    /// ```
    ///
    /// [`ConnectionInfo::conninfo_for`] builds variants (another host name or root
    /// certificate, a password, options).
    pub fn conninfo_as(&self, user: &str, dbname: &str) -> String {
        self.conninfo_for(user, dbname).build()
    }
}

/// Everything needed to open connections; shared by the server and its databases.
#[derive(Debug, Clone)]
struct Connector {
    info: ConnectionInfo,
    /// False when the server presents a caller's identity that may not verify.
    verify: bool,
}

impl Connector {
    /// Connects through pgsec-client, the TLS stack applications use: verify-full
    /// against the kit's CA; for a server presenting a caller's deliberately odd
    /// certificate (expired, no SAN, unknown CA), TLS without verification behind
    /// pgsec-client's dangerous opt-in, so the kit can still set it up.
    async fn connect(&self, dbname: &str, creds: &Credentials) -> Result<Client> {
        let mut conninfo = self.conninfo(dbname, creds);
        if self.info.ssl && !self.verify {
            conninfo = self.conninfo_unverified(dbname, creds);
        }
        conninfo.push_str(" connect_timeout=10 application_name=pgsec-testkit");
        let mut config = pgsec_client::Config::parse(&conninfo).map_err(Error::Connect)?;
        if !self.info.ssl {
            config = config.dangerous_allow_plaintext();
        } else if !self.verify {
            config = config.dangerous_allow_unverified_tls();
        }
        let (client, _details) = pgsec_client::connect(&config)
            .await
            .map_err(Error::Connect)?;
        Ok(client)
    }

    /// `sslmode=require` without a root certificate (with one, libpq's `require`
    /// checks the chain, which a caller's odd certificate may not pass).
    fn conninfo_unverified(&self, dbname: &str, creds: &Credentials) -> String {
        let mut s = self.conninfo_base(self.info.addr(), dbname, creds);
        s.push_str(" sslmode=require");
        s
    }

    fn conninfo(&self, dbname: &str, creds: &Credentials) -> String {
        self.conninfo_at(self.info.addr(), dbname, creds)
    }

    /// The connection string with the socket opened to `addr` (a proxy); the host name,
    /// and so the certificate check, stay the server's.
    fn conninfo_at(&self, addr: SocketAddr, dbname: &str, creds: &Credentials) -> String {
        let mut s = self.conninfo_base(addr, dbname, creds);
        if self.info.ssl {
            s.push_str(&format!(
                " sslmode=verify-full sslrootcert={}",
                quote(&self.info.ca_path.to_string_lossy())
            ));
        } else {
            s.push_str(" sslmode=disable");
        }
        s
    }
}

impl Connector {
    /// Host, address, port, user, password and database, without TLS options.
    fn conninfo_base(&self, addr: SocketAddr, dbname: &str, creds: &Credentials) -> String {
        format!(
            "host={} hostaddr={} port={} user={} password={} dbname={}",
            self.info.host,
            addr.ip(),
            addr.port(),
            quote(&creds.user),
            quote(creds.password()),
            quote(dbname),
        )
    }
}

/// A conninfo value in single quotes, `\` and `'` escaped.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[derive(Debug)]
enum Running {
    Local(LocalServer),
    Container(ContainerServer),
}

/// Where a server's start went, step by step (see [`TestServer::start_timings`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartTimings {
    /// Generating the CA and the server certificate (zero for a caller's own identity
    /// apart from copying it).
    pub certificates: Duration,
    /// Launching the backend: the container created and started (initdb and the server
    /// start run inside it, so they fall in `until_ready`), or the local cluster copied
    /// from the cache and `pg_ctl start` returned.
    pub launch: Duration,
    /// From launch to the first authenticated TLS query as the superuser.
    pub until_ready: Duration,
    /// The kit's set-up: the application role, the template database, pgaudit.
    pub set_up: Duration,
    /// From the call to the end of set-up.
    pub total: Duration,
}

/// A running PostgreSQL server, stopped and removed on drop.
///
/// ```no_run
/// # async fn demo() -> Result<(), pgsec_testkit::Error> {
/// let server = pgsec_testkit::shared().await?;
/// let db = server.fresh_database().await?;
/// let client = db.app_client().await?;
/// let row = client.query_one("select current_user", &[]).await?;
/// assert_eq!(row.get::<_, String>(0), "pgsec_app");
/// # Ok(()) }
/// ```
pub struct TestServer {
    connector: Connector,
    backend: Backend,
    running: Running,
    has_pgaudit: bool,
    major: u32,
    hardened: bool,
    next_db: Arc<AtomicU32>,
    timings: StartTimings,
    // Clones made ahead, per template (the kit's, and each migrated one of the test
    // attribute); a template has an entry from its first clone on.
    databases_ahead: usize,
    ahead: tokio::sync::Mutex<std::collections::HashMap<String, Ahead>>,
    // A superuser session kept open for CREATE DATABASE (saves a TLS + SCRAM handshake
    // per fresh database); its connection runs on the kit's runtime.
    keeper: tokio::sync::Mutex<Option<Client>>,
    // Holds the CA file for `sslrootcert` (container backend; the local one keeps it in
    // its own temp dir).
    _files: tempfile::TempDir,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("backend", &self.backend)
            .field("info", &self.connector.info)
            .field("major", &self.major)
            .field("pgaudit", &self.has_pgaudit)
            .finish_non_exhaustive()
    }
}

fn random_password() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Quotes an identifier for SQL with pgsec-core's quoter (the kit only splices names
/// it made itself or was given for its roles).
pub(crate) fn quote_ident(s: &str) -> Result<String> {
    pgsec_core::sql::quote_ident(s)
        .map_err(|e| Error::InvalidOption(format!("role or database name: {}", e.reason())))
}

/// The running server's major (`server_version_num / 10000`).
async fn server_major(admin: &Client) -> Result<u32> {
    let row = admin
        .query_one(
            "select current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await?;
    u32::try_from(row.get::<_, i32>(0))
        .map_err(|_| Error::UnexpectedServer("server_version_num is negative".into()))
}

/// Quotes a literal for SQL.
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl TestServer {
    /// A builder for a server of your own (hardened unless you weaken it).
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// Starts a hardened server with the default backend.
    ///
    /// # Errors
    /// See [`ServerBuilder::start`].
    pub async fn start() -> Result<TestServer> {
        ServerBuilder::new().start().await
    }

    pub(crate) async fn start_with(b: ServerBuilder) -> Result<TestServer> {
        let backend = match b.backend {
            Some(backend) => backend,
            None => Backend::from_env()?,
        };
        let started = Instant::now();
        // The major asked for, and who asked (checked against the server once it is up).
        // PGSEC_PG_MAJOR does not apply to a server the test pins to the local backend
        // (it asked for this machine's binaries, e.g. for a Unix socket), which runs
        // what is installed unless the builder names a major.
        let asked: Option<(u32, &'static str)> = match b.major {
            Some(m) => Some((m, "ServerBuilder::major")),
            None => match major_from_env()? {
                Some(m) if b.backend == Some(Backend::Local) => {
                    static NOTE: std::sync::Once = std::sync::Once::new();
                    NOTE.call_once(|| {
                        eprintln!(
                            "pgsec-testkit: {ENV_PG_MAJOR}={m} does not apply to servers a test \
                             pins to the local backend; they run the installed PostgreSQL"
                        );
                    });
                    None
                }
                other => other.map(|m| (m, ENV_PG_MAJOR)),
            },
        };
        let custom_identity = b.identity.is_some();
        let identity: ServerIdentity = match b.identity.clone() {
            Some(id) => id,
            None => default_identity()?,
        };
        let certificates = started.elapsed();
        let admin = Credentials::new(ADMIN_USER, random_password());
        let app = Credentials::new(APP_USER, random_password());
        let files = tempfile::Builder::new()
            .prefix("pgsec-testkit-ca-")
            .tempdir()?;
        let ca_path = files.path().join("ca.crt");
        std::fs::write(&ca_path, &identity.ca_pem).map_err(|source| Error::Io {
            path: ca_path.clone(),
            source,
        })?;

        // The superuser's password until set-up replaces it (a cached local cluster
        // comes with its own).
        let mut bootstrap = admin.password().to_owned();
        let (running, port, socket_dir) = match backend {
            Backend::Local => {
                let hba = b.render_hba(&["127.0.0.1/32", "::1/128"], true);
                let b2 = b.clone();
                let spec = LocalSpec {
                    admin_user: ADMIN_USER.to_owned(),
                    admin_password: admin.password().to_owned(),
                    cert_chain_pem: identity.cert_chain_pem.clone(),
                    key_pem: identity.key_pem.clone(),
                    ca_pem: identity.ca_pem.clone(),
                    hba,
                    conf: Box::new(move |port, sock, pgaudit| {
                        b2.render_conf(
                            &[
                                ("port", port.to_string()),
                                ("unix_socket_directories", sock.display().to_string()),
                            ],
                            pgaudit,
                        )
                    }),
                    pgaudit_wanted: b.pgaudit,
                    also_remove: files.path().to_path_buf(),
                    major: asked,
                };
                // initdb takes a second: keep it off the test's runtime thread.
                let local = tokio::task::spawn_blocking(move || LocalServer::start(spec))
                    .await
                    .map_err(|source| Error::Task {
                        what: "local server start",
                        source,
                    })??;
                let (port, sock) = (local.port, local.socket_dir.clone());
                bootstrap = local.bootstrap_password.clone();
                (Running::Local(local), port, Some(sock))
            }
            Backend::Container => {
                // Connections arrive from the engine's bridge gateway: `samenet` admits
                // exactly the container's own subnet.
                let hba = b.render_hba(&["samenet"], false);
                let base = [
                    ("listen_addresses", "*".to_owned()),
                    ("unix_socket_directories", "/tmp".to_owned()),
                ];
                let image = b
                    .image
                    .clone()
                    .or_else(|| std::env::var(ENV_IMAGE).ok().filter(|s| !s.is_empty()))
                    .unwrap_or_else(|| image_for(asked.map_or(DEFAULT_MAJOR, |(m, _)| m)));
                crate::backend::container::check_project_image(&image, asked).await?;
                let spec = ContainerSpec {
                    image,
                    admin_password: admin.password().to_owned(),
                    cert_chain_pem: identity.cert_chain_pem.clone(),
                    key_pem: identity.key_pem.clone(),
                    ca_pem: identity.ca_pem.clone(),
                    hba,
                    conf_plain: b.render_conf(&base, false),
                    conf_pgaudit: b.render_conf(&base, true),
                    also_remove: files.path().to_path_buf(),
                };
                let c = ContainerServer::start(spec).await?;
                let port = c.port;
                (Running::Container(c), port, None)
            }
        };

        let launched = started.elapsed();
        let info = ConnectionInfo {
            host: "localhost".to_owned(),
            hostaddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            ca_pem: identity.ca_pem.clone(),
            ca_path,
            admin: Credentials::new(ADMIN_USER, bootstrap),
            app,
            socket_dir,
            ssl: b.ssl,
        };
        let mut server = TestServer {
            connector: Connector {
                info,
                verify: !custom_identity,
            },
            backend,
            running,
            has_pgaudit: false,
            major: 0,
            hardened: b.is_hardened(),
            next_db: Arc::new(AtomicU32::new(0)),
            timings: StartTimings::default(),
            databases_ahead: b.databases_ahead,
            ahead: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            keeper: tokio::sync::Mutex::new(None),
            _files: files,
        };
        let admin_client = server.wait_ready().await?;
        let ready = started.elapsed();
        let running_major = server_major(&admin_client).await?;
        server.major = running_major;
        if let Some((major, asked_by)) = asked {
            if running_major != major {
                return Err(Error::MajorUnavailable {
                    major,
                    asked_by,
                    reason: format!(
                        "the {backend} backend started PostgreSQL {running_major}{}; ask for \
                         {running_major} or run a server of {major}",
                        match &server.running {
                            Running::Container(_) => format!(
                                " (image from ServerBuilder::image or {ENV_IMAGE}, which outrank \
                                 the major's own image {})",
                                image_for(major)
                            ),
                            Running::Local(_) => String::new(),
                        }
                    ),
                });
            }
        }
        if server.connector.info.admin != admin {
            admin_client
                // The kit's own superuser keeps a SCRAM secret whatever the server's
                // password_encryption (the hba lines ask for SCRAM). The verifier is
                // computed here, so the password never reaches the server's (pgaudit) log.
                .batch_execute(&format!(
                    "ALTER ROLE {} PASSWORD {}",
                    quote_ident(&admin.user)?,
                    quote_literal(&postgres_protocol::password::scram_sha_256(
                        admin.password().as_bytes()
                    ))
                ))
                .await?;
            server.connector.info.admin = admin;
        }
        server.set_up(&admin_client, b.app_superuser).await?;
        server.timings = StartTimings {
            certificates,
            launch: launched.saturating_sub(certificates),
            until_ready: ready.saturating_sub(launched),
            set_up: started.elapsed().saturating_sub(ready),
            total: started.elapsed(),
        };
        if b.pgaudit && !server.has_pgaudit {
            crate::backend::log_missing_pgaudit_once(server.major);
        }
        log_backend_once(
            backend,
            &format!(
                "PostgreSQL {}, first server ready in {} ms",
                server.major,
                started.elapsed().as_millis()
            ),
        );
        Ok(server)
    }

    /// Ready means an authenticated query over the server's transport (TLS when on)
    /// succeeded, not a log line: the stock image starts its server twice.
    async fn wait_ready(&mut self) -> Result<Client> {
        let limit = Duration::from_secs(60);
        let deadline = Instant::now() + limit;
        let mut last_error;
        loop {
            match self.admin_client().await {
                Ok(c) => match c.simple_query("select 1").await {
                    Ok(_) => return Ok(c),
                    Err(e) => last_error = pgsec_core::display_chain(&e),
                },
                Err(e) => last_error = pgsec_core::display_chain(&e),
            }
            let exited = match &mut self.running {
                Running::Local(l) => l.exited(),
                Running::Container(c) => c.exited().await,
            };
            if exited || Instant::now() > deadline {
                let log_tail = match &self.running {
                    Running::Local(l) => l.log_tail(),
                    Running::Container(c) => c.log_tail().await,
                };
                return Err(Error::NotReady {
                    seconds: limit.as_secs(),
                    last_error: if exited {
                        format!("the server exited ({last_error})")
                    } else {
                        last_error
                    },
                    log_tail,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn set_up(&mut self, admin: &Client, app_superuser: bool) -> Result<()> {
        let row = admin
            .query_one(
                "select current_setting('shared_preload_libraries'), \
                        current_setting('password_encryption')",
                &[],
            )
            .await?;
        self.has_pgaudit = row
            .get::<_, String>(0)
            .split(',')
            .any(|l| l.trim() == "pgaudit");
        let app = &self.connector.info.app;
        let attrs = if app_superuser {
            "SUPERUSER"
        } else {
            "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
        };
        // The secret as the server's password_encryption would store it, computed here
        // so that the password itself never reaches the server's (pgaudit) log.
        let encryption: String = row.get(1);
        let secret = if encryption == "md5" {
            postgres_protocol::password::md5(app.password().as_bytes(), &app.user)
        } else {
            postgres_protocol::password::scram_sha_256(app.password().as_bytes())
        };
        // One statement at a time: CREATE DATABASE refuses to run in the implicit
        // transaction of a multi-statement query.
        admin
            .batch_execute(&format!(
                "CREATE ROLE {} LOGIN {attrs} PASSWORD {}",
                quote_ident(&app.user)?,
                quote_literal(&secret),
            ))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(TEMPLATE_DB)?))
            .await?;
        if self.has_pgaudit {
            admin
                .batch_execute("CREATE EXTENSION IF NOT EXISTS pgaudit")
                .await?;
        }
        let tpl = self.admin_connect(TEMPLATE_DB).await?;
        let mut sql = format!(
            "GRANT USAGE, CREATE ON SCHEMA public TO {};\n",
            quote_ident(&app.user)?
        );
        if self.has_pgaudit {
            sql.push_str("CREATE EXTENSION IF NOT EXISTS pgaudit;\n");
        }
        tpl.batch_execute(&sql).await?;
        Ok(())
    }

    async fn admin_connect(&self, dbname: &str) -> Result<Client> {
        self.connector
            .connect(dbname, &self.connector.info.admin)
            .await
    }

    /// How long each step of this server's start took.
    pub fn start_timings(&self) -> StartTimings {
        self.timings
    }

    /// Which backend runs this server.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Host, port, CA and credentials.
    pub fn info(&self) -> &ConnectionInfo {
        &self.connector.info
    }

    /// True when the server runs with the kit's hardened defaults, unweakened.
    pub fn is_hardened(&self) -> bool {
        self.hardened
    }

    /// Whether pgaudit is in `shared_preload_libraries` (absent from stock images: that
    /// is reported here, not an error).
    pub fn has_pgaudit(&self) -> bool {
        self.has_pgaudit
    }

    /// The server's major version, as the running server reports it
    /// (`server_version_num / 10000`), whatever was asked for.
    pub fn major_version(&self) -> u32 {
        self.major
    }

    /// The container's id (container backend only).
    pub fn container_id(&self) -> Option<&str> {
        match &self.running {
            Running::Container(c) => Some(&c.id),
            Running::Local(_) => None,
        }
    }

    /// The data directory as the server sees it.
    pub fn data_dir(&self) -> String {
        match &self.running {
            Running::Local(l) => l.data.to_string_lossy().into_owned(),
            Running::Container(_) => DATA_DIR.to_owned(),
        }
    }

    /// The server log so far (its last lines), for diagnostics.
    pub async fn log_tail(&self) -> String {
        match &self.running {
            Running::Local(l) => l.log_tail(),
            Running::Container(c) => c.log_tail().await,
        }
    }

    /// A client connected as the superuser to `postgres` over verified TLS (the kit's
    /// CA and the host name; a server started with a caller's own identity is reached
    /// encrypted but unverified, since that identity may be broken on purpose).
    ///
    /// # Errors
    /// The connection failed.
    pub async fn admin_client(&self) -> Result<Client> {
        self.admin_connect("postgres").await
    }

    /// A client for `dbname` as `creds`, over the server's transport.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn connect(&self, dbname: &str, creds: &Credentials) -> Result<Client> {
        self.connector.connect(dbname, creds).await
    }

    /// A libpq connection string for `dbname` as `creds` (`sslmode=verify-full` with the
    /// CA file when TLS is on). Contains the password.
    pub fn conninfo(&self, dbname: &str, creds: &Credentials) -> String {
        self.connector.conninfo(dbname, creds)
    }

    /// Like [`TestServer::conninfo`], connecting through `proxy` (`hostaddr` and `port`
    /// are the proxy's; `host`, and so verify-full's certificate check, the server's).
    pub fn conninfo_via(&self, proxy: &Proxy, dbname: &str, creds: &Credentials) -> String {
        self.connector.conninfo_at(proxy.addr(), dbname, creds)
    }

    /// A new, empty database cloned from the kit's template (the app role may connect
    /// and create in its `public` schema). Databases live as long as the server.
    ///
    /// The first call starts a background task that keeps
    /// [`ServerBuilder::databases_ahead`] clones ready (default [`crate::DATABASES_AHEAD`]), so
    /// later calls usually take one that is already made instead of waiting for
    /// `CREATE DATABASE`. Every clone is of the same untouched template, and each is
    /// handed out once.
    ///
    /// # Errors
    /// The `CREATE DATABASE` failed.
    pub async fn fresh_database(&self) -> Result<TestDatabase> {
        self.clone_made_ahead(TEMPLATE_DB).await
    }

    /// A clone of `template`, taken from the ones a background task keeps ready
    /// ([`ServerBuilder::databases_ahead`]); the first call for a template starts its
    /// task. Also what `#[pgsec_testkit::test(migrations = ...)]` uses for its migrated
    /// templates.
    pub(crate) async fn clone_made_ahead(&self, template: &str) -> Result<TestDatabase> {
        if self.databases_ahead == 0 {
            return self.fresh_database_from(template).await;
        }
        let mut ahead = self.ahead.lock().await;
        if let Some(rx) = ahead.get_mut(template) {
            // Waiting for the clone in progress is never slower than starting another.
            if let Some(db) = rx.recv().await {
                return Ok(db);
            }
            // The task stopped (a restart ended its session, or CREATE DATABASE
            // failed): make this one here, where an error reaches the caller, and
            // start a new task.
        }
        ahead.insert(template.to_owned(), self.spawn_databases_ahead(template));
        drop(ahead);
        self.fresh_database_from(template).await
    }

    /// Starts the task that keeps `databases_ahead` clones of `template` ready, on the
    /// kit's runtime and its own superuser session. It ends, closing the channel, when
    /// the server is dropped (the receiver with it) or on its first error.
    fn spawn_databases_ahead(&self, template: &str) -> Ahead {
        let (tx, rx) = tokio::sync::mpsc::channel(self.databases_ahead.max(1));
        let template = template.to_owned();
        let connector = self.connector.clone();
        let next_db = Arc::clone(&self.next_db);
        crate::backend::container::kit_runtime().spawn(async move {
            let Ok(admin) = connector.connect("postgres", &connector.info.admin).await else {
                return;
            };
            let Ok(strategy) = crate::pool_of_dbs::clone_strategy(&admin).await else {
                return;
            };
            // A slot first, then the clone: ready and in-progress clones together never
            // exceed the channel's capacity.
            while let Ok(slot) = tx.reserve().await {
                match clone_database(&admin, &connector, &next_db, &template, strategy).await {
                    Ok(db) => slot.send(db),
                    Err(_) => return,
                }
            }
        });
        rx
    }

    /// A new database cloned from `template`, a database of this server that nobody is
    /// connected to (for example one made by [`TestServer::fresh_database`] and then
    /// migrated: what `#[pgsec_testkit::test(migrations = ...)]` does once per binary).
    ///
    /// # Errors
    /// The `CREATE DATABASE` failed (also when a session is still connected to
    /// `template`).
    pub async fn fresh_database_from(&self, template: &str) -> Result<TestDatabase> {
        let mut keeper = self.keeper.lock().await;
        let admin = match keeper.take() {
            Some(client) if !client.is_closed() => client,
            // Connect on the kit's runtime: a socket belongs to the runtime that opened
            // it, and each test's runtime ends with the test.
            _ => {
                let connector = self.connector.clone();
                crate::backend::container::kit_runtime()
                    .spawn(
                        async move { connector.connect("postgres", &connector.info.admin).await },
                    )
                    .await
                    .map_err(|source| Error::Task {
                        what: "admin session",
                        source,
                    })??
            }
        };
        // WAL_LOG or FILE_COPY, whichever is faster on this server's settings.
        let made = match crate::pool_of_dbs::clone_strategy(&admin).await {
            Ok(strategy) => {
                clone_database(&admin, &self.connector, &self.next_db, template, strategy).await
            }
            Err(e) => Err(e),
        };
        *keeper = Some(admin);
        made
    }

    /// Writes a file under the data directory (parents created), e.g. an hba corpus
    /// to compare with `pg_hba_file_rules`. Owned by the server's user, mode 0600.
    ///
    /// # Errors
    /// The write failed.
    pub async fn write_file(&self, rel_path: &str, contents: &str) -> Result<()> {
        if rel_path.starts_with('/') || rel_path.split('/').any(|c| c == "..") {
            return Err(Error::InvalidOption(format!(
                "write_file takes a path inside the data directory, not {rel_path:?}"
            )));
        }
        match &self.running {
            Running::Local(l) => l.write_file(rel_path, contents),
            Running::Container(c) => c.write_file(rel_path, contents).await,
        }
    }

    /// Restarts the server as an operator would (`pg_ctl restart -m fast`): every open
    /// session is ended, committed data stays, and the server answers again on the same
    /// port and with the same credentials when this returns. Local backend only for now
    /// (start the server with `.backend(Backend::Local)`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on the container backend; the stop or start failed; the
    /// server did not become ready again ([`Error::NotReady`]).
    pub async fn restart(&mut self) -> Result<()> {
        match &mut self.running {
            Running::Local(local) => local.restart()?,
            Running::Container(_) => {
                return Err(Error::Unsupported(
                    "TestServer::restart needs the local backend: start the server with \
                     TestServer::builder().backend(Backend::Local)"
                        .into(),
                ))
            }
        }
        // The kept admin session died with the old server.
        *self.keeper.lock().await = None;
        self.wait_ready().await.map(drop)
    }

    /// Asks the server to re-read its configuration files (`pg_reload_conf()`).
    ///
    /// # Errors
    /// The query failed.
    pub async fn reload(&self) -> Result<()> {
        self.admin_client()
            .await?
            .simple_query("select pg_reload_conf()")
            .await?;
        Ok(())
    }
}

/// `CREATE DATABASE` of a new, process-unique name from `template` on `admin`'s server.
async fn clone_database(
    admin: &Client,
    connector: &Connector,
    next_db: &AtomicU32,
    template: &str,
    strategy: &str,
) -> Result<TestDatabase> {
    let n = next_db.fetch_add(1, Ordering::Relaxed);
    let name = format!("pgsec_test_{}_{n}", std::process::id());
    let (name_sql, template_sql) = (quote_ident(&name)?, quote_ident(template)?);
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name_sql} TEMPLATE {template_sql} STRATEGY {strategy}"
        ))
        .await?;
    Ok(TestDatabase {
        name,
        connector: Arc::new(connector.clone()),
    })
}

/// A database of its own for one test, cloned from the kit's template.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    name: String,
    connector: Arc<Connector>,
}

impl TestDatabase {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client as the superuser.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn admin_client(&self) -> Result<Client> {
        self.connector
            .connect(&self.name, &self.connector.info.admin)
            .await
    }

    /// A client as the application role.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn app_client(&self) -> Result<Client> {
        self.connector
            .connect(&self.name, &self.connector.info.app)
            .await
    }

    /// libpq connection string as the superuser (contains the password).
    pub fn admin_conninfo(&self) -> String {
        self.connector
            .conninfo(&self.name, &self.connector.info.admin)
    }

    /// libpq connection string as the application role (contains the password).
    pub fn app_conninfo(&self) -> String {
        self.connector
            .conninfo(&self.name, &self.connector.info.app)
    }

    /// [`TestDatabase::app_conninfo`] through `proxy`: `hostaddr` and `port` are the
    /// proxy's, `host` (checked against the server certificate) the server's.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pgsec_testkit::Error> {
    /// let server = pgsec_testkit::shared().await?;
    /// let db = server.fresh_database().await?;
    /// let proxy = pgsec_testkit::Proxy::start(db.info().addr()).await?;
    /// let conninfo = db.app_conninfo_via(&proxy);
    /// assert!(conninfo.contains(&format!("port={}", proxy.port())));
    /// # Ok(()) }
    /// ```
    pub fn app_conninfo_via(&self, proxy: &Proxy) -> String {
        self.connector
            .conninfo_at(proxy.addr(), &self.name, &self.connector.info.app)
    }

    /// [`TestDatabase::admin_conninfo`] through `proxy` (see
    /// [`TestDatabase::app_conninfo_via`]).
    pub fn admin_conninfo_via(&self, proxy: &Proxy) -> String {
        self.connector
            .conninfo_at(proxy.addr(), &self.name, &self.connector.info.admin)
    }

    /// Host, port, CA and credentials of the server.
    pub fn info(&self) -> &ConnectionInfo {
        &self.connector.info
    }
}

// Here rather than in builder.rs: the builder holds options, the server starts them.
impl ServerBuilder {
    /// Starts the server and waits until an authenticated TLS query succeeds.
    ///
    /// # Errors
    /// No backend is usable, the server failed to start, or it did not become ready.
    pub async fn start(self) -> Result<TestServer> {
        TestServer::start_with(self).await
    }
}
