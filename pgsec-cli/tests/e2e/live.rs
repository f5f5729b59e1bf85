//! `pgsec audit --url` and `pgsec harden` end to end: reports from testkit servers,
//! every way a live audit can fail (exit 2, one line, what to try), the Unix-socket path,
//! and the files `pgsec harden` writes.

use std::process::Output;

use pgsec_testkit::{Backend, TestCa, TestServer};
use serde_json::Value;

/// Runs pgsec with a clean environment (no PG* variables of the caller).
async fn pgsec(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgsec"));
    cmd.args(args).env_clear().env("HOME", std::env::temp_dir());
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    cmd.output().await.expect("run pgsec")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A verify-full connection string without the password (it comes from PGPASSWORD).
fn conninfo(server: &TestServer, user: &str, db: &str) -> String {
    server.info().conninfo_as(user, db)
}

/// Exit 2 with exactly one line on stderr, nothing on stdout, the line naming `what`.
fn assert_fails(out: &Output, what: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        text(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "a report was printed: {}",
        text(&out.stdout)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("pgsec: error: "), "{err}");
    println!("{}", err.trim_end());
    for w in what {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
}

#[tokio::test]
async fn a_live_report_in_json_with_every_database() {
    let server = pgsec_testkit::shared().await.unwrap();
    let a = server.fresh_database().await.unwrap();
    let b = server.fresh_database().await.unwrap();
    b.admin_client()
        .await
        .unwrap()
        .batch_execute("CREATE TABLE orders (id int, org_id int)")
        .await
        .unwrap();
    let admin = &server.info().admin;
    let url = conninfo(server, &admin.user, a.name());

    let out = pgsec(
        &[
            "audit",
            "--url",
            &url,
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        Some(admin.password()),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = report["target"].as_str().unwrap();
    assert!(
        target.contains(a.name()) && target.contains("localhost"),
        "{target}"
    );
    assert!(!text(&out.stdout).contains(admin.password()));
    // The audit's own connection is verified: client.sslmode_weak is decided, not skipped.
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        !skipped.contains(&"client.sslmode_weak") && !skipped.contains(&"hba.trust_network"),
        "{skipped:?}"
    );

    let out = pgsec(
        &[
            "audit",
            "--url",
            &url,
            "--all-databases",
            "--tenant-column",
            "org_id",
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        Some(admin.password()),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "rls.disabled is critical: {}",
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let disabled: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "rls.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert!(disabled[0]["evidence"].as_str().unwrap().contains(b.name()));
    assert!(report["target"].as_str().unwrap().contains("more"));
}

#[tokio::test]
async fn the_application_role_audits_itself_with_skips_that_say_why() {
    let server = pgsec_testkit::shared().await.unwrap();
    let db = server.fresh_database().await.unwrap();
    let app = &server.info().app;
    let url = conninfo(server, &app.user, db.name());
    let out = pgsec(&["audit", "--url", &url, "--as-app"], Some(app.password())).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("pg_hba_file_rules"), "{stdout}");
    assert!(stdout.contains("pg_read_all_settings"), "{stdout}");
}

#[tokio::test]
async fn bad_input_exits_2_with_one_line() {
    let server = pgsec_testkit::shared().await.unwrap();
    let admin = &server.info().admin;

    // Wrong password.
    let url = conninfo(server, &admin.user, "postgres");
    let out = pgsec(&["audit", "--url", &url], Some("not-the-password")).await;
    assert_fails(
        &out,
        &[
            "password authentication failed",
            "check the user and password",
        ],
    );

    // A CA that did not sign the server's certificate.
    let other = TestCa::new("some other CA").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.crt");
    std::fs::write(&ca, &other.cert_pem).unwrap();
    let url = server
        .info()
        .conninfo_for(&admin.user, "postgres")
        .sslrootcert(&ca)
        .build();
    let out = pgsec(&["audit", "--url", &url], Some(admin.password())).await;
    assert_fails(&out, &["sslrootcert"]);

    // A role that may not connect to the database.
    let db = server.fresh_database().await.unwrap();
    let c = db.admin_client().await.unwrap();
    c.batch_execute(&format!(
        "REVOKE CONNECT ON DATABASE {0} FROM PUBLIC; CREATE ROLE cli_nobody_{0} LOGIN PASSWORD 'nobody-pw-1'",
        db.name()
    ))
    .await
    .unwrap();
    let url = conninfo(server, &format!("cli_nobody_{}", db.name()), db.name());
    let out = pgsec(&["audit", "--url", &url], Some("nobody-pw-1")).await;
    assert_fails(&out, &["permission denied", "GRANT CONNECT ON DATABASE"]);

    // Not a connection string; and a weak sslmode over TCP.
    let out = pgsec(&["audit", "--url", "host=localhost port=notaport"], None).await;
    assert_fails(&out, &["--url"]);
    let out = pgsec(
        &["audit", "--url", "host=localhost user=x sslmode=require"],
        None,
    )
    .await;
    assert_fails(&out, &["verify-full"]);

    // --url with files is a usage error.
    let out = pgsec(&["audit", "--url", &url, "--hba", "/etc/hosts"], None).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn a_server_that_is_gone() {
    let server = TestServer::builder().start().await.unwrap();
    // The kit removes its CA file with the server: keep a copy.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, &server.info().ca_pem).unwrap();
    let i = server.info();
    let url = i
        .conninfo_for(&i.admin.user, "postgres")
        .sslrootcert(&ca)
        .build();
    let password = i.admin.password().to_owned();
    drop(server);
    let out = pgsec(&["audit", "--url", &url], Some(&password)).await;
    assert_fails(&out, &["could not connect", "is the server running"]);
}

#[tokio::test]
async fn a_server_without_tls_is_refused_over_tcp() {
    let server = TestServer::builder().ssl(false).start().await.unwrap();
    let url = conninfo(&server, &server.info().admin.user, "postgres");
    let out = pgsec(
        &["audit", "--url", &url],
        Some(server.info().admin.password()),
    )
    .await;
    assert_fails(&out, &["TLS"]);
}

#[tokio::test]
async fn a_unix_socket_needs_no_tls() {
    let server = TestServer::builder()
        .backend(Backend::Local)
        .start()
        .await
        .unwrap();
    let i = server.info();
    let url = i
        .socket_conninfo_for(&i.admin.user, "postgres")
        .expect("local servers have a socket")
        .build();
    let out = pgsec(
        &["audit", "--url", &url, "--format", "json"],
        Some(i.admin.password()),
    )
    .await;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["target"].as_str().unwrap().contains(".s.PGSQL."),
        "{}",
        report["target"]
    );
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"client.sslmode_weak"), "{ids:?}");
    assert!(!ids.contains(&"tls.ssl_off"), "{ids:?}");
}

#[tokio::test]
async fn harden_writes_four_files_once() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("hardened");
    let out_s = out_dir.to_str().unwrap();
    let args = [
        "harden",
        "--preset",
        "strict",
        "--out",
        out_s,
        "--tenant-table",
        "orders",
        "--network",
        "10.0.2.0/24",
        "--database",
        "shop",
    ];
    let out = pgsec(&args, None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in [
        "90-pgsec-hardening.conf",
        "pg_hba.conf",
        "roles.sql",
        "rls.sql",
    ] {
        let body = std::fs::read_to_string(out_dir.join(f)).unwrap();
        assert!(body.contains("pgsec harden"), "{f}");
    }
    let hba = std::fs::read_to_string(out_dir.join("pg_hba.conf")).unwrap();
    assert!(hba.lines().any(|l| l.split_whitespace().eq([
        "hostssl",
        "shop",
        "app",
        "10.0.2.0/24",
        "scram-sha-256"
    ])));
    // Existing files are not overwritten without --force.
    let again = pgsec(&args, None).await;
    assert_fails(&again, &["already exists", "--force"]);
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(pgsec(&forced, None).await.status.code(), Some(0));

    // The documented profile format round-trips through --profile.
    let template = pgsec(&["harden", "--print-profile"], None).await;
    assert_eq!(template.status.code(), Some(0));
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, &template.stdout).unwrap();
    let other = dir.path().join("from-profile");
    let from_profile = [
        "harden",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ];
    let out = pgsec(&from_profile, None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A bad profile is one line naming the key.
    std::fs::write(&profile, "allowed_networks = [\"0.0.0.0/0\"]\n").unwrap();
    let out = pgsec(&from_profile, None).await;
    assert_fails(&out, &["allowed_networks", "wider than /16"]);
    let out = pgsec(&["harden", "--out", out_s], None).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a preset or a profile is required"
    );
}
