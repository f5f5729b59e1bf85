//! `pgsec ping` over a Unix-domain socket says who runs the server and whether
//! `requirepeer` checked it; an unchecked socket is never called verified (issue 15).

use std::os::unix::fs::MetadataExt as _;
use std::process::Output;

use pgsec_testkit::{Backend, TestServer};

async fn ping(conninfo: &str, password: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(["ping", conninfo])
        .env_clear()
        .env("PGPASSWORD", password)
        .env("HOME", std::env::temp_dir())
        .output()
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn ping_over_a_socket_reports_the_peer_and_verifies_only_with_requirepeer() {
    let server = TestServer::builder()
        .backend(Backend::Local)
        .start()
        .await
        .expect("a local test server");
    let info = server.info();
    let dir = info
        .socket_dir
        .as_ref()
        .expect("local servers have a socket");
    let socket = dir.join(format!(".s.PGSQL.{}", info.port));
    let uid = std::fs::metadata(&socket).unwrap().uid();
    let base = info
        .socket_conninfo_for(&info.admin.user, "postgres")
        .expect("local servers have a socket")
        .build();
    let password = info.admin.password();

    // Unchecked: described, NOT verified, exit 2 with the fix on one line.
    let out = ping(&base, password).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "transport:    Unix-domain socket {} (no TLS)",
            socket.display()
        )),
        "{stdout}"
    );
    let user = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peer:         server process runs as "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no peer line: {stdout}"))
        .to_owned();
    assert!(
        stdout.contains(&format!(
            "peer:         server process runs as {user} (uid {uid}); NOT verified (set \
             requirepeer={user} if {user} is the account your PostgreSQL server runs as)"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("verified:     yes"), "{stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("the server behind the Unix socket was not verified"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("set requirepeer={user}")),
        "{stderr}"
    );

    // Checked: verified by requirepeer, exit 0.
    let out = ping(
        &format!("{base} requirepeer={user} require_auth=scram-sha-256"),
        password,
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "peer:         server process runs as {user} (uid {uid}); verified by \
             requirepeer={user}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("auth:         require_auth=scram-sha-256 (enforced)"),
        "{stdout}"
    );
    assert!(stdout.contains("verified:     yes"), "{stdout}");

    // Someone else: refused before sending anything, one line naming who is there.
    let out = ping(&format!("{base} requirepeer=nosuchuser_pgsec"), password).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "requirepeer=nosuchuser_pgsec, but the process behind {} runs as {user} (uid {uid})",
            socket.display()
        )),
        "{stderr}"
    );
    assert!(!stdout.contains("verified:     yes"), "{stdout}");
    assert!(!stdout.contains(password) && !stderr.contains(password));
}
