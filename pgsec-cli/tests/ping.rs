//! `pgsec ping` against a hardened testkit server: exit codes and what it prints.

use std::process::Output;

async fn ping(conninfo: &str, password: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(["ping", conninfo])
        .env("PGPASSWORD", password)
        .env("HOME", std::env::temp_dir())
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn verified_connection_is_described_and_exits_0() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let conninfo = info.conninfo_as(&info.app.user, "postgres");
    let out = ping(&conninfo, info.app.password()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("server:       PostgreSQL "), "{stdout}");
    assert!(stdout.contains("tls:          TLSv1."), "{stdout}");
    assert!(
        stdout.contains("SANs    localhost, 127.0.0.1, ::1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "role:         {} (superuser: no, bypassrls: no",
            info.app.user
        )),
        "{stdout}"
    );
    assert!(stdout.contains("findings:     none"), "{stdout}");
    assert!(stdout.contains("verified:     yes"), "{stdout}");
    assert!(!stdout.contains(info.app.password()));
}

#[tokio::test]
async fn refusals_exit_2_with_one_line() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let wrong_host = info
        .conninfo_for(&info.app.user, "postgres")
        .host("db.elsewhere.test")
        .build();
    let out = ping(&wrong_host, info.app.password()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("valid for localhost, 127.0.0.1, ::1, not db.elsewhere.test"),
        "{stderr}"
    );

    let weak = info
        .conninfo_for(&info.app.user, "postgres")
        .without_sslrootcert()
        .option("sslmode", "require")
        .build();
    let out = ping(&weak, info.app.password()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("client.sslmode_weak"), "{stdout}");
    assert!(
        stderr.contains("sslmode=require does not verify the server's identity"),
        "{stderr}"
    );
}

/// `(severity, id, evidence)` of every `client.*` finding `pgsec ping` printed.
fn ping_client_findings(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  ["))
        .filter_map(|l| {
            let (severity, rest) = l.split_once("] ")?;
            let (id, evidence) = rest.split_once(": ")?;
            id.starts_with("client.")
                .then(|| (severity.to_owned(), id.to_owned(), evidence.to_owned()))
        })
        .collect()
}

/// One implementation: for the same connection, `pgsec ping` and `pgsec audit --url`
/// report the same `client.*` findings (pgsec-client gathers the facts, pgsec-core's
/// rules judge them), and the audit decides `client.channel_binding` instead of
/// skipping it.
#[tokio::test]
async fn ping_and_audit_report_the_same_client_findings() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let base = info.conninfo_as(&info.admin.user, "postgres");
    for (extra, expected) in [
        ("", &[][..]),
        ("channel_binding=require", &[][..]),
        ("channel_binding=disable", &["client.channel_binding"][..]),
    ] {
        let conninfo = format!("{base} {extra}");
        let out = ping(&conninfo, info.admin.password()).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{extra}: {stdout}");
        let from_ping = ping_client_findings(&stdout);

        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pgsec"))
            .args(["audit", "--url", &conninfo, "--format", "json"])
            .env("PGPASSWORD", info.admin.password())
            .env("HOME", std::env::temp_dir())
            .output()
            .await
            .unwrap();
        assert_ne!(
            out.status.code(),
            Some(2),
            "{extra}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut from_audit: Vec<(String, String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"].as_str().unwrap().starts_with("client."))
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap().to_owned();
                (s("severity"), s("id"), s("evidence"))
            })
            .collect();
        from_audit.sort();
        let mut sorted_ping = from_ping.clone();
        sorted_ping.sort();
        assert_eq!(sorted_ping, from_audit, "{extra}");
        let ids: Vec<&str> = from_ping.iter().map(|f| f.1.as_str()).collect();
        assert_eq!(ids, expected, "{extra}: {stdout}");
        let skipped: Vec<&str> = report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(
            !skipped.iter().any(|id| id.starts_with("client.")),
            "{extra}: {skipped:?}"
        );
    }
}

/// Roles whose pg_hba.conf line asks for less than SCRAM, and what the server asks them.
const WEAK_ROLES: [(&str, &str, &str); 3] = [
    (
        "pgsec_md5",
        "md5",
        "asked for md5 authentication, which require_auth=scram-sha-256 does not allow",
    ),
    (
        "pgsec_password",
        "password",
        "asked for password authentication, which require_auth=scram-sha-256 does not allow",
    ),
    (
        "pgsec_trust",
        "trust",
        "without authentication (trust), which require_auth=scram-sha-256 does not allow",
    ),
];

/// The done-when: `pgsec ping` with `sslnegotiation=direct` and
/// `require_auth=scram-sha-256` connects to the testkit's server when it runs 17 or
/// later (CI runs this on 17 and 18 through PGSEC_PG_MAJOR), and refuses servers that
/// offer less: hba lines asking md5, a clear-text password or nothing, and (on a major
/// before 17) a server that does not speak direct TLS.
#[tokio::test]
async fn direct_tls_with_scram_only_connects_on_17_and_later_and_refuses_less() {
    let server = pgsec_testkit::TestServer::builder()
        .hba_lines(WEAK_ROLES.map(|(role, method, _)| format!("hostssl all {role} all {method}")))
        .start()
        .await
        .expect("a testkit server (PGSEC_PG_MAJOR picks its major)");
    let major = server.major_version();
    let info = server.info();
    let password = info.app.password();
    let admin = server.admin_client().await.unwrap();
    let quoted = password.replace('\'', "''");
    admin
        .batch_execute(&format!(
            "SET password_encryption = 'md5';
             CREATE ROLE pgsec_md5 LOGIN PASSWORD '{quoted}';
             RESET password_encryption;
             CREATE ROLE pgsec_password LOGIN PASSWORD '{quoted}';
             CREATE ROLE pgsec_trust LOGIN;
             GRANT CONNECT ON DATABASE postgres TO pgsec_md5, pgsec_password, pgsec_trust;"
        ))
        .await
        .unwrap();
    let conninfo = |user: &str| {
        format!(
            "{} sslnegotiation=direct require_auth=scram-sha-256",
            info.conninfo_as(user, "postgres")
        )
    };

    let out = ping(&conninfo(&info.app.user), password).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "ping on {major}, direct + scram-sha-256: exit {:?}\n{stdout}{stderr}",
        out.status.code()
    );
    if major >= 17 {
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!("server:       PostgreSQL {major}.")),
            "{stdout}"
        );
        assert!(
            stdout.contains("auth:         require_auth=scram-sha-256 (enforced)"),
            "{stdout}"
        );
        assert!(stdout.contains("verified:     yes"), "{stdout}");
        assert!(
            stdout.contains(", direct TLS (ALPN postgresql)"),
            "{stdout}"
        );
    } else {
        assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("(sslnegotiation=direct)"), "{stderr}");
        assert!(stderr.contains("only PostgreSQL 17"), "{stderr}");
    }

    for (role, method, refusal) in WEAK_ROLES {
        let out = ping(&conninfo(role), password).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "ping on {major}, hba {method}: exit {:?}\n{stderr}",
            out.status.code()
        );
        assert_eq!(out.status.code(), Some(2), "{method}: {stdout}\n{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        if major >= 17 {
            assert!(stderr.contains(refusal), "{method}: {stderr}");
            assert!(stderr.contains("nothing was sent in answer"), "{stderr}");
        } else {
            assert!(stderr.contains("(sslnegotiation=direct)"), "{stderr}");
        }
        assert!(!stdout.contains(password) && !stderr.contains(password));
    }
}

/// A PostgreSQL 15 server does not speak direct TLS: `pgsec ping` refuses it with the
/// option named and the fix, and connects to it without direct.
#[tokio::test]
async fn direct_tls_to_a_server_before_17_is_refused_with_the_fix() {
    let server = pgsec_testkit::TestServer::builder()
        .major(15)
        .start()
        .await
        .expect("a PostgreSQL 15 server (scripts/build-pg-image.sh 15)");
    assert_eq!(server.major_version(), 15);
    let info = server.info();
    let base = format!(
        "{} require_auth=scram-sha-256",
        info.conninfo_as(&info.app.user, "postgres")
    );
    let out = ping(
        &format!("{base} sslnegotiation=direct"),
        info.app.password(),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr
            .contains("(sslnegotiation=direct): the server did not accept a direct TLS handshake"),
        "{stderr}"
    );
    assert!(
        stderr.contains("use sslnegotiation=postgres")
            || stderr.contains("with sslnegotiation=postgres"),
        "{stderr}"
    );
    let out = ping(&base, info.app.password()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
