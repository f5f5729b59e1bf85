//! The local backend: `initdb` and `postgres` from this machine, in a temp dir, on a
//! free loopback port, with a private socket directory.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::backend::reaper::{sh_quote, Reaper};
use crate::error::{Error, Result};

/// Where the server binaries are.
#[derive(Debug, Clone)]
pub(crate) struct PgBin {
    pub(crate) dir: PathBuf,
}

impl PgBin {
    /// `PG_BIN`, else the folder of `initdb` on `PATH` (symlinks resolved, `postgres`
    /// beside it), else the newest `/usr/lib/postgresql/<major>/bin`.
    pub(crate) fn find() -> Result<PgBin> {
        let ok = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
        if let Some(dir) = std::env::var_os("PG_BIN") {
            let dir = PathBuf::from(dir);
            return if ok(&dir) {
                Ok(PgBin { dir })
            } else {
                Err(Error::NoBinaries)
            };
        }
        if let Some(path) = std::env::var_os("PATH") {
            for d in std::env::split_paths(&path) {
                let initdb = d.join("initdb");
                if let Ok(real) = fs::canonicalize(&initdb) {
                    if let Some(dir) = real.parent() {
                        if ok(dir) {
                            return Ok(PgBin {
                                dir: dir.to_path_buf(),
                            });
                        }
                    }
                }
            }
        }
        let mut majors: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                let dir = e.path().join("bin");
                ok(&dir).then_some((major, dir))
            })
            .collect();
        majors.sort();
        majors
            .pop()
            .map(|(_, dir)| PgBin { dir })
            .ok_or(Error::NoBinaries)
    }

    pub(crate) fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory of loadable modules (`pg_config --pkglibdir`, else `../lib`).
    pub(crate) fn pkglibdir(&self) -> PathBuf {
        let out = Command::new(self.tool("pg_config"))
            .arg("--pkglibdir")
            .stderr(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_owned())
            }
            _ => self.dir.join("../lib"),
        }
    }
}

/// The user the server runs as: ourselves, or `postgres` when we are root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) switch: bool,
}

impl RunAs {
    pub(crate) fn detect() -> Result<RunAs> {
        let me = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
        let uid = me.unwrap_or(u32::MAX);
        if uid != 0 {
            return Ok(RunAs {
                uid,
                gid: 0,
                switch: false,
            });
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        passwd
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == "postgres").then(|| {
                    Some(RunAs {
                        uid: f[2].parse().ok()?,
                        gid: f[3].parse().ok()?,
                        switch: true,
                    })
                })?
            })
            .ok_or(Error::NoServerUser)
    }

    pub(crate) fn apply(&self, cmd: &mut Command) {
        if self.switch {
            cmd.uid(self.uid).gid(self.gid);
        }
    }

    pub(crate) fn chown(&self, path: &Path) -> Result<()> {
        if self.switch {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).map_err(|source| {
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}

/// A running local postmaster.
#[derive(Debug)]
pub(crate) struct LocalServer {
    /// The superuser's password until the kit replaces it (a cached cluster's own).
    pub(crate) bootstrap_password: String,
    _dir: tempfile::TempDir,
    pub(crate) data: PathBuf,
    pub(crate) socket_dir: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) port: u16,
    pub(crate) run_as: RunAs,
    child: Option<Child>,
    reaper: Option<Reaper>,
}

/// Renders the conf fragment from (port, socket dir, pgaudit available).
pub(crate) type RenderConf = Box<dyn Fn(u16, &Path, bool) -> String + Send>;

/// What the local backend needs from the builder, already rendered.
pub(crate) struct LocalSpec {
    pub(crate) admin_user: String,
    pub(crate) admin_password: String,
    pub(crate) cert_chain_pem: String,
    pub(crate) key_pem: String,
    pub(crate) ca_pem: String,
    pub(crate) hba: String,
    /// Called with (port, socket dir, pgaudit available) to render the conf fragment.
    pub(crate) conf: RenderConf,
    pub(crate) pgaudit_wanted: bool,
    /// Removed with the server (the CA file's folder).
    pub(crate) also_remove: PathBuf,
}

fn write_file(path: &Path, text: &str, mode: u32, run_as: RunAs) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(path, text).map_err(io)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io)?;
    run_as.chown(path)
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn run(cmd: &mut Command, program: &str) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Error::Command {
        program: program.to_owned(),
        status: out.status.to_string(),
        output: tail(&text, 20),
    })
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Runs initdb for `data` with the superuser `user` and `password`.
fn initdb(
    bin: &PgBin,
    run_as: RunAs,
    work: &Path,
    data: &Path,
    user: &str,
    password: &str,
) -> Result<()> {
    let pwfile = work.join("admin.pw");
    write_file(&pwfile, password, 0o600, run_as)?;
    let mut initdb = Command::new(bin.tool("initdb"));
    initdb
        .arg("-D")
        .arg(data)
        .args(["-U", user, "-A", "scram-sha-256", "-E", "UTF8"])
        .args(["--no-sync", "--no-instructions", "--locale=C"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(work);
    run_as.apply(&mut initdb);
    let result = run(&mut initdb, "initdb");
    let _ = fs::remove_file(&pwfile);
    result
}

/// `PGSEC_TESTKIT_NO_CACHE=1` makes every local server run its own initdb.
pub const ENV_NO_CACHE: &str = "PGSEC_TESTKIT_NO_CACHE";

/// A cluster made by initdb once per machine, binaries and user, then copied for each
/// server: initdb is most of a local start. The copy's superuser password is replaced
/// by the server's own random one as soon as it is up. The cache lives in a 0700 folder
/// of the temp dir (`pgsec-testkit-cache-<uid>`), keyed by the binaries' folder and
/// `initdb`'s modification time.
fn cached_cluster(bin: &PgBin, run_as: RunAs) -> Result<Option<(PathBuf, String)>> {
    use std::hash::{Hash as _, Hasher as _};
    if std::env::var(ENV_NO_CACHE).is_ok_and(|v| v == "1") {
        return Ok(None);
    }
    let mtime = fs::metadata(bin.tool("initdb"))
        .and_then(|m| m.modified())
        .ok();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (bin.dir.as_path(), mtime, run_as.uid, run_as.switch).hash(&mut h);
    let me = fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m));
    let base = std::env::temp_dir().join(format!("pgsec-testkit-cache-{me}"));
    let dir = base.join(format!("{:016x}", h.finish()));
    let read = |dir: &Path| -> Option<(PathBuf, String)> {
        let pw = fs::read_to_string(dir.join("admin.pw")).ok()?;
        dir.join("ready").exists().then(|| (dir.join("data"), pw))
    };
    if let Some(found) = read(&dir) {
        return Ok(Some(found));
    }
    fs::create_dir_all(&base)?;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o700))?;
    run_as.chown(&base)?;
    // Build in a staging folder and rename it into place: concurrent test processes
    // may race, and the loser keeps the winner's cluster.
    let staging = tempfile::Builder::new()
        .prefix("staging-")
        .tempdir_in(&base)?;
    run_as.chown(staging.path())?;
    let password: String = {
        use rand::Rng as _;
        rand::rng()
            .sample_iter(&rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect()
    };
    initdb(
        bin,
        run_as,
        staging.path(),
        &staging.path().join("data"),
        crate::server::ADMIN_USER,
        &password,
    )?;
    let pw_path = staging.path().join("admin.pw");
    fs::write(&pw_path, &password)?;
    fs::set_permissions(&pw_path, fs::Permissions::from_mode(0o600))?;
    fs::write(staging.path().join("ready"), "")?;
    let staged = staging.keep();
    if fs::rename(&staged, &dir).is_err() {
        let _ = fs::remove_dir_all(&staged);
    }
    Ok(read(&dir))
}

impl LocalServer {
    pub(crate) fn start(spec: LocalSpec) -> Result<LocalServer> {
        let bin = PgBin::find()?;
        let run_as = RunAs::detect()?;
        let dir = tempfile::Builder::new()
            .prefix("pgsec-testkit-")
            .tempdir()?;
        let root = dir.path().to_path_buf();
        // The server's user must reach its files; nobody else may.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))?;
        run_as.chown(&root)?;
        let data = root.join("data");
        let socket_dir = root.join("sock");
        fs::create_dir(&socket_dir)?;
        fs::set_permissions(&socket_dir, fs::Permissions::from_mode(0o700))?;
        run_as.chown(&socket_dir)?;
        let bootstrap_password = match cached_cluster(&bin, run_as)? {
            Some((cached, password)) => {
                let mut cp = Command::new("cp");
                cp.arg("-a").arg(&cached).arg(&data);
                run(&mut cp, "cp")?;
                password
            }
            None => {
                initdb(
                    &bin,
                    run_as,
                    &root,
                    &data,
                    &spec.admin_user,
                    &spec.admin_password,
                )?;
                spec.admin_password.clone()
            }
        };

        write_file(
            &data.join("server.crt"),
            &spec.cert_chain_pem,
            0o644,
            run_as,
        )?;
        write_file(&data.join("server.key"), &spec.key_pem, 0o600, run_as)?;
        write_file(&data.join("ca.crt"), &spec.ca_pem, 0o644, run_as)?;
        write_file(&data.join("pg_hba.conf"), &spec.hba, 0o600, run_as)?;

        let pgaudit = spec.pgaudit_wanted && bin.pkglibdir().join("pgaudit.so").is_file();
        let port = free_port()?;
        let conf_path = data.join("postgresql.conf");
        let mut conf = fs::read_to_string(&conf_path).map_err(|source| Error::Io {
            path: conf_path.clone(),
            source,
        })?;
        conf.push_str(&(spec.conf)(port, &socket_dir, pgaudit));
        write_file(&conf_path, &conf, 0o600, run_as)?;

        let log = root.join("postgres.log");
        let log_file = fs::File::create(&log)?;
        run_as.chown(&log)?;
        let mut postgres = Command::new(bin.tool("postgres"));
        // Whatever the files say, a local server listens on loopback only: the command
        // line outranks postgresql.conf.
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses=localhost"])
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .current_dir(&root);
        run_as.apply(&mut postgres);
        let child = postgres.spawn()?;
        let cleanup = format!(
            "kill -QUIT {pid} 2>/dev/null; i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt 200 ]; \
             do sleep 0.05; i=$((i+1)); done; kill -KILL {pid} 2>/dev/null; rm -rf {dir} {extra}",
            pid = child.id(),
            dir = sh_quote(&root.to_string_lossy()),
            extra = sh_quote(&spec.also_remove.to_string_lossy()),
        );
        let reaper = Reaper::spawn(&cleanup)?;
        Ok(LocalServer {
            bootstrap_password,
            _dir: dir,
            data,
            socket_dir,
            log,
            port,
            run_as,
            child: Some(child),
            reaper: Some(reaper),
        })
    }

    /// Whether the postmaster is still running (for readiness errors).
    pub(crate) fn exited(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(_))) => true,
            Some(Ok(None)) => false,
            _ => true,
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        tail(&fs::read_to_string(&self.log).unwrap_or_default(), 30)
    }

    pub(crate) fn write_file(&self, rel: &str, contents: &str) -> Result<()> {
        let path = self.data.join(rel);
        if let Some(parent) = path.parent() {
            if !parent.exists() {
                fs::create_dir_all(parent)?;
                self.run_as.chown(parent)?;
            }
        }
        write_file(&path, contents, 0o600, self.run_as)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // The reaper stops the postmaster and removes the directory; we reap the child so
        // the reaper does not wait on a zombie.
        if let Some(r) = self.reaper.as_mut() {
            r.trigger();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        if let Some(mut r) = self.reaper.take() {
            r.finish();
        }
    }
}
