//! Runs one connection string through psql and through pgsec-client.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use pgsec_client::{connect, Config, ConnectionDetails, Environment};
use pgsec_testkit::{ServerIdentity, TestCa, TestServer, APP_USER};

/// Where psql lives (Debian's postgresql-client, installed by scripts/test.sh).
pub(crate) const PSQL: &str = "/usr/bin/psql";

/// The two verdicts for one connection string.
#[derive(Debug)]
pub(crate) struct Verdicts {
    /// psql's: Ok, or its stderr.
    pub(crate) psql: Result<(), String>,
    /// pgsec-client's.
    pub(crate) pgsec: Result<ConnectionDetails, pgsec_client::Error>,
}

impl Verdicts {
    pub(crate) fn psql_ok(&self) -> bool {
        self.psql.is_ok()
    }

    pub(crate) fn pgsec_ok(&self) -> bool {
        self.pgsec.is_ok()
    }

    pub(crate) fn refusal(&self) -> Option<&pgsec_client::CertificateRefusal> {
        self.pgsec
            .as_ref()
            .err()
            .and_then(|e| e.certificate_refusal())
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "psql: {}\npgsec: {}",
            match &self.psql {
                Ok(()) => "connected".to_string(),
                Err(e) => e.trim().to_string(),
            },
            match &self.pgsec {
                Ok(_) => "connected".to_string(),
                Err(e) => e.to_string(),
            }
        )
    }
}

/// A temporary directory holding CA files and an empty HOME (so neither client picks
/// up a ~/.postgresql or ~/.pgpass of the machine).
pub(crate) struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub(crate) fn new() -> Self {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn home(&self) -> PathBuf {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        home
    }
}

/// A server presenting a certificate issued under a fresh root CA, with the root's
/// certificate written as `root.crt` in files of its own: one case of the matrix.
pub(crate) struct CaServer {
    pub(crate) server: TestServer,
    pub(crate) files: Files,
    /// `root.crt`: the root CA, for `sslrootcert`.
    pub(crate) root: PathBuf,
}

impl CaServer {
    /// The common name of the root CA (`CN=matrix root` in refusals).
    pub(crate) const ROOT: &'static str = "matrix root";

    /// A server presenting what `issue` makes with the root CA: (certificate chain PEM,
    /// key PEM).
    pub(crate) async fn issued(
        issue: impl FnOnce(&TestCa) -> pgsec_testkit::Result<(String, String)>,
    ) -> CaServer {
        let ca = TestCa::new(Self::ROOT).unwrap();
        let (cert_chain_pem, key_pem) = issue(&ca).expect("the server certificate");
        let server = TestServer::builder()
            .server_identity(ServerIdentity {
                ca_pem: ca.cert_pem.clone(),
                cert_chain_pem,
                key_pem,
            })
            .start()
            .await
            .expect("test server with a custom identity");
        let files = Files::new();
        let root = files.write("root.crt", &ca.cert_pem);
        CaServer {
            server,
            files,
            root,
        }
    }

    /// Both verdicts for `host` (the name checked), `hostaddr` (where the socket goes),
    /// trusting `root.crt`.
    pub(crate) async fn run(&self, host: &str, hostaddr: Option<&str>) -> Verdicts {
        self.run_trusting(host, hostaddr, &self.root).await
    }

    /// [`CaServer::run`] trusting the certificates in `rootcert` instead.
    pub(crate) async fn run_trusting(
        &self,
        host: &str,
        hostaddr: Option<&str>,
        rootcert: &Path,
    ) -> Verdicts {
        let conninfo = conninfo(&self.server, host, hostaddr, rootcert, "");
        run_both(&self.server, &self.files, &conninfo).await
    }
}

/// A server that asks for client certificates and authenticates the application role
/// by one (`hostssl all pgsec_app all cert`), its certificate issued by `ca` for
/// `localhost` and `127.0.0.1`. `ssl_ca_file` (what client certificates are checked
/// against) is the server's own certificate file with the CA appended: one file, no
/// reload needed.
pub(crate) async fn client_cert_server(ca: &TestCa) -> TestServer {
    let (server_cert, server_key) = ca
        .issue(&["localhost", "127.0.0.1"], Some("localhost"))
        .unwrap();
    TestServer::builder()
        .server_identity(ServerIdentity {
            ca_pem: ca.cert_pem.clone(),
            cert_chain_pem: format!("{server_cert}{}", ca.cert_pem),
            key_pem: server_key,
        })
        .setting("ssl_ca_file", "server.crt")
        .hba_lines([format!("hostssl all {APP_USER} all cert")])
        .start()
        .await
        .expect("a server with certificate authentication for the app role")
}

/// A client certificate and key (PEM) for the application role, issued by `ca`.
pub(crate) fn app_client_cert(ca: &TestCa) -> (String, String) {
    ca.issue_with(&[], Some(APP_USER), |p| {
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    })
    .unwrap()
}

/// The connection string both clients get (the password travels in PGPASSWORD).
pub(crate) fn conninfo(
    server: &TestServer,
    host: &str,
    hostaddr: Option<&str>,
    rootcert: &Path,
    extra: &str,
) -> String {
    let info = server.info();
    let mut s = format!(
        "host={host} port={} sslmode=verify-full sslrootcert={} user={} dbname=postgres \
         connect_timeout=20",
        info.port,
        rootcert.display(),
        info.admin.user
    );
    if let Some(addr) = hostaddr {
        s.push_str(&format!(" hostaddr={addr}"));
    }
    if !extra.is_empty() {
        s.push(' ');
        s.push_str(extra);
    }
    s
}

/// Runs `conninfo` through psql (`-c 'select 1'`) and through pgsec-client.
pub(crate) async fn run_both(server: &TestServer, files: &Files, conninfo: &str) -> Verdicts {
    let password = server.info().admin.password().to_owned();
    let home = files.home();
    let out = tokio::process::Command::new(PSQL)
        .arg(conninfo)
        .args(["-X", "-A", "-t", "-c", "select 1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("LANG", "C")
        .env("PGPASSWORD", &password)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("psql runs (install postgresql-client)");
    let psql = if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1" {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let env = Environment::empty()
        .var("PGPASSWORD", password)
        .home(&home)
        .os_user("nobody");
    let config = Config::parse_with_env(conninfo, &env).expect("the conninfo parses");
    let pgsec = match connect(&config).await {
        Ok((client, details)) => {
            let row = client.query_one("select 1", &[]).await.expect("select 1");
            assert_eq!(row.get::<_, i32>(0), 1);
            Ok(details)
        }
        Err(e) => Err(e),
    };
    Verdicts { psql, pgsec }
}
