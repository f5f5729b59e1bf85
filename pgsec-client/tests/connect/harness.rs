//! Runs one connection string through psql and through pgsec-client.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use pgsec_client::{connect, Config, ConnectionDetails, Environment};
use pgsec_testkit::{ServerIdentity, TestCa, TestServer};

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

/// A server presenting `cert_chain_pem` / `key_pem`, with clients told to trust `ca`.
pub(crate) async fn server_with(
    ca: &TestCa,
    cert_chain_pem: String,
    key_pem: String,
) -> TestServer {
    TestServer::builder()
        .server_identity(ServerIdentity {
            ca_pem: ca.cert_pem.clone(),
            cert_chain_pem,
            key_pem,
        })
        .start()
        .await
        .expect("test server with a custom identity")
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
