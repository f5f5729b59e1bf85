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
    /// The binaries of `asked` (a major and who asked for it), else of whatever is
    /// installed ([`PgBin::find_any`]). An asked major is taken from `PG_BIN` when that
    /// holds it, else `/usr/lib/postgresql/<major>/bin`, else `initdb` on `PATH` when it
    /// is of that major; otherwise the error lists what is installed.
    pub(crate) fn find(asked: Option<(u32, &'static str)>) -> Result<PgBin> {
        let Some((major, asked_by)) = asked else {
            return Self::find_any();
        };
        let ok = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
        let mut seen: Vec<String> = Vec::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("PG_BIN") {
            candidates.push(PathBuf::from(dir));
        }
        candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")));
        if let Ok(any) = Self::find_any() {
            candidates.push(any.dir);
        }
        for dir in candidates {
            if !ok(&dir) {
                continue;
            }
            match binary_major(&dir) {
                Some(m) if m == major => return Ok(PgBin { dir }),
                Some(m) => seen.push(format!("{m} in {}", dir.display())),
                None => seen.push(format!("an unknown major in {}", dir.display())),
            }
        }
        seen.dedup();
        Err(Error::MajorUnavailable {
            major,
            asked_by,
            reason: format!(
                "the local backend finds {}; install postgresql-{major}, point PG_BIN at its \
                 bin folder, use the container backend, or unset {}",
                if seen.is_empty() {
                    "no PostgreSQL binaries".to_owned()
                } else {
                    format!("only PostgreSQL {}", seen.join(", "))
                },
                super::ENV_PG_MAJOR
            ),
        })
    }

    /// `PG_BIN`, else the folder of `initdb` on `PATH` (symlinks resolved, `postgres`
    /// beside it), else the newest `/usr/lib/postgresql/<major>/bin`.
    pub(crate) fn find_any() -> Result<PgBin> {
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

/// The major of the `postgres` binary in `dir` (`postgres --version`:
/// `postgres (PostgreSQL) 17.6 (Debian ...)`).
fn binary_major(dir: &Path) -> Option<u32> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    parse_version_major(&String::from_utf8_lossy(&out.stdout))
}

/// The major in `postgres --version`'s output.
fn parse_version_major(text: &str) -> Option<u32> {
    let rest = &text[text.find("(PostgreSQL) ")? + "(PostgreSQL) ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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
    postgres_bin: PathBuf,
    root: PathBuf,
    child: Option<Child>,
    reaper: Option<Reaper>,
}

/// Starts `postgres` on `data`, its output appended to `log`. Whatever the files say, a
/// local server listens on loopback only: the command line outranks postgresql.conf.
fn spawn_postmaster(
    postgres_bin: &Path,
    data: &Path,
    port: u16,
    root: &Path,
    log: &Path,
    run_as: RunAs,
) -> Result<Child> {
    let log_file = fs::OpenOptions::new().append(true).open(log)?;
    let mut postgres = Command::new(postgres_bin);
    postgres
        .arg("-D")
        .arg(data)
        .args(["-c", "listen_addresses=localhost"])
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .current_dir(root);
    run_as.apply(&mut postgres);
    Ok(postgres.spawn()?)
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
    /// The major asked for and who asked (None: whatever is installed).
    pub(crate) major: Option<(u32, &'static str)>,
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
/// `initdb`'s modification time and the admin user the cluster was made for.
fn cached_cluster(
    bin: &PgBin,
    run_as: RunAs,
    admin_user: &str,
) -> Result<Option<(PathBuf, String)>> {
    use std::hash::{Hash as _, Hasher as _};
    if std::env::var(ENV_NO_CACHE).is_ok_and(|v| v == "1") {
        return Ok(None);
    }
    let mtime = fs::metadata(bin.tool("initdb"))
        .and_then(|m| m.modified())
        .ok();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        bin.dir.as_path(),
        mtime,
        run_as.uid,
        run_as.switch,
        admin_user,
    )
        .hash(&mut h);
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
        admin_user,
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
        let bin = PgBin::find(spec.major)?;
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
        let bootstrap_password = match cached_cluster(&bin, run_as, &spec.admin_user)? {
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
        fs::File::create(&log)?;
        run_as.chown(&log)?;
        let postgres_bin = bin.tool("postgres");
        let child = spawn_postmaster(&postgres_bin, &data, port, &root, &log, run_as)?;
        // The postmaster's pid is read from a file at clean-up time: a restart replaces it.
        let pid_file = root.join("kit.pid");
        fs::write(&pid_file, child.id().to_string())?;
        let cleanup = format!(
            "pid=$(cat {pid_file} 2>/dev/null); if [ -n \"$pid\" ]; then kill -QUIT $pid 2>/dev/null; \
             i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
             kill -KILL $pid 2>/dev/null; fi; rm -rf {dir} {extra}",
            pid_file = sh_quote(&pid_file.to_string_lossy()),
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
            postgres_bin,
            root,
            child: Some(child),
            reaper: Some(reaper),
        })
    }

    /// Stops the postmaster (fast shutdown: sessions are ended, nothing is lost that was
    /// committed) and starts it again on the same data directory and port.
    pub(crate) fn restart(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let mut kill = Command::new("kill");
            kill.args(["-INT", &child.id().to_string()]);
            run(&mut kill, "kill")?;
            child.wait()?;
        }
        let child = spawn_postmaster(
            &self.postgres_bin,
            &self.data,
            self.port,
            &self.root,
            &self.log,
            self.run_as,
        )?;
        fs::write(self.root.join("kit.pid"), child.id().to_string())?;
        self.child = Some(child);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::parse_version_major;

    #[test]
    fn version_output_gives_the_major() {
        assert_eq!(
            parse_version_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_version_major("postgres (PostgreSQL) 18.6"), Some(18));
        assert_eq!(
            parse_version_major("postgres (PostgreSQL) 19devel"),
            Some(19)
        );
        assert_eq!(parse_version_major("something else"), None);
    }
}
