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
    let conninfo = format!(
        "host={} hostaddr={} port={} user={} dbname=postgres sslmode=verify-full \
         sslrootcert={} channel_binding=require",
        info.host,
        info.hostaddr,
        info.port,
        info.admin.user,
        info.ca_path.display()
    );
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
    let ids: Vec<_> = details.findings().iter().map(|f| f.rule_id).collect();
    assert_eq!(ids, vec!["client.channel_binding"]);
}
