//! The two ways the kit runs PostgreSQL, and how it picks one.

use std::fmt;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use crate::error::{Error, Result};

pub(crate) mod container;
pub(crate) mod local;
pub use local::ENV_NO_CACHE;
pub(crate) mod reaper;

/// Which backend runs a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// A container (testcontainers) from `PGSEC_TESTKIT_IMAGE`, else
    /// `pgsec/postgres:<major>` (see [`DEFAULT_MAJOR`] and [`ENV_PG_MAJOR`]).
    Container,
    /// `initdb` + `postgres` from `PG_BIN`, `PATH` or Debian's versioned folders.
    Local,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Container => "container",
            Backend::Local => "local",
        })
    }
}

/// `PGSEC_TESTKIT_BACKEND` forces a backend.
pub const ENV_BACKEND: &str = "PGSEC_TESTKIT_BACKEND";
/// `PGSEC_TESTKIT_REQUIRE_CONTAINER=1` makes "no Docker" an error instead of a fallback.
pub const ENV_REQUIRE_CONTAINER: &str = "PGSEC_TESTKIT_REQUIRE_CONTAINER";
/// `PGSEC_TESTKIT_IMAGE` names the container image (it outranks [`ENV_PG_MAJOR`]'s
/// choice of image; a major asked for is still checked against the server's).
pub const ENV_IMAGE: &str = "PGSEC_TESTKIT_IMAGE";
/// `PGSEC_PG_MAJOR` picks the PostgreSQL major of every server the builder does not
/// pin with [`crate::ServerBuilder::major`]: the container backend runs
/// `pgsec/postgres:<major>`, the local backend chosen by the environment
/// `/usr/lib/postgresql/<major>/bin` (an error when that major is not installed). A
/// server a test pins to the local backend with [`crate::ServerBuilder::backend`] runs
/// the installed binaries (a note says so once). Unset: [`DEFAULT_MAJOR`] in a
/// container, the newest installed major locally.
pub const ENV_PG_MAJOR: &str = "PGSEC_PG_MAJOR";
/// The major a container runs when nothing asks for another: 17, the newest major that
/// Debian ships in a stable release (trixie), so its image builds the same way on every
/// machine. 18 comes from Debian testing (forky), which changes daily; it is verified
/// live in CI but not the default.
pub const DEFAULT_MAJOR: u32 = 17;
/// The majors `scripts/build-pg-image.sh` builds images for (`pgsec/postgres:<major>`).
pub const IMAGE_MAJORS: [u32; 3] = [15, 17, 18];
/// The image the project builds itself for [`DEFAULT_MAJOR`] (`scripts/build-pg-image.sh`).
pub const DEFAULT_IMAGE: &str = "pgsec/postgres:17";

/// The project's image for `major` (`pgsec/postgres:<major>`).
pub fn image_for(major: u32) -> String {
    format!("pgsec/postgres:{major}")
}

/// The major asked for through `PGSEC_PG_MAJOR`, if any.
///
/// # Errors
/// The variable is set to something that is not a major the kit can run (10 to 99).
pub fn major_from_env() -> Result<Option<u32>> {
    match std::env::var(ENV_PG_MAJOR) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(m) if (10..100).contains(&m) => Ok(Some(m)),
            _ => Err(Error::BadEnv {
                name: ENV_PG_MAJOR,
                value: v,
                expected: "a PostgreSQL major version such as 15, 17 or 18",
            }),
        },
        Err(_) => Ok(None),
    }
}

impl Backend {
    /// The backend the kit uses when none is forced by the builder: `PGSEC_TESTKIT_BACKEND`
    /// when set, else the container whenever a Docker engine answers, else local (unless
    /// `PGSEC_TESTKIT_REQUIRE_CONTAINER=1`).
    ///
    /// # Errors
    /// `PGSEC_TESTKIT_BACKEND` has an unknown value, or a container is required and no
    /// engine answers.
    pub fn from_env() -> Result<Backend> {
        let chosen = match std::env::var(ENV_BACKEND) {
            Ok(v) if v.eq_ignore_ascii_case("container") => Backend::Container,
            Ok(v) if v.eq_ignore_ascii_case("local") => Backend::Local,
            Ok(v) if v.is_empty() => Self::probe()?,
            Ok(v) => {
                return Err(Error::BadEnv {
                    name: ENV_BACKEND,
                    value: v,
                    expected: "`container` or `local`",
                })
            }
            Err(_) => Self::probe()?,
        };
        Ok(chosen)
    }

    fn probe() -> Result<Backend> {
        match docker_answers() {
            Ok(()) => Ok(Backend::Container),
            Err(reason) => {
                let required = std::env::var(ENV_REQUIRE_CONTAINER)
                    .map(|v| v == "1" || v.eq_ignore_ascii_case("true"))
                    .unwrap_or(false);
                if required {
                    Err(Error::ContainerRequired { reason })
                } else {
                    static WARN: Once = Once::new();
                    WARN.call_once(|| {
                        eprintln!(
                            "pgsec-testkit: no Docker engine ({reason}); falling back to local \
                             PostgreSQL binaries"
                        );
                    });
                    Ok(Backend::Local)
                }
            }
        }
    }
}

/// Logs the backend once per process.
pub(crate) fn log_backend_once(backend: Backend, detail: &str) {
    static LOGGED: Once = Once::new();
    LOGGED.call_once(|| {
        eprintln!("pgsec-testkit: using the {backend} backend ({detail})");
        tracing::info!(%backend, detail, "pgsec-testkit backend");
    });
}

/// Says once per process, on stderr and in the trace, that pgaudit was asked for (the
/// default) and the server has none: a stock image or a local install without the
/// package. Audit logging is then off, which the tests may check through
/// `TestServer::has_pgaudit`; the kit does not fail, it says so.
pub(crate) fn log_missing_pgaudit_once(major: u32) {
    static LOGGED: Once = Once::new();
    LOGGED.call_once(|| {
        eprintln!(
            "pgsec-testkit: pgaudit is not installed for PostgreSQL {major}: the server runs \
             without audit logging (install postgresql-{major}-pgaudit, or use the project's \
             image from scripts/build-pg-image.sh {major})"
        );
        tracing::warn!(major, "pgsec-testkit: pgaudit missing; audit logging off");
    });
}

/// Whether a Docker engine answers, asked through the `docker` CLI (or, without the
/// CLI, by connecting to the engine's socket).
fn docker_answers() -> Result<(), String> {
    let child = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut child) => {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => return Ok(()),
                    Ok(Some(_)) => return Err("`docker info` failed".into()),
                    Ok(None) if std::time::Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err("`docker info` did not answer in 10 s".into());
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) => return Err(format!("`docker info`: {e}")),
                }
            }
        }
        Err(_) => {
            let sock = std::env::var("DOCKER_HOST")
                .ok()
                .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
                .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
            std::os::unix::net::UnixStream::connect(&sock)
                .map(|_| ())
                .map_err(|e| format!("no docker CLI and {sock}: {e}"))
        }
    }
}

/// Whether the `docker` CLI is on PATH (used by the reaper to remove containers).
pub(crate) fn docker_cli_present() -> bool {
    Command::new("docker")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
