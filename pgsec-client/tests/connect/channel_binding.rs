//! SCRAM-SHA-256-PLUS: the hardened testkit server offers SCRAM over TLS, hence PLUS.

use pgsec_client::{connect, ChannelBinding, Config, Environment};

use crate::harness::{run_both, Files};

#[tokio::test]
async fn channel_binding_require_succeeds_against_the_hardened_server() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let conninfo = format!(
        "{} channel_binding=require",
        server.conninfo("postgres", &info.app)
    );
    let config = Config::parse(&conninfo).unwrap();
    assert_eq!(config.get_channel_binding(), ChannelBinding::Require);
    let (client, details) = connect(&config).await.expect("SCRAM-SHA-256-PLUS");
    let tls = details.tls.as_ref().unwrap();
    assert!(tls.channel_binding_available);
    assert!(details.findings().is_empty(), "{:?}", details.findings());
    let row = client
        .query_one(
            "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    // What rustls negotiated is what the server saw.
    assert_eq!(row.get::<_, String>(1), tls.protocol_version);
}

#[tokio::test]
async fn psql_agrees_on_channel_binding_require() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let files = Files::new();
    let conninfo = info
        .conninfo_for(&info.admin.user, "postgres")
        .option("sslmode", "verify-full")
        .option("channel_binding", "require")
        .build();
    let v = run_both(server, &files, &conninfo).await;
    assert!(v.psql_ok() && v.pgsec_ok(), "{}", v.describe());
}

#[tokio::test]
async fn channel_binding_disable_is_reported() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let config = Config::parse_with_env(
        &format!(
            "{} channel_binding=disable",
            server.conninfo("postgres", &info.app)
        ),
        &Environment::empty(),
    )
    .unwrap();
    let (_client, details) = connect(&config).await.unwrap();
    let ids: Vec<_> = details
        .findings()
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    assert_eq!(ids, vec!["client.channel_binding"]);
}

/// A server certificate signed with Ed25519 has no `tls-server-end-point` hash (RFC 5929
/// defines none for it), so SCRAM-SHA-256-PLUS is impossible: `channel_binding=require`
/// must refuse rather than silently authenticate without binding.
#[tokio::test]
async fn channel_binding_require_refuses_when_binding_is_impossible() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ed25519 root");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    // The leaf's own key is ECDSA (the server's OpenSSL cannot read rcgen's Ed25519
    // PKCS#8); what matters is the signature on the leaf, made with the CA's Ed25519 key.
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let server = pgsec_testkit::TestServer::builder()
        .server_identity(pgsec_testkit::ServerIdentity {
            ca_pem: ca_cert.pem(),
            cert_chain_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
        .start()
        .await
        .expect("a server with an Ed25519 certificate");
    let info = server.info();
    let files = Files::new();
    // The server's CA file holds the Ed25519 root.
    let base = info
        .conninfo_for(&info.admin.user, "postgres")
        .option("sslmode", "verify-full")
        .build();

    let v = run_both(&server, &files, &format!("{base} channel_binding=require")).await;
    eprintln!("ed25519, channel_binding=require\n{}", v.describe());
    assert!(!v.psql_ok() && !v.pgsec_ok(), "{}", v.describe());
    let msg = pgsec_core::display_chain(v.pgsec.as_ref().unwrap_err());
    assert!(msg.contains("channel binding"), "{msg}");

    // With `prefer`, pgsec-client authenticates with plain SCRAM and reports it.
    let v = run_both(&server, &files, &format!("{base} channel_binding=prefer")).await;
    eprintln!("ed25519, channel_binding=prefer\n{}", v.describe());
    let details = v.pgsec.as_ref().expect("plain SCRAM without binding");
    assert!(!details.tls.as_ref().unwrap().channel_binding_available);
    let ids: Vec<_> = details
        .findings()
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    assert_eq!(ids, vec!["client.channel_binding"]);
}
