//! `pgsec harden` output applied to a real server (pgsec-testkit): the conf fragment is
//! included and reloaded, roles.sql and rls.sql run twice, the generated pg_hba.conf
//! replaces the kit's, and a live audit through the generated monitoring role finds
//! nothing at medium or above. Row-Level Security is checked to deny when the tenant
//! setting is unset.

use pgsec_core::harden::{generate, Profile};
use pgsec_core::live::{collect, collect_database, CollectOptions};
use pgsec_core::{evaluate, Policy, Severity};
use pgsec_testkit::{Backend, Credentials, TestServer};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FRAGMENT: &str = "pgsec-hardening.conf";

fn profile(backend: Backend, pgaudit: bool) -> Result<Profile, pgsec_core::Error> {
    // The kit's container is reached through the Docker bridge (samenet) and must
    // listen on its own interface; a local server listens on loopback.
    let (listen, networks) = match backend {
        Backend::Container => (r#"["*"]"#, r#"["samenet"]"#),
        _ => (r#"["localhost"]"#, r#"["127.0.0.1/32", "::1/128"]"#),
    };
    Profile::from_toml(&format!(
        r#"
        name = "test"
        database = "shop"
        listen_addresses = {listen}
        allowed_networks = {networks}
        admin_role = "pgsec_admin"
        admin_local_method = "scram-sha-256"
        pgaudit = {pgaudit}
        tenant_tables = ["orders", "invoices:org_id"]
        [roles]
        app = "shop_app"
        monitoring = "shop_monitor"
        "#
    ))
}

#[tokio::test]
async fn the_generated_configuration_applies_twice_and_audits_clean() -> TestResult {
    let server = TestServer::builder()
        .durable()
        .setting("include_if_exists", FRAGMENT)
        .start()
        .await?;
    let profile = profile(server.backend(), server.has_pgaudit())?;
    let files = generate(&profile);

    // postgresql.conf fragment: the server reads it without a complaint.
    server.write_file(FRAGMENT, &files.postgresql_conf).await?;
    server.reload().await?;
    let admin = server.admin_client().await?;
    let errors = admin
        .query(
            "SELECT name, error FROM pg_file_settings WHERE sourcefile LIKE '%' || $1 AND error IS NOT NULL",
            &[&FRAGMENT],
        )
        .await?;
    assert!(
        errors.is_empty(),
        "{:?}",
        errors
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect::<Vec<_>>()
    );
    let timeout: String = admin
        .query_one("SHOW authentication_timeout", &[])
        .await?
        .get(0);
    assert_eq!(timeout, "30s", "the fragment is in force");

    // roles.sql twice, the migrations (as the schema owner), roles.sql and rls.sql again,
    // rls.sql a second time.
    admin.batch_execute("CREATE DATABASE shop").await?;
    let shop = server.connect("shop", &server.info().admin).await?;
    shop.batch_execute(&files.roles_sql).await?;
    shop.batch_execute(&files.roles_sql).await?;
    shop.batch_execute(
        "SET ROLE app_owner;
         CREATE TABLE app.orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, total numeric);
         CREATE TABLE app.invoices (id int PRIMARY KEY, org_id int NOT NULL);
         CREATE TABLE app.plans (id int PRIMARY KEY, name text);
         RESET ROLE;",
    )
    .await?;
    shop.batch_execute(&files.roles_sql).await?;
    shop.batch_execute(&files.rls_sql).await?;
    shop.batch_execute(&files.rls_sql).await?;
    let policies: i64 = shop
        .query_one(
            "SELECT count(*) FROM pg_policy WHERE polname = 'pgsec_tenant_isolation'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(policies, 2, "one policy per tenant table after two runs");

    // Passwords are set by a person with \password; the test does it as the superuser.
    let app = Credentials::new("shop_app", "app-Secret-1");
    let monitor = Credentials::new("shop_monitor", "monitor-Secret-1");
    for c in [&app, &monitor] {
        let escaped = c.password().replace('\'', "''");
        shop.batch_execute(&format!("ALTER ROLE {} PASSWORD '{escaped}'", c.user))
            .await?;
    }

    // The generated pg_hba.conf replaces the kit's.
    server.write_file("pg_hba.conf", &files.pg_hba_conf).await?;
    shop.batch_execute("SELECT pg_reload_conf()").await?;
    drop(shop);
    drop(admin);
    assert!(
        server.admin_client().await.is_err(),
        "the superuser may no longer connect over the network"
    );

    // The application: tenant isolation, and an unset tenant denies.
    let app_client = server.connect("shop", &app).await?;
    app_client
        .batch_execute(
            "BEGIN;
             SELECT set_config('app.current_tenant_id', '00000000-0000-0000-0000-00000000000a', true);
             INSERT INTO orders (tenant_id, total) VALUES ('00000000-0000-0000-0000-00000000000a', 10);
             COMMIT;",
        )
        .await?;
    let visible_unset: i64 = app_client
        .query_one("SELECT count(*) FROM orders", &[])
        .await?
        .get(0);
    assert_eq!(visible_unset, 0, "no tenant set: no row visible");
    let tx = "BEGIN; SELECT set_config('app.current_tenant_id', '', true);
              INSERT INTO orders (tenant_id, total) VALUES ('00000000-0000-0000-0000-00000000000a', 1); COMMIT;";
    assert!(
        app_client.batch_execute(tx).await.is_err(),
        "an empty tenant may not write"
    );
    app_client.batch_execute("ROLLBACK").await?;
    app_client
        .batch_execute("SELECT set_config('app.current_tenant_id', '00000000-0000-0000-0000-00000000000b', false)")
        .await?;
    let other: i64 = app_client
        .query_one("SELECT count(*) FROM orders", &[])
        .await?
        .get(0);
    app_client
        .batch_execute("SELECT set_config('app.current_tenant_id', '00000000-0000-0000-0000-00000000000a', false)")
        .await?;
    let own: i64 = app_client
        .query_one("SELECT count(*) FROM orders", &[])
        .await?
        .get(0);
    assert_eq!(own, 1, "the tenant sees its row");
    assert_eq!(other, 0, "another tenant sees nothing");
    assert!(
        app_client
            .batch_execute("CREATE TABLE app.x (id int)")
            .await
            .is_err(),
        "no DDL for the app"
    );

    // The audit, through the generated monitoring role, of every database it may reach.
    let monitor_client = server.connect("shop", &monitor).await?;
    let mut collection = collect(&monitor_client, &CollectOptions::default()).await?;
    let others: Vec<String> = collection.other_databases().map(str::to_owned).collect();
    for db in &others {
        let c = server.connect(db, &monitor).await?;
        collection.add_database(collect_database(&c).await?);
    }
    assert!(
        collection.facts().hba.is_present(),
        "the monitoring role reads pg_hba_file_rules"
    );
    assert!(
        collection.facts().settings.is_present(),
        "and every setting"
    );
    let snapshot = collection.into_snapshot("hardened", now());
    let mut policy = Policy::default()
        .with_app_role("shop_app")
        .with_tenant_columns(["tenant_id", "org_id"]);
    let mut suppressed = Vec::new();
    if !server.has_pgaudit() {
        // A local server without the pgaudit library cannot preload it.
        policy = policy.suppress("audit.pgaudit_not_loaded");
        suppressed.push("audit.pgaudit_not_loaded (pgaudit is not installed on this server)");
    }
    let report = evaluate(&snapshot, &policy);
    for f in report.findings() {
        println!("finding {} {}: {}", f.severity(), f.id(), f.evidence());
    }
    for s in report.skipped() {
        println!("skipped {}: {}", s.id, s.reason);
    }
    println!("suppressed: {suppressed:?}");
    let serious: Vec<String> = report
        .findings()
        .iter()
        .filter(|f| f.severity() >= Severity::Medium)
        .map(|f| format!("{} {}: {}", f.severity(), f.id(), f.evidence()))
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
    // The rules ran on the hardened facts rather than skipping.
    for id in [
        "tls.ssl_off",
        "hba.trust_network",
        "hba.superuser_network",
        "rls.disabled",
        "rls.not_forced",
        "priv.app_owns_tables",
    ] {
        assert!(
            !report.is_skipped(id),
            "{id} skipped: {:?}",
            report.skipped()
        );
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
