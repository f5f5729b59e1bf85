//! Hardening a connection (issue 15): `requirepeer` over Unix sockets, `require_auth`
//! over sockets and TLS, against local testkit servers (the local backend serves the
//! socket), and what an impostor listening on a socket path receives.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use pgsec_client::{connect, AuthMethod, Config, Error, TenantPool};
use pgsec_testkit::{Backend, TestServer, APP_USER};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A key/value string for the socket of `server` as `user` (admin or app).
fn socket_conninfo(server: &TestServer, admin: bool, extra: &str) -> String {
    let info = server.info();
    let creds = if admin { &info.admin } else { &info.app };
    let base = info
        .socket_conninfo_for(&creds.user, "postgres")
        .expect("the local backend serves a Unix socket")
        .password(creds.password())
        .option("connect_timeout", "20")
        .build();
    format!("{base} {extra}")
}

fn socket_path(server: &TestServer) -> PathBuf {
    let info = server.info();
    info.socket_dir
        .as_ref()
        .unwrap()
        .join(format!(".s.PGSQL.{}", info.port))
}

async fn local_server(hba: &[&str]) -> TestServer {
    TestServer::builder()
        .backend(Backend::Local)
        .hba_lines(hba.iter().copied())
        .start()
        .await
        .expect("a local test server (Debian's PostgreSQL, or PG_BIN)")
}

#[tokio::test]
async fn requirepeer_checks_who_runs_the_server_before_anything_is_sent() {
    let server = local_server(&[]).await;
    let socket = socket_path(&server);
    let owner = std::fs::metadata(&socket).unwrap().uid();

    // Unchecked: the peer is known but not verified.
    let config = Config::parse(&socket_conninfo(&server, true, "")).unwrap();
    let (_client, details) = connect(&config).await.unwrap();
    let peer = details.peer.clone().unwrap();
    assert_eq!(peer.socket, socket);
    assert_eq!(peer.uid, Some(owner), "the server process owns its socket");
    let user = peer.user.clone().expect("the server's user has a name");
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        assert_eq!(
            user, "postgres",
            "the kit runs the server as postgres under root"
        );
    }
    assert!(!peer.is_verified() && !details.is_verified());
    assert!(details.findings().is_empty(), "{:?}", details.findings());

    // Checked and matching.
    let config = Config::parse(&socket_conninfo(
        &server,
        true,
        &format!("requirepeer={user}"),
    ))
    .unwrap();
    let (client, details) = connect(&config).await.unwrap();
    assert!(details.is_verified());
    assert_eq!(
        details.peer.unwrap().required.as_deref(),
        Some(user.as_str())
    );
    client.simple_query("select 1").await.unwrap();

    // Checked and not matching: refused, saying who is there and what to set.
    let config = Config::parse(&socket_conninfo(
        &server,
        true,
        "requirepeer=nosuchuser_pgsec",
    ))
    .unwrap();
    let e = connect(&config).await.unwrap_err();
    match &e {
        Error::RequirePeer {
            expected,
            peer_uid,
            peer_user,
            ..
        } => {
            assert_eq!(expected, "nosuchuser_pgsec");
            assert_eq!(*peer_uid, Some(owner));
            assert_eq!(peer_user.as_deref(), Some(user.as_str()));
        }
        other => panic!("{other:?}"),
    }
    let msg = pgsec_core::display_chain(&e);
    assert!(
        msg.contains(&format!("runs as {user} (uid {owner})")),
        "{msg}"
    );
    assert!(msg.contains("nothing was sent"), "{msg}");
    assert!(!msg.contains(server.info().admin.password()), "{msg}");

    // A pool cannot check the peer (tokio-postgres opens its sockets): refused, not ignored.
    let config = Config::parse(&socket_conninfo(
        &server,
        true,
        &format!("requirepeer={user}"),
    ))
    .unwrap();
    let e = TenantPool::builder(&config).build().await.unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported { key, .. } if key == "requirepeer"),
        "{e:?}"
    );
}

#[tokio::test]
async fn require_auth_refuses_what_the_server_asks_for_if_not_allowed() {
    // pgsec_app: trust over the socket, a clear-text password over TCP.
    // pgsec_admin: the kit's SCRAM everywhere.
    let server = local_server(&[
        &format!("local all {APP_USER} trust"),
        &format!("hostssl all {APP_USER} all password"),
    ])
    .await;
    let info = server.info();

    let refused = |e: Error| match e {
        Error::AuthMethodRefused { requested, .. } => requested,
        other => panic!("expected a require_auth refusal, got {other}"),
    };

    // Socket, SCRAM server.
    for ok in [
        "scram-sha-256",
        "!password,!md5",
        "!none",
        "md5,scram-sha-256",
    ] {
        let config = Config::parse(&socket_conninfo(
            &server,
            true,
            &format!("require_auth={ok}"),
        ))
        .unwrap();
        let (client, _) = connect(&config)
            .await
            .unwrap_or_else(|e| panic!("require_auth={ok}: {e}"));
        client.simple_query("select 1").await.unwrap();
    }
    let config = Config::parse(&socket_conninfo(&server, true, "require_auth=none")).unwrap();
    assert_eq!(
        refused(connect(&config).await.unwrap_err()),
        AuthMethod::ScramSha256
    );

    // Socket, trust.
    let config = Config::parse(&socket_conninfo(
        &server,
        false,
        "require_auth=scram-sha-256",
    ))
    .unwrap();
    let e = connect(&config).await.unwrap_err();
    let msg = pgsec_core::display_chain(&e);
    assert!(
        msg.contains(
            "without authentication (trust), which require_auth=scram-sha-256 does not allow"
        ),
        "{msg}"
    );
    assert_eq!(refused(e), AuthMethod::None);
    let config = Config::parse(&socket_conninfo(&server, false, "require_auth=!none")).unwrap();
    assert_eq!(
        refused(connect(&config).await.unwrap_err()),
        AuthMethod::None
    );
    for ok in ["!password", "none"] {
        let config = Config::parse(&socket_conninfo(
            &server,
            false,
            &format!("require_auth={ok}"),
        ))
        .unwrap();
        connect(&config)
            .await
            .unwrap_or_else(|e| panic!("require_auth={ok}: {e}"));
    }

    // TCP inside verify-full TLS, clear-text password asked for.
    let tcp = |extra: &str| {
        Config::parse(&format!(
            "{} connect_timeout=20 {extra}",
            server.conninfo("postgres", &info.app)
        ))
        .unwrap()
    };
    for policy in ["scram-sha-256", "!password", "md5"] {
        let e = connect(&tcp(&format!("require_auth={policy}")))
            .await
            .unwrap_err();
        let msg = pgsec_core::display_chain(&e);
        assert!(
            msg.contains("asked for password authentication"),
            "{policy}: {msg}"
        );
        assert!(!msg.contains(info.app.password()), "{msg}");
        assert_eq!(refused(e), AuthMethod::Password, "{policy}");
    }
    let (_client, details) = connect(&tcp("require_auth=password,scram-sha-256"))
        .await
        .unwrap();
    assert!(details.is_verified());
    // The admin's SCRAM over TCP passes.
    let admin = Config::parse(&format!(
        "{} require_auth=scram-sha-256",
        server.conninfo("postgres", &info.admin)
    ))
    .unwrap();
    connect(&admin).await.unwrap();

    // A pool over TCP enforces it too, and says why in its message.
    let e = TenantPool::builder(&tcp("require_auth=scram-sha-256"))
        .build()
        .await
        .unwrap_err();
    let msg = pgsec_core::display_chain(&e);
    assert!(
        msg.contains(
            "asked for password authentication, which require_auth=scram-sha-256 does not allow"
        ),
        "{msg}"
    );
    assert!(!msg.contains(info.app.password()), "{msg}");
}

/// What a process listening on a socket path (the `/tmp` squatter libpq's requirepeer
/// exists for) receives from the client: it is not PostgreSQL, it is the attacker.
#[tokio::test]
async fn an_impostor_on_the_socket_path_gets_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = 5999;
    let socket = dir.path().join(format!(".s.PGSQL.{port}"));
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let secret = "Zx9-Impostor-Wants-This";
    // The impostor runs as this test's user; requirepeer names someone else.
    let me = std::fs::metadata(&socket).unwrap().uid();
    let other = if me == 0 { "postgres" } else { "root" };

    // Accepts one connection, asks for a clear-text password, returns all it read.
    let impostor = tokio::spawn(async move {
        let mut received = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // The startup message, if any: length-prefixed.
            let mut asked = false;
            loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if !asked && got.len() >= 4 {
                    let len = u32::from_be_bytes([got[0], got[1], got[2], got[3]]) as usize;
                    if got.len() >= len {
                        // AuthenticationCleartextPassword.
                        stream
                            .write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])
                            .await
                            .unwrap();
                        asked = true;
                    }
                }
            }
            received.push(got);
        }
        received
    });

    let base = format!(
        "host={} port={port} user=app password={secret} dbname=app connect_timeout=5",
        dir.path().display()
    );
    // 1. requirepeer: refused before a byte is written.
    let e = connect(&Config::parse(&format!("{base} requirepeer={other}")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RequirePeer { .. }), "{e:?}");
    // 2. require_auth=scram-sha-256: the startup message goes out, the password does not.
    let e = connect(&Config::parse(&format!("{base} require_auth=scram-sha-256")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::AuthMethodRefused {
                requested: AuthMethod::Password,
                ..
            }
        ),
        "{e:?}"
    );

    let received = impostor.await.unwrap();
    assert!(received[0].is_empty(), "requirepeer let bytes through");
    let startup = &received[1];
    let len = u32::from_be_bytes([startup[0], startup[1], startup[2], startup[3]]) as usize;
    assert_eq!(
        startup.len(),
        len,
        "only the startup message, no PasswordMessage"
    );
    assert!(!String::from_utf8_lossy(startup).contains(secret));
}
