//! Hostile and careless input: secrets stay out of every output, what includes expand
//! to is bounded, only regular files are read, nothing panics, exit codes are 0/1/2.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{pgsec, stderr, stdout, write};

const LDAP_SECRET: &str = "hunter2-ldap";
const RADIUS_SECRET: &str = "s3cr3t-radius";

fn secret_hba() -> String {
    format!(
        "host all all 0.0.0.0/0 ldap ldapserver=ldap.example.net ldapbasedn=\"dc=example\" \
         ldapbinddn=\"cn=pg\" ldapbindpasswd={LDAP_SECRET} ldapsearchattribute=uid\n\
         host all all 10.0.0.0/8 radius radiusservers=\"a,b\" \
         radiussecrets=\"{RADIUS_SECRET},{RADIUS_SECRET}2\"\n\
         host all all 10.1.0.0/16 radius radiusservers=a radiussecrets=\"{RADIUS_SECRET},,\"\n\
         host all all 10.2.0.0/16 ldap ldapserver=h ldapbasedn=b ldapbindpasswd=x {LDAP_SECRET}\n\
         local all all ldapbindpasswd={LDAP_SECRET}\n"
    )
}

fn assert_no_secret(args: &[&str], o: &Output) {
    for text in [stdout(o), stderr(o)] {
        assert!(
            !text.contains(LDAP_SECRET) && !text.contains(RADIUS_SECRET),
            "{args:?} shows a secret:\n{text}"
        );
    }
}

#[test]
fn secret_hba_options_are_redacted_in_every_output() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "pg_hba.conf", &secret_hba());
    for format in ["text", "json", "sarif"] {
        for args in [
            vec!["hba", "lint", "pg_hba.conf", "--format", format],
            vec!["audit", "--hba", "pg_hba.conf", "--format", format],
            vec![
                "audit",
                "--hba",
                "pg_hba.conf",
                "--format",
                format,
                "--pg-version",
                "16",
            ],
        ] {
            let o = pgsec(&args, d.path());
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
            assert_no_secret(&args, &o);
            assert!(
                stdout(&o).contains("<redacted>"),
                "{args:?}: {}",
                stdout(&o)
            );
        }
    }
    for format in ["json", "text"] {
        let args = ["hba", "parse", "pg_hba.conf", "--format", format];
        let o = pgsec(&args, d.path());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_no_secret(&args, &o);
        assert!(
            stdout(&o).contains("ldapbindpasswd=<redacted>"),
            "{}",
            stdout(&o)
        );
        // Asked for explicitly, the server's view as it is.
        let args = [
            "hba",
            "parse",
            "pg_hba.conf",
            "--format",
            format,
            "--show-secrets",
        ];
        let o = pgsec(&args, d.path());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains(&format!("ldapbindpasswd={LDAP_SECRET}")),
            "{out}"
        );
        assert!(out.contains(RADIUS_SECRET), "{out}");
    }
}

/// Runs pgsec, failing the test instead of hanging when it does not end in time.
fn pgsec_within(args: &[&str], dir: &Path, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgsec");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pgsec {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(args: &[&str], dir: &Path, needles: &[&str]) {
    let o = pgsec_within(args, dir, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected {n:?} in: {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
}

#[test]
fn include_amplification_is_refused_naming_the_limit_and_the_flag() {
    let d = tempfile::tempdir().unwrap();
    // A 14 KB pg_hba.conf naming a 189 KB @file 1,990 times.
    let names: Vec<String> = (0..27_000).map(|i| format!("u{i:05}")).collect();
    let mut users = names.join(",");
    users.truncate(189_000);
    write(
        d.path(),
        "users",
        &(users.trim_end_matches(',').to_owned() + "\n"),
    );
    let refs = vec!["@users"; 1_990].join(",");
    write(
        d.path(),
        "pg_hba.conf",
        &format!("host all {refs} 0.0.0.0/0 md5\n"),
    );
    for args in [
        vec!["hba", "lint", "pg_hba.conf"],
        vec!["hba", "parse", "pg_hba.conf"],
        vec!["audit", "--hba", "pg_hba.conf", "--format", "json"],
    ] {
        assert_refused(
            &args,
            d.path(),
            &["users", "1000000 lines", "--max-input-lines"],
        );
    }
    assert_refused(
        &[
            "hba",
            "lint",
            "pg_hba.conf",
            "--max-input-lines",
            "100000000",
            "--max-input-bytes",
            "8M",
        ],
        d.path(),
        &["users", "8388608 bytes", "--max-input-bytes"],
    );
    // A postgresql.conf including a 1 MB file 2,000 times.
    let body: String = (0..60_000).map(|i| format!("x{i} = {i}\n")).collect();
    write(d.path(), "big.conf", &body);
    write(
        d.path(),
        "postgresql.conf",
        &"include 'big.conf'\n".repeat(2_000),
    );
    assert_refused(
        &["audit", "--config", "postgresql.conf"],
        d.path(),
        &["big.conf", "--max-input-lines"],
    );
    // Raising the limit lets a trusted input through.
    write(
        d.path(),
        "small.conf",
        "include 'one.conf'\ninclude 'one.conf'\n",
    );
    write(d.path(), "one.conf", "ssl = on\n");
    let o = pgsec(
        &["audit", "--config", "small.conf", "--max-input-bytes", "40"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = pgsec(
        &["audit", "--config", "small.conf", "--max-input-bytes", "1K"],
        d.path(),
    );
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn devices_fifos_and_directories_are_refused_without_hanging() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::fs::create_dir(d.path().join("adir")).unwrap();
    write(d.path(), "zero.conf", "include '/dev/zero'\n");
    write(d.path(), "fifo.conf", "include 'fifo'\n");
    write(d.path(), "dir.conf", "include_if_exists 'adir'\n");
    write(d.path(), "zero_hba.conf", "host all @/dev/zero all md5\n");
    write(d.path(), "fifo_hba.conf", "host all @fifo all md5\n");
    write(d.path(), "inc_hba.conf", "include fifo\n");
    let cases: [(&[&str], &[&str]); 13] = [
        (
            &["audit", "--config", "zero.conf"],
            &["/dev/zero", "character device"],
        ),
        (&["audit", "--config", "fifo.conf"], &["fifo", "FIFO"]),
        (&["audit", "--config", "dir.conf"], &["adir", "directory"]),
        (&["audit", "--config", "fifo"], &["fifo", "FIFO"]),
        (
            &["audit", "--hba", "zero_hba.conf"],
            &["/dev/zero", "character device"],
        ),
        (&["hba", "lint", "fifo_hba.conf"], &["fifo", "FIFO"]),
        (
            &["hba", "parse", "fifo_hba.conf", "--format", "text"],
            &["fifo", "FIFO"],
        ),
        (
            &["hba", "parse", "inc_hba.conf", "--pg-version", "16"],
            &["fifo", "FIFO"],
        ),
        (&["hba", "lint", "adir"], &["adir", "directory"]),
        (
            &["hba", "parse", "/dev/zero"],
            &["/dev/zero", "character device"],
        ),
        (
            &["harden", "--profile", "/dev/zero", "--out", "out"],
            &["/dev/zero", "character device"],
        ),
        (
            &["harden", "--profile", "fifo", "--out", "out"],
            &["fifo", "FIFO"],
        ),
        (
            &["harden", "--profile", "adir", "--out", "out"],
            &["adir", "directory"],
        ),
    ];
    for (args, needles) in cases {
        assert_refused(args, d.path(), needles);
    }
    assert!(!d.path().join("out").exists(), "nothing is written");
}

#[test]
fn a_field_of_65536_characters_does_not_panic() {
    let d = tempfile::tempdir().unwrap();
    let long = "u".repeat(65_536);
    write(
        d.path(),
        "pg_hba.conf",
        &format!(
            "host all {long} 0.0.0.0/0 scram-sha-256\nhost all all all {long}\n\
             hostssl all all 10.0.0.0/8 md5 map={long}\n"
        ),
    );
    for version in ["15", "16"] {
        for format in ["text", "json"] {
            let args = [
                "hba",
                "parse",
                "pg_hba.conf",
                "--format",
                format,
                "--pg-version",
                version,
            ];
            let o = pgsec(&args, d.path());
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
            assert!(stdout(&o).contains(&long));
        }
        for format in ["text", "json", "sarif"] {
            for cmd in [
                ["hba", "lint", "pg_hba.conf"],
                ["audit", "--hba", "pg_hba.conf"],
            ] {
                let mut args = cmd.to_vec();
                args.extend(["--format", format, "--pg-version", version]);
                let o = pgsec(&args, d.path());
                assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
                assert!(stdout(&o).contains(&long));
            }
        }
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "pg_hba.conf",
        &"host all all 0.0.0.0/0 trust\n".repeat(20_000),
    );
    for args in [
        ["hba", "parse", "pg_hba.conf", "--format", "text"],
        ["hba", "lint", "pg_hba.conf", "--format", "json"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pgsec"))
            .args(args)
            .current_dir(d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pgsec");
        // Read a little, then hang up, as `| head -1` does.
        let mut first = [0u8; 16];
        let mut out = child.stdout.take().unwrap();
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_ne!(o.status.code(), Some(101), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["bogus"],
        vec![],
        vec!["hba"],
        vec!["hba", "parse"],
        vec!["hba", "parse", "x", "--format", "xml"],
        vec!["hba", "lint", "x", "--max-input-bytes", "-1"],
        vec!["audit", "--url", "x", "--config", "y"],
        vec!["harden", "--preset", "strict"],
        vec!["harden", "--profile", "missing.toml", "--out", "out"],
        vec!["isolation", "--admin", "host=x"],
        vec!["demo", "--cases", "many"],
        vec!["ping", "sslmode=bogus"],
        vec!["ping", "a b c"],
    ] {
        let o = pgsec(&args, d.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).trim().is_empty(), "{args:?}");
    }
    for args in [
        vec!["--help"],
        vec!["--version"],
        vec!["hba", "parse", "--help"],
    ] {
        let o = pgsec(&args, d.path());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
}
