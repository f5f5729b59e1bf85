use pgsec_testkit::TestServer;
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;

#[tokio::test]
async fn a_trust_line_lets_a_passwordless_login_in() {
    let server = TestServer::builder()
        .ssl(false)
        .hba_lines(["host all all 0.0.0.0/0 trust", "host all all ::/0 trust"])
        .setting("password_encryption", "md5")
        .setting("listen_addresses", "*")
        .app_superuser(true)
        .start()
        .await
        .unwrap();
    assert!(!server.is_hardened());
    let info = server.info();
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&info.host)
        .hostaddr(info.hostaddr)
        .port(info.port)
        .user(&info.app.user)
        .dbname("postgres")
        .ssl_mode(SslMode::Disable);
    let (client, conn) = cfg.connect(NoTls).await.expect("trust login failed");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "select current_setting('ssl'), current_setting('password_encryption'), \
             (select rolsuper from pg_roles where rolname = current_user)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
    assert_eq!(row.get::<_, String>(1), "md5");
    assert!(row.get::<_, bool>(2), "app role is not a superuser");
    // The file says '*', but the server itself listens on loopback only.
    let file_value: String = client
        .query_one(
            "select setting from pg_file_settings where name = 'listen_addresses' \
             order by seqno desc limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(file_value, "*");
    if server.backend() == pgsec_testkit::Backend::Local {
        let live: String = client
            .query_one("show listen_addresses", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(live, "localhost");
    }
}

#[tokio::test]
async fn an_md5_server_stores_md5_passwords() {
    let server = TestServer::builder()
        .setting("password_encryption", "md5")
        .start()
        .await
        .unwrap();
    let admin = server.admin_client().await.unwrap();
    let pw: String = admin
        .query_one(
            "select rolpassword from pg_authid where rolname = $1",
            &[&server.info().app.user],
        )
        .await
        .unwrap()
        .get(0);
    assert!(pw.starts_with("md5"), "app password not stored as md5");
}

#[tokio::test]
async fn a_server_without_pgaudit_reports_it() {
    let server = TestServer::builder().pgaudit(false).start().await.unwrap();
    assert!(!server.has_pgaudit());
    let preload: String = server
        .admin_client()
        .await
        .unwrap()
        .query_one("show shared_preload_libraries", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!preload.contains("pgaudit"));
}
