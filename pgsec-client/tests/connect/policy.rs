//! Fail-closed modes, what a connection reports, and secrets kept out of text.

use pgsec_client::{connect, Config, Error, SslMode};

#[tokio::test]
async fn verified_connection_reports_tls_details() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let config = Config::parse(&server.conninfo("postgres", &info.app)).unwrap();
    let (client, details) = connect(&config).await.unwrap();
    assert!(details.is_verified());
    assert_eq!(details.ssl_mode, SslMode::VerifyFull);
    let tls = details.tls.as_ref().unwrap();
    assert!(tls.identity_verified);
    assert_eq!(tls.server_name, info.host);
    let row = client
        .query_one(
            "select cipher from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    // rustls names the suite by IANA name, OpenSSL by its own: compare the AEAD part.
    let server_cipher: String = row.get(0);
    let aead = |s: &str| s.replace('-', "_").to_uppercase();
    assert!(
        aead(&tls.cipher_suite).contains(&aead(&server_cipher).replace("TLS_", "")),
        "client {} / server {}",
        tls.cipher_suite,
        server_cipher
    );
    let peer = tls.peer_certificate.as_ref().unwrap();
    assert!(peer.facts.dns_sans.contains(&"localhost".to_string()));
    assert!(peer.has_subject_alt_name());
}

#[tokio::test]
async fn require_is_refused_before_any_network_io_and_allowed_only_when_dangerous() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let conninfo = info
        .conninfo_for(&info.app.user, "postgres")
        .password(info.app.password())
        .without_sslrootcert()
        .option("sslmode", "require")
        .build();
    let config = Config::parse(&conninfo).unwrap();
    let e = connect(&config).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::WeakSslMode {
                mode: SslMode::Require
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("use sslmode=verify-full"));

    let (_client, details) = connect(&config.dangerous_allow_unverified_tls())
        .await
        .unwrap();
    assert!(!details.is_verified());
    let ids: Vec<_> = details
        .findings()
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    assert_eq!(ids, vec!["client.sslmode_weak"]);
}

#[tokio::test]
async fn passwords_never_reach_debug_or_error_text() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let wrong = "Wr0ng-But-Secret-Passw0rd";
    let conninfo = info
        .conninfo_for(&info.app.user, "postgres")
        .password(wrong)
        .build();
    let config = Config::parse(&conninfo).unwrap();
    assert!(!format!("{config:?}").contains(wrong));
    let e = connect(&config).await.unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(info.app.password()), "{text}");
    }
    // The right password also stays out of a refused connection's error.
    let refused = Config::parse(
        &info
            .conninfo_for(&info.app.user, "postgres")
            .host("not-in-the-certificate.test")
            .password(info.app.password())
            .build(),
    )
    .unwrap();
    let e = connect(&refused).await.unwrap_err();
    assert!(e.certificate_refusal().is_some(), "{e:?}");
    let source = std::error::Error::source(&e).expect("the refusal is the source");
    assert!(source.is::<pgsec_client::CertificateRefusal>());
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(info.app.password()), "{text}");
    }
}

#[tokio::test]
async fn unix_socket_connects_without_tls() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let Some(dir) = info.socket_dir.clone() else {
        eprintln!("container backend: no Unix socket to test");
        return;
    };
    let config = Config::new()
        .host(dir.display().to_string())
        .port(info.port)
        .user(&info.admin.user)
        .password(info.admin.password())
        .dbname("postgres");
    match connect(&config).await {
        Ok((_client, details)) => {
            assert!(details.unix_socket && details.tls.is_none());
            // Without requirepeer nobody checked who listens on the socket.
            let peer = details
                .peer
                .as_ref()
                .expect("a socket connection knows its peer");
            assert!(peer.uid.is_some() && !peer.is_verified());
            assert!(!details.is_verified());
        }
        // The hardened server's hba may not admit local connections; that is a server
        // refusal, not a client one.
        Err(Error::Connect(e)) => assert!(e.as_db_error().is_some(), "{e}"),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn several_hosts_are_tried_in_order_each_checked_against_its_own_name() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let ca = info.ca_path.display();
    // First host: nothing listens on port 1. Second: a name not in the certificate.
    // Third: the real one.
    let conninfo = format!(
        "host=first.test,wrong.test,{host} hostaddr=127.0.0.1,127.0.0.1,{addr}          port=1,{port},{port} user={user} password={pw} dbname=postgres sslrootcert={ca}",
        host = info.host,
        addr = info.hostaddr,
        port = info.port,
        user = info.app.user,
        pw = info.app.password(),
    );
    let (_client, details) = connect(&Config::parse(&conninfo).unwrap()).await.unwrap();
    assert_eq!(details.tls.unwrap().server_name, info.host);
    // Without the good host, the last error is the refusal of wrong.test.
    let only_bad = format!(
        "host=first.test,wrong.test hostaddr=127.0.0.1,127.0.0.1 port=1,{port} user={user} \
         password={pw} dbname=postgres sslrootcert={ca}",
        port = info.port,
        user = info.app.user,
        pw = info.app.password(),
    );
    let e = connect(&Config::parse(&only_bad).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e.certificate_refusal(), Some(pgsec_client::CertificateRefusal::NameMismatch { expected, .. }) if expected == "wrong.test"),
        "{e:?}"
    );
}
