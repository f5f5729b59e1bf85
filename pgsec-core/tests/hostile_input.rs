//! Hostile and careless input to the parsers and reports: secrets in pg_hba.conf stay
//! out of every output, what includes expand to is bounded (each inclusion counted),
//! only regular files are read, and nothing panics.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use pgsec_core::conf::{ConfFile, ConfParseOptions};
use pgsec_core::hba::{format_view_table, HbaFile, HbaParseOptions, PgVersion};
use pgsec_core::render::{render, Format};
use pgsec_core::snapshot::ServerTlsFiles;
use pgsec_core::{
    evaluate, read_input_file, Error, InputLimit, InputLimits, MemoryLoader, Policy, Snapshot,
};

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

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(LDAP_SECRET) && !text.contains(RADIUS_SECRET),
        "{what} shows a secret:\n{text}"
    );
}

fn parse_hba(text: &str, version: PgVersion) -> HbaFile {
    HbaFile::parse(
        text,
        Path::new("/d/pg_hba.conf"),
        version,
        &MemoryLoader::new(),
    )
}

#[test]
fn secret_options_never_reach_reports_debug_or_the_default_view() {
    for major in [13, 15, 16, 17] {
        let version = PgVersion::new(major).unwrap();
        let file = parse_hba(&secret_hba(), version);
        let (_, ldap) = file.rules().next().unwrap();
        // The rule keeps the secret, typed: shown redacted, reachable on purpose.
        assert_eq!(ldap.option("ldapbindpasswd"), Some("<redacted>"));
        let entry = ldap.option_entry("ldapbindpasswd").unwrap();
        assert!(entry.is_secret());
        assert_eq!(entry.expose_value(), LDAP_SECRET);
        assert_eq!(entry.to_string(), "ldapbindpasswd=<redacted>");
        assert_eq!(ldap.option("ldapbinddn"), Some("cn=pg"));

        assert_no_secret("Debug of HbaFile", &format!("{file:?} {file:#?}"));
        for line in &file.lines {
            assert_no_secret("Debug of HbaLine", &format!("{line:?}"));
            if let Err(e) = &line.result {
                assert_no_secret("a line error", e);
            }
        }

        let snapshot = Snapshot::new("pg_hba.conf", 1_700_000_000)
            .with_pg_version(version)
            .with_hba(file.clone());
        assert_no_secret("Debug of Snapshot", &format!("{snapshot:?}"));
        let report = evaluate(&snapshot, &Policy::default());
        assert!(!report.findings().is_empty());
        assert_no_secret("Debug of Report", &format!("{report:?}"));
        for format in [Format::Text, Format::Json, Format::Sarif] {
            let out = render(&report, format, false);
            assert_no_secret("a report", &out);
            assert!(out.contains("<redacted>"), "{format:?}: {out}");
        }
        for f in report.findings() {
            assert_no_secret("a finding", &format!("{f:?} {}", f.remediation()));
        }

        let rows = file.to_view_rows(version);
        assert_no_secret("the view", &serde_json::to_string(&rows).unwrap());
        assert_no_secret("the view as a table", &format_view_table(&rows, version));
        assert_no_secret("Debug of the view", &format!("{rows:?}"));
        let shown = file.to_view_rows_with_secrets(version);
        let json = serde_json::to_string(&shown).unwrap();
        assert!(
            json.contains(&format!("ldapbindpasswd={LDAP_SECRET}")),
            "{json}"
        );
        assert!(json.contains(RADIUS_SECRET), "{json}");
        assert_no_secret("Debug of the view with secrets", &format!("{shown:?}"));
        let redacted: Vec<_> = shown.into_iter().map(|r| r.redacted()).collect();
        assert_eq!(redacted, rows);
    }
}

fn limits(bytes: u64, lines: u64) -> InputLimits {
    InputLimits::new(bytes, lines)
}

fn hba_options(major: u32, l: InputLimits) -> HbaParseOptions {
    HbaParseOptions::new(PgVersion::new(major).unwrap()).with_limits(l)
}

/// Peak resident memory of this process so far, in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn assert_limit(result: Result<impl std::fmt::Debug, Error>, limit: InputLimit, file: &str) {
    match result {
        Err(Error::InputLimit {
            path, limit: got, ..
        }) => {
            assert_eq!(got, limit);
            assert_eq!(path, PathBuf::from(file));
        }
        other => panic!("expected the {limit} limit at {file}, got {other:?}"),
    }
}

#[test]
fn at_file_amplification_is_refused_with_bounded_memory() {
    // The report: a 14 KB pg_hba.conf naming a 189 KB @file 1,990 times.
    let names: Vec<String> = (0..27_000).map(|i| format!("u{i:05}")).collect();
    let mut users = names.join(",");
    users.truncate(189_000);
    let users = users.trim_end_matches(',').to_owned() + "\n";
    let line = format!(
        "host all {} 0.0.0.0/0 md5\n",
        vec!["@users"; 1_990].join(",")
    );
    assert!(line.len() < 15_000);
    let loader = MemoryLoader::new().with_file("/d/users", users.clone());
    for major in [15, 16] {
        let opts = hba_options(major, InputLimits::default());
        let result = HbaFile::try_parse_with(&line, Path::new("/d/pg_hba.conf"), &opts, &loader);
        assert_limit(result, InputLimit::Lines, "/d/users");
        // The infallible parse stops at the same place, with the error on the line.
        let file = HbaFile::parse_with(&line, Path::new("/d/pg_hba.conf"), &opts, &loader);
        let err = file.lines[0].result.as_ref().unwrap_err();
        assert!(err.contains("--max-input-lines"), "{err}");
    }
    // Names one per line cost the same as names on one line.
    let per_line = users.replace(',', "\n");
    let loader = MemoryLoader::new().with_file("/d/users", per_line);
    let opts = hba_options(15, InputLimits::default());
    let result = HbaFile::try_parse_with(&line, Path::new("/d/pg_hba.conf"), &opts, &loader);
    assert_limit(result, InputLimit::Lines, "/d/users");
    // And by bytes, when bytes run out first.
    let opts = hba_options(15, limits(10 << 20, u64::MAX));
    let result = HbaFile::try_parse_with(&line, Path::new("/d/pg_hba.conf"), &opts, &loader);
    assert_limit(result, InputLimit::Bytes, "/d/users");
    if let Some(kib) = peak_rss_kib() {
        assert!(kib < 1_500_000, "peak RSS {kib} KiB");
    }
}

#[test]
fn include_amplification_is_refused() {
    // postgresql.conf including a 1 MB file 2,000 times.
    let body: String = (0..60_000).map(|i| format!("x{i} = {i}\n")).collect();
    let top = "include 'big.conf'\n".repeat(2_000);
    let loader = MemoryLoader::new().with_file("/d/big.conf", body.clone());
    let path = Path::new("/d/postgresql.conf");
    let result = ConfFile::try_parse_with(&top, path, &loader, &ConfParseOptions::default());
    assert_limit(result, InputLimit::Lines, "/d/big.conf");
    let opts = ConfParseOptions::default().with_limits(limits(8 << 20, u64::MAX));
    let result = ConfFile::try_parse_with(&top, path, &loader, &opts);
    assert_limit(result, InputLimit::Bytes, "/d/big.conf");
    // The infallible parse reports it as an error on the including line.
    let file = ConfFile::parse_with(&top, path, &loader, &opts);
    let last = file.errors.last().unwrap();
    assert!(last.message.contains("--max-input-bytes"), "{last:?}");

    // PostgreSQL 16's include records in pg_hba.conf.
    let hba_body = "local all all peer\n".repeat(50_000);
    let hba_top = "include more.conf\n".repeat(2_000);
    let loader = MemoryLoader::new().with_file("/d/more.conf", hba_body);
    let opts = hba_options(16, InputLimits::default());
    let result = HbaFile::try_parse_with(&hba_top, Path::new("/d/pg_hba.conf"), &opts, &loader);
    assert_limit(result, InputLimit::Lines, "/d/more.conf");
    if let Some(kib) = peak_rss_kib() {
        assert!(kib < 1_500_000, "peak RSS {kib} KiB");
    }
}

#[test]
fn a_file_included_twice_counts_twice() {
    let inc = "a = 1\nb = 2\n"; // 12 bytes, 2 lines
    let loader = MemoryLoader::new().with_file("/d/inc.conf", inc);
    let path = Path::new("/d/postgresql.conf");
    let once = "include 'inc.conf'\n"; // 19 bytes, 1 line
    let twice = "include 'inc.conf'\ninclude 'inc.conf'\n";
    let opts = |l| ConfParseOptions::default().with_limits(l);
    assert!(ConfFile::try_parse_with(once, path, &loader, &opts(limits(31, 3))).is_ok());
    assert_limit(
        ConfFile::try_parse_with(once, path, &loader, &opts(limits(30, 3))),
        InputLimit::Bytes,
        "/d/inc.conf",
    );
    assert_limit(
        ConfFile::try_parse_with(once, path, &loader, &opts(limits(100, 2))),
        InputLimit::Lines,
        "/d/inc.conf",
    );
    assert_limit(
        ConfFile::try_parse_with(twice, path, &loader, &opts(limits(50, 100))),
        InputLimit::Bytes,
        "/d/inc.conf",
    );
    // The top-level file counts too.
    assert_limit(
        ConfFile::try_parse_with(twice, path, &loader, &opts(limits(10, 100))),
        InputLimit::Bytes,
        "/d/postgresql.conf",
    );
    let hba = MemoryLoader::new().with_file("/d/users", "alice,bob\n"); // 10 bytes
    let line = "host all @users,@users all md5\n"; // 31 bytes
    let p = Path::new("/d/pg_hba.conf");
    assert!(HbaFile::try_parse_with(line, p, &hba_options(15, limits(51, 10)), &hba).is_ok());
    assert_limit(
        HbaFile::try_parse_with(line, p, &hba_options(15, limits(50, 10)), &hba),
        InputLimit::Bytes,
        "/d/users",
    );
}

#[test]
fn long_paths_repeated_on_every_entry_count_against_the_limit() {
    // Every setting keeps its file name: a long name on a million short lines would
    // cost far more than the lines themselves.
    let dir = format!("/d/{}", "x/".repeat(2_000));
    let inc = format!("{dir}inc.conf");
    let body = "a=1\n".repeat(100_000); // 400 KB
    let loader = MemoryLoader::new().with_file(&inc, body);
    let top = format!("include '{inc}'\n");
    let opts = ConfParseOptions::default().with_limits(limits(64 << 20, u64::MAX));
    let result = ConfFile::try_parse_with(&top, Path::new("/d/postgresql.conf"), &loader, &opts);
    assert_limit(result, InputLimit::Bytes, &inc);
}

/// Runs `f` on another thread; fails the test instead of hanging when it takes longer
/// than a generous bound.
fn within_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not return within 30 s"))
}

fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

fn assert_not_regular<T: std::fmt::Debug>(result: Result<T, Error>, file: &Path, kind: &str) {
    match result {
        Err(e @ Error::NotRegularFile { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&file.display().to_string()), "{msg}");
            assert!(msg.contains(kind), "{msg}");
        }
        other => panic!(
            "expected {} to be refused as a {kind}, got {other:?}",
            file.display()
        ),
    }
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let fifo = root.join("fifo.conf");
    assert!(mkfifo(&fifo), "mkfifo");
    std::fs::create_dir(root.join("adir")).unwrap();
    let write = |name: &str, text: &str| {
        let p = root.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let zero = Path::new("/dev/zero");
    let cases: Vec<(PathBuf, &Path, &str)> = vec![
        (
            write("zero.conf", "include '/dev/zero'\n"),
            zero,
            "character device",
        ),
        (write("f.conf", "include 'fifo.conf'\n"), &fifo, "FIFO"),
        (
            write("maybe.conf", "include_if_exists 'fifo.conf'\n"),
            &fifo,
            "FIFO",
        ),
        (
            write("d.conf", "include 'adir'\n"),
            Path::new(""),
            "directory",
        ),
    ];
    for (top, bad, kind) in cases {
        let bad = if bad.as_os_str().is_empty() {
            root.join("adir")
        } else {
            bad.to_path_buf()
        };
        let result = within_time("a conf include", move || {
            ConfFile::load_with(&top, &ConfParseOptions::default())
        });
        assert_not_regular(result, &bad, kind);
    }
    for major in [15, 16] {
        let cases: Vec<(PathBuf, PathBuf, &str)> = vec![
            (
                write("z_hba.conf", "host all @/dev/zero all md5\n"),
                zero.to_path_buf(),
                "character device",
            ),
            (
                write("f_hba.conf", "host all @fifo.conf all md5\n"),
                fifo.clone(),
                "FIFO",
            ),
            (
                write("d_hba.conf", "host @adir all all md5\n"),
                root.join("adir"),
                "directory",
            ),
        ];
        let mut cases = cases;
        if major >= 16 {
            cases.push((
                write("i_hba.conf", "include fifo.conf\n"),
                fifo.clone(),
                "FIFO",
            ));
            cases.push((
                write("iz_hba.conf", "include_if_exists /dev/zero\n"),
                zero.to_path_buf(),
                "character device",
            ));
        }
        for (top, bad, kind) in cases {
            let opts = hba_options(major, InputLimits::default());
            let result = within_time("an hba include", move || HbaFile::load_with(&top, &opts));
            assert_not_regular(result, &bad, kind);
        }
    }
    // The file given itself, and a hardening profile.
    let opts = hba_options(15, InputLimits::default());
    let f = fifo.clone();
    assert_not_regular(
        within_time("a FIFO", move || HbaFile::load_with(&f, &opts)),
        &fifo,
        "FIFO",
    );
    let f = fifo.clone();
    assert_not_regular(
        within_time("a FIFO", move || {
            ConfFile::load_with(&f, &ConfParseOptions::default())
        }),
        &fifo,
        "FIFO",
    );
    assert_not_regular(
        read_input_file(zero, &InputLimits::default()),
        zero,
        "character device",
    );
    let f = fifo.clone();
    assert_not_regular(
        within_time("a FIFO", move || {
            read_input_file(&f, &InputLimits::default())
        }),
        &fifo,
        "FIFO",
    );
    assert_not_regular(
        read_input_file(&root, &InputLimits::default()),
        &root,
        "directory",
    );
    // A certificate named by ssl_cert_file: not collected, with the reason.
    let conf = ConfFile::parse(
        &format!(
            "ssl_cert_file = '{}'\nssl_key_file = '/dev/null'\n",
            fifo.display()
        ),
        &root.join("postgresql.conf"),
        &MemoryLoader::new(),
    );
    let r = root.clone();
    let files = within_time("a FIFO certificate", move || {
        ServerTlsFiles::read_from_data_dir(&r, Some(&conf))
    });
    let reason = files.cert.get().unwrap_err();
    assert!(reason.contains("FIFO"), "{reason}");
}

#[test]
fn a_field_longer_than_any_format_width_does_not_panic() {
    let long = "u".repeat(70_000);
    let text = format!(
        "host all {long} 0.0.0.0/0 scram-sha-256\nhost all all all {long}\n\
         host all all 10.0.0.0/8 md5 map={long}\n"
    );
    for major in [15, 16] {
        let version = PgVersion::new(major).unwrap();
        let file = parse_hba(&text, version);
        let rows = file.to_view_rows(version);
        let table = format_view_table(&rows, version);
        assert!(table.contains(&long));
        assert!(
            table.ends_with("(3 rows)\n"),
            "{}",
            &table[table.len() - 20..]
        );
        // Padding stays bounded: a long cell does not widen every row.
        assert!(table.len() < 4 * long.len(), "{}", table.len());
        let report = evaluate(
            &Snapshot::new("x", 0)
                .with_pg_version(version)
                .with_hba(file),
            &Policy::default(),
        );
        for format in [Format::Text, Format::Json, Format::Sarif] {
            assert!(render(&report, format, true).contains(&long));
        }
    }
}
