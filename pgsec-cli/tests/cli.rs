//! `pgsec audit` (file mode) and `pgsec hba lint`, run as the built binary on temp files;
//! `completions`, `man` and `--color` in submodules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// Not `tests/hostile.rs`: that would be a test binary of its own.
#[path = "cli/color.rs"]
mod color;
#[path = "cli/completions.rs"]
mod completions;
#[path = "cli/hostile.rs"]
mod hostile;

fn pgsec(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pgsec")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `pgsec audit --config postgresql.conf --hba pg_hba.conf` and `extra`, in `dir`.
fn audit_files(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "audit",
        "--config",
        "postgresql.conf",
        "--hba",
        "pg_hba.conf",
    ];
    args.extend_from_slice(extra);
    pgsec(&args, dir)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const WEAK_CONF: &str = "listen_addresses = '*'\nssl = off\npassword_encryption = md5\n";
const WEAK_HBA: &str =
    "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all 10.0.0.0/8 md5\n";
const STRONG_CONF: &str = "\
ssl = on
ssl_ciphers = 'HIGH:!MEDIUM:!3DES:!aNULL'
shared_preload_libraries = 'pgaudit'
pgaudit.log = 'ddl, role'
log_connections = on
";
const STRONG_HBA: &str =
    "local all all peer\nhostssl app app 10.1.0.0/24 scram-sha-256\nhost all all all reject\n";

#[test]
fn weak_files_exit_1_with_findings_on_their_lines() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "postgresql.conf", WEAK_CONF);
    write(d.path(), "pg_hba.conf", WEAK_HBA);
    let o = audit_files(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("hba.trust_network"), "{out}");
    assert!(out.contains("at:       pg_hba.conf:2"), "{out}");
    assert!(out.contains("at:       postgresql.conf:2"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when not on a terminal");
}

#[test]
fn strong_files_exit_0() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "postgresql.conf", STRONG_CONF);
    write(d.path(), "pg_hba.conf", STRONG_HBA);
    let o = audit_files(d.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Lower the threshold: the low findings (e.g. log.disconnections) now fail.
    let o = audit_files(d.path(), &["--fail-on", "low"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn fail_on_threshold_decides_the_exit_code() {
    let d = tempfile::tempdir().unwrap();
    // Only md5 over hostssl and no final reject: medium and low findings.
    write(d.path(), "pg_hba.conf", "hostssl app app 10.1.0.0/24 md5\n");
    let o = pgsec(&["audit", "--hba", "pg_hba.conf"], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = pgsec(
        &["audit", "--hba", "pg_hba.conf", "--fail-on", "medium"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let o = pgsec(
        &[
            "audit",
            "--hba",
            "pg_hba.conf",
            "--fail-on",
            "medium",
            "--suppress",
            "hba.md5",
        ],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn json_and_sarif_outputs_parse() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "postgresql.conf", WEAK_CONF);
    write(d.path(), "pg_hba.conf", WEAK_HBA);
    let o = audit_files(d.path(), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "tls.ssl_off" && f["location"]["line"] == 2));
    assert!(v["summary"]["critical"].as_u64().unwrap() >= 2);
    let o = audit_files(d.path(), &["--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "hba.trust_network"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2));
}

#[test]
fn read_and_usage_errors_exit_2_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["audit", "--config", "missing.conf"],
        vec!["audit", "--hba", "missing_hba.conf"],
        vec!["audit"],
        vec!["audit", "--hba", "x", "--fail-on", "severe"],
        vec!["audit", "--hba", "x", "--format", "xml"],
        vec!["audit", "--data-dir", "no-such-dir"],
        vec!["hba", "lint", "missing_hba.conf"],
        vec!["audit", "--hba", "x", "--pg-version", "9"],
        vec!["audit", "--hba", "x", "--pg-version", "19"],
        vec!["hba", "parse", "x", "--pg-version", "19"],
        vec!["hba", "lint", "x", "--pg-version", "12"],
    ] {
        let o = pgsec(&args, d.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.trim().is_empty(), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", stdout(&o));
        if args[0] == "audit" && !args.contains(&"--fail-on") && !args.contains(&"--format") {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
        if args.contains(&"--pg-version") {
            assert!(err.contains("from 13 to 18"), "{args:?}: {err}");
        }
    }
}

#[test]
fn hba_parse_takes_every_supported_major() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "pg_hba.conf",
        "hostssl all all 0.0.0.0/0 scram-sha-256\n",
    );
    for major in ["13", "14", "15", "16", "17", "18"] {
        for cmd in ["parse", "lint"] {
            let o = pgsec(
                &["hba", cmd, "pg_hba.conf", "--pg-version", major],
                d.path(),
            );
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "hba {cmd} --pg-version {major}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn hba_lint_reports_only_hba_findings_with_line_numbers() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "pg_hba.conf",
        "# comment\nhost all all 0.0.0.0/0 trust\nhost all all 10.0.0.0/8 bogus\n",
    );
    let o = pgsec(
        &["hba", "lint", "pg_hba.conf", "--format", "json"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(findings
        .iter()
        .all(|f| f["id"].as_str().unwrap().starts_with("hba.")));
    assert!(findings
        .iter()
        .any(|f| f["id"] == "hba.trust_network" && f["location"]["line"] == 2));
    assert!(findings
        .iter()
        .any(|f| f["id"] == "hba.parse_error" && f["location"]["line"] == 3));
    let skipped = v["skipped"].as_array().unwrap();
    assert!(skipped
        .iter()
        .all(|s| s["id"].as_str().unwrap().starts_with("hba.")));
    let o = pgsec(&["hba", "lint", "pg_hba.conf"], d.path());
    assert!(stdout(&o).contains("pg_hba.conf:2"));
}

#[test]
fn hba_lint_clean_file_exits_0() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "pg_hba.conf", STRONG_HBA);
    let o = pgsec(&["hba", "lint", "pg_hba.conf"], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("No findings."));
}

#[cfg(unix)]
#[test]
fn data_dir_key_permissions_and_auto_conf() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("server.key"), "not really a key").unwrap();
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    // ALTER SYSTEM turned ssl off: postgresql.auto.conf wins over postgresql.conf.
    std::fs::write(data.join("postgresql.auto.conf"), "ssl = 'off'\n").unwrap();
    write(d.path(), "postgresql.conf", "ssl = on\n");
    let o = pgsec(
        &[
            "audit",
            "--config",
            "postgresql.conf",
            "--data-dir",
            "data",
            "--format",
            "json",
        ],
        d.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"tls.key_permissions"), "{ids:?}");
    let ssl = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "tls.ssl_off")
        .unwrap();
    assert!(ssl["location"]["path"]
        .as_str()
        .unwrap()
        .ends_with("postgresql.auto.conf"));
    // No certificate in the data dir: the certificate rules say so.
    assert!(v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == "tls.cert_expiry"
            && s["reason"].as_str().unwrap().contains("server.crt")));
}
