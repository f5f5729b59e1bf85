//! The container backend: testcontainers with the project's image (or a stock
//! `postgres:<major>` one). The server is initialised by a small script the kit copies
//! in, so both kinds of image behave the same: it uses the cluster the project's image
//! carries (made at build time, its superuser's password set here before the server
//! listens) or runs initdb when the image has none. The port is published on 127.0.0.1
//! only.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{ExecCommand, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, CopyTargetOptions, GenericImage, ImageExt};

use crate::backend::reaper::{sh_quote, Reaper};
use crate::error::{Error, Result};

/// Data directory inside the container.
pub(crate) const DATA_DIR: &str = "/var/lib/postgresql/pgsec-data";

const START_SCRIPT: &str = r#"set -eu
D=/var/lib/postgresql/pgsec-data
if [ -f "$D/PG_VERSION" ]; then
  # The project's image carries a cluster made at build time, without a password: give
  # its superuser this server's, in single-user mode, before the server listens.
  # log_min_error_statement=panic: a failing statement (it holds the password) is never
  # echoed into the log the kit may show.
  pw=$(sed "s/'/''/g" /pgsec/admin.pw)
  if ! printf "ALTER ROLE pgsec_admin PASSWORD '%s'\n" "$pw" |
      postgres --single -D "$D" -c fsync=off -c log_min_error_statement=panic postgres \
      >/tmp/single.log 2>&1; then
    cat /tmp/single.log >&2; exit 1
  fi
  rm -f /tmp/single.log
else
  mkdir -p "$D"
  chmod 700 "$D"
  if ! initdb -D "$D" -U pgsec_admin --pwfile=/pgsec/admin.pw -A scram-sha-256 -E UTF8 \
      --no-sync --no-instructions --locale=C >/tmp/initdb.log 2>&1; then
    cat /tmp/initdb.log >&2; exit 1
  fi
fi
cp /pgsec/server.crt /pgsec/ca.crt "$D"/
(umask 077; cat /pgsec/server.key > "$D"/server.key)
cp /pgsec/pg_hba.conf "$D"/pg_hba.conf
if ls /usr/lib/postgresql/*/lib/pgaudit.so >/dev/null 2>&1; then
  cat /pgsec/conf-pgaudit >> "$D"/postgresql.conf
else
  echo "pgsec-testkit: pgaudit is not installed in this image" >&2
  cat /pgsec/conf-plain >> "$D"/postgresql.conf
fi
exec postgres -D "$D"
"#;

/// A runtime that outlives every test's own, so a shared container stays usable from
/// any test (each `#[tokio::test]` has a runtime that ends with the test).
pub(crate) fn kit_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pgsec-testkit")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("pgsec-testkit: cannot start its runtime: {e}"))
    })
}

/// Files and settings the container needs, already rendered.
pub(crate) struct ContainerSpec {
    pub(crate) image: String,
    pub(crate) admin_password: String,
    pub(crate) cert_chain_pem: String,
    pub(crate) key_pem: String,
    pub(crate) ca_pem: String,
    pub(crate) hba: String,
    pub(crate) conf_plain: String,
    pub(crate) conf_pgaudit: String,
    /// Removed with the container (the CA file's folder).
    pub(crate) also_remove: std::path::PathBuf,
}

/// A running container.
pub(crate) struct ContainerServer {
    container: Option<Arc<ContainerAsync<GenericImage>>>,
    pub(crate) id: String,
    pub(crate) port: u16,
    reaper: Option<Reaper>,
}

impl std::fmt::Debug for ContainerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerServer")
            .field("id", &self.id)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn split_image(image: &str) -> (String, String) {
    // A tag is what follows the last ':' after the last '/' (registry ports have ':' too).
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_owned(),
            image[slash + i + 1..].to_owned(),
        ),
        None => (image.to_owned(), "latest".to_owned()),
    }
}

/// Fails early, naming the build command, when the project's own image
/// (`pgsec/postgres:<major>`) is missing: the engine would otherwise try to pull it from
/// a registry that does not have it. Other images are left to the engine.
pub(crate) async fn check_project_image(
    image: &str,
    asked: Option<(u32, &'static str)>,
) -> Result<()> {
    let Some(tag) = image.strip_prefix("pgsec/postgres:") else {
        return Ok(());
    };
    if !super::docker_cli_present() {
        return Ok(());
    }
    let name = image.to_owned();
    let present = tokio::task::spawn_blocking(move || {
        std::process::Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &name])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(true)
    })
    .await
    .unwrap_or(true);
    if present {
        return Ok(());
    }
    let major = tag.parse::<u32>().unwrap_or(0);
    let asked_by = asked.map_or("the kit's default major", |(_, by)| by);
    let reason = if super::IMAGE_MAJORS.contains(&major) {
        format!(
            "the image {image} does not exist; build it with `scripts/build-pg-image.sh {major}`"
        )
    } else {
        format!(
            "the image {image} does not exist and scripts/build-pg-image.sh builds only {:?}; \
             set {} to an image of that major",
            super::IMAGE_MAJORS,
            super::ENV_IMAGE
        )
    };
    Err(Error::MajorUnavailable {
        major,
        asked_by,
        reason,
    })
}

impl ContainerServer {
    pub(crate) async fn start(spec: ContainerSpec) -> Result<ContainerServer> {
        kit_runtime()
            .spawn(Self::start_inner(spec))
            .await
            .map_err(|source| Error::Task {
                what: "container start",
                source,
            })?
    }

    async fn start_inner(spec: ContainerSpec) -> Result<ContainerServer> {
        let (name, tag) = split_image(&spec.image);
        let also_remove = sh_quote(&spec.also_remove.to_string_lossy());
        let file = |path: &str, mode: u32| CopyTargetOptions::new(path).with_mode(mode);
        let request = GenericImage::new(name, tag)
            .with_entrypoint("/bin/sh")
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::Nothing)
            .with_cmd(["-c", START_SCRIPT])
            .with_user("postgres")
            .with_copy_to(
                file("/pgsec/admin.pw", 0o644),
                spec.admin_password.into_bytes(),
            )
            .with_copy_to(
                file("/pgsec/server.crt", 0o644),
                spec.cert_chain_pem.into_bytes(),
            )
            .with_copy_to(file("/pgsec/server.key", 0o644), spec.key_pem.into_bytes())
            .with_copy_to(file("/pgsec/ca.crt", 0o644), spec.ca_pem.into_bytes())
            .with_copy_to(file("/pgsec/pg_hba.conf", 0o644), spec.hba.into_bytes())
            .with_copy_to(
                file("/pgsec/conf-plain", 0o644),
                spec.conf_plain.into_bytes(),
            )
            .with_copy_to(
                file("/pgsec/conf-pgaudit", 0o644),
                spec.conf_pgaudit.into_bytes(),
            )
            .with_startup_timeout(Duration::from_secs(60))
            .with_host_config_modifier(|hc: &mut HostConfig| {
                // Publish on loopback only: a weakened server must never face the network.
                hc.publish_all_ports = Some(false);
                hc.port_bindings = Some(HashMap::from([(
                    "5432/tcp".to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(String::new()),
                    }]),
                )]));
            });
        let container = request.start().await?;
        let id = container.id().to_owned();
        let reaper = if super::docker_cli_present() {
            Some(Reaper::spawn(&format!(
                "docker rm -fv {} >/dev/null 2>&1; rm -rf {also_remove}",
                sh_quote(&id)
            ))?)
        } else {
            None
        };
        let port = container.get_host_port_ipv4(5432).await?;
        Ok(ContainerServer {
            container: Some(Arc::new(container)),
            id,
            port,
            reaper,
        })
    }

    /// Whether the container has stopped (for readiness errors).
    pub(crate) async fn exited(&self) -> bool {
        let Some(c) = self.container.clone() else {
            return true;
        };
        kit_runtime()
            .spawn(async move { !c.is_running().await.unwrap_or(false) })
            .await
            .unwrap_or(true)
    }

    pub(crate) async fn log_tail(&self) -> String {
        let Some(c) = self.container.clone() else {
            return String::new();
        };
        let text = kit_runtime()
            .spawn(async move { c.stderr_to_vec().await.unwrap_or_default() })
            .await
            .unwrap_or_default();
        super::local::tail(&String::from_utf8_lossy(&text), 30)
    }

    /// Runs a command in the container; returns its stdout, or an error with its stderr.
    pub(crate) async fn exec(&self, argv: Vec<String>) -> Result<String> {
        let Some(c) = self.container.clone() else {
            return Err(Error::Unsupported(
                "the container was already removed".into(),
            ));
        };
        let program = argv.first().cloned().unwrap_or_default();
        // The exec handle is not `Sync`, so its future is not `Send`: drive it on a
        // blocking thread of the kit's runtime.
        let handle = kit_runtime().handle().clone();
        kit_runtime()
            .spawn_blocking(move || {
                handle.block_on(async move {
                    let mut res = c.exec(ExecCommand::new(argv)).await?;
                    let out = res.stdout_to_vec().await?;
                    let err = res.stderr_to_vec().await?;
                    let code = res.exit_code().await?;
                    if code.unwrap_or(0) != 0 {
                        return Err(Error::Command {
                            program,
                            status: format!("exit {code:?}"),
                            output: String::from_utf8_lossy(&err).into_owned(),
                        });
                    }
                    Ok(String::from_utf8_lossy(&out).into_owned())
                })
            })
            .await
            .map_err(|source| Error::Task {
                what: "container exec",
                source,
            })?
    }

    pub(crate) async fn write_file(&self, rel: &str, contents: &str) -> Result<()> {
        let path = format!("{DATA_DIR}/{rel}");
        let b64 = base64_encode(contents.as_bytes());
        self.exec(vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p \"$(dirname \"$1\")\" && printf %s \"$2\" | base64 -d > \"$1\"".into(),
            "sh".into(),
            path,
            b64,
        ])
        .await
        .map(|_| ())
    }
}

impl Drop for ContainerServer {
    fn drop(&mut self) {
        if let Some(c) = self.container.take() {
            if self.reaper.is_some() {
                // The reaper removes it with the CLI; the handle must not try again from
                // a runtime that may be gone.
                std::mem::forget(c);
            } else {
                kit_runtime().spawn(async move { drop(c) });
            }
        }
        if let Some(mut r) = self.reaper.take() {
            r.finish();
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_into_name_and_tag() {
        assert_eq!(
            split_image("pgsec/postgres:15"),
            ("pgsec/postgres".into(), "15".into())
        );
        assert_eq!(
            split_image("localhost:5000/pg:16"),
            ("localhost:5000/pg".into(), "16".into())
        );
        assert_eq!(
            split_image("postgres"),
            ("postgres".into(), "latest".into())
        );
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }
}
