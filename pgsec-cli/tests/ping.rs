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
    let conninfo = format!(
        "host={} hostaddr={} port={} user={} dbname=postgres sslrootcert={}",
        info.host,
        info.hostaddr,
        info.port,
        info.app.user,
        info.ca_path.display()
    );
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
    let wrong_host = format!(
        "host=db.elsewhere.test hostaddr={} port={} user={} dbname=postgres sslrootcert={}",
        info.hostaddr,
        info.port,
        info.app.user,
        info.ca_path.display()
    );
    let out = ping(&wrong_host, info.app.password()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("valid for localhost, 127.0.0.1, ::1, not db.elsewhere.test"),
        "{stderr}"
    );

    let weak = format!(
        "host={} hostaddr={} port={} user={} dbname=postgres sslmode=require",
        info.host, info.hostaddr, info.port, info.app.user
    );
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
